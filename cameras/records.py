"""The camera relay's SQLite: which alerts the hub holds open, and each camera's learned scene.

The alert record commits in the same transaction as the outbox message that
raises or clears it (durable first), so after a restart the relay knows what
the hub holds open. The learned scene survives a restart, so a camera turned
while the relay was down is judged against its old view.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from cameras.health import SceneBaseline
from edge.outbox import Priority, enqueue

MIGRATIONS = {"camera": [
    """
    CREATE TABLE camera_alerts (
        camera_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        raised_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (camera_id, verdict)
    );
    CREATE TABLE camera_baselines (
        camera_id TEXT PRIMARY KEY,
        sharpness REAL NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        signature BLOB NOT NULL,
        saved_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
    );
    """
]}

Key = tuple[str, str]  # (camera id, verdict)


def load(conn: sqlite3.Connection) -> tuple[set[Key], dict[str, SceneBaseline]]:
    """The alerts recorded as raised, and the learned scenes."""
    reported = {(r[0], r[1]) for r in conn.execute("SELECT camera_id, verdict FROM camera_alerts")}
    baselines = {}
    for cid, sharpness, h, w, blob in conn.execute(
            "SELECT camera_id, sharpness, height, width, signature FROM camera_baselines"):
        signature = np.frombuffer(blob, np.float32).reshape(h, w).copy()
        signature.flags.writeable = False
        baselines[cid] = SceneBaseline(float(sharpness), signature)
    return reported, baselines


def record_alert(conn: sqlite3.Connection, key: Key, raised: bool, payload: dict[str, Any]) -> None:
    """The alert message and our record of it, in one transaction."""
    enqueue(conn, "alert", payload, Priority.EVENT)
    if raised:
        conn.execute("INSERT OR IGNORE INTO camera_alerts (camera_id, verdict) VALUES (?, ?)", key)
    else:
        forget_alert(conn, key)


def forget_alert(conn: sqlite3.Connection, key: Key) -> None:
    conn.execute("DELETE FROM camera_alerts WHERE camera_id = ? AND verdict = ?", key)


def forget_baseline(conn: sqlite3.Connection, camera_id: str, by: str) -> None:
    """Forget a camera's learned scene (a technician accepted the new view) and tell the hub."""
    conn.execute("DELETE FROM camera_baselines WHERE camera_id = ?", (camera_id,))
    enqueue(conn, "camera.rebaselined", {"camera": camera_id, "by": by}, Priority.EVENT)


def save_baseline(conn: sqlite3.Connection, camera_id: str, baseline: SceneBaseline) -> None:
    h, w = baseline.signature.shape
    conn.execute("INSERT OR REPLACE INTO camera_baselines (camera_id, sharpness, height, width, signature)"
                 " VALUES (?, ?, ?, ?, ?)",
                 (camera_id, baseline.sharpness, h, w, baseline.signature.astype(np.float32).tobytes()))
