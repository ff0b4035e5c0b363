"""The hub's API described as OpenAPI 3.1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

_SIGNED = [{"nodeSignature": []}]

_ERROR = {"description": "Refused; nothing stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, signed: bool = True, body: str | None = None, ok: str = "OK") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": ok}}}
    if signed:
        op["security"] = _SIGNED
        for code in ("400", "401", "403", "413", "415"):
            op["responses"][code] = _ERROR
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    return op


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hromada-edge hub API",
            "version": version,
            "description": (
                "Nodes sign every request with their Ed25519 key: headers X-Hromada-Node, X-Hromada-Time "
                "(Unix seconds), X-Hromada-Nonce (16-64 chars, single use) and X-Hromada-Signature "
                "(base64url Ed25519 over 'HROMADA-SIG-1\\nMETHOD\\npath?query\\ntime\\nnonce\\nsha256(body) hex\\nnode id'). "
                "The hub signs its answers (X-Hromada-Hub-Time, X-Hromada-Hub-Signature over the request nonce, "
                "status, time and body hash)."
            ),
        },
        "paths": {
            "/api/v1/enroll": {"post": _op("Enroll a node with a one-time code (signed by the key being enrolled)",
                                           body="EnrollRequest", ok="Status: pending or approved; the hub key to pin")},
            "/api/v1/heartbeat": {"post": _op("Report health; answers the hub time and heartbeat interval", body="Heartbeat")},
            "/api/v1/ingest": {"post": _op("Deliver a batch of outbox messages; stored once per (node, msg_id)",
                                           body="Batch", ok="Counts stored, duplicates, rejected ids with reasons")},
            "/api/v1/ws": {"get": _op("WebSocket: signed hub messages (hello, roster, command); node replies")},
            "/api/v1/nodes": {"get": _op("Enrolled and discovered nodes", signed=False)},
            "/api/v1/alerts": {"get": _op("Open alerts", signed=False)},
            "/api/v1/time": {"get": _op("The hub's clock", signed=False)},
            "/health": {"get": _op("Liveness of the hub and its database", signed=False)},
            "/metrics": {"get": _op("Prometheus text", signed=False)},
        },
        "components": {
            "securitySchemes": {"nodeSignature": {"type": "apiKey", "in": "header", "name": "X-Hromada-Signature"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "EnrollRequest": {"type": "object", "required": ["node_id", "public_key", "token_id", "proof", "name", "roles", "version"],
                                  "properties": {
                                      "node_id": {"type": "string"}, "public_key": {"type": "string"},
                                      "token_id": {"type": "string"},
                                      "proof": {"type": "string", "description": "HMAC-SHA256(secret, public_key) hex"},
                                      "name": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}},
                                      "version": {"type": "string"}, "port": {"type": "integer"}}},
                "Heartbeat": {"type": "object", "properties": {"health": {"type": "object"}, "port": {"type": "integer"}}},
                "Message": {"type": "object", "required": ["msg_id", "kind", "priority", "created_at", "payload"],
                            "properties": {"msg_id": {"type": "string", "format": "uuid"},
                                           "kind": {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{0,63}$"},
                                           "priority": {"type": "integer", "enum": [0, 1, 2]},
                                           "created_at": {"type": "string", "format": "date-time"},
                                           "payload": {"type": "object"}}},
                "Batch": {"type": "object", "required": ["messages"],
                          "properties": {"messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}}},
            },
        },
    }
