"""Viewer tokens: who may look at the cameras, decided by the hub, checked offline by the node.

A token is an envelope sealed with the hub's key (`edge.identity.seal`) around
``{"sub": user, "role": …, "exp": unix seconds, "scope": "cameras", "site": …}``,
carried base64url-encoded so it fits an ``Authorization: Bearer`` header and a
``?token=`` query (for ``<img>`` and ``<video>`` tags, which cannot send
headers). The node checks it against the hub key it pinned at enrollment,
without asking the hub: a camera must stay viewable while the hub is away.

Technicians and administrators look after the cameras, the police liaison
watches them by agreement with the community; nobody else may view them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge.errors import Refusal
from edge.identity import Identity, SignatureError, b64d, b64e, open_sealed, seal

SCOPE = "cameras"
VIEWER_ROLES = frozenset({"technician", "admin", "police"})
#: A token that claims a lifetime longer than this is refused (a leaked token must expire).
MAX_TTL_S = 7 * 86_400


class TokenRefused(Refusal):
    """Why a token does not let its bearer view; `status` is 401 (who are you?) or 403 (not you)."""

    def __init__(self, status: int, code: str, message_uk: str, message_en: str) -> None:
        super().__init__(code, message_uk, message_en, status=status)

    @property
    def message_uk(self) -> str:
        return self.uk


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whom a valid token names."""

    sub: str
    role: str
    exp: float
    site: str | None


def mint_viewer_token(hub_identity: Identity, sub: str, role: str, *, ttl_s: float = 8 * 3600,
                      site: str | None = None, now: float | None = None) -> str:
    """A viewer token sealed by the hub's key (used by the hub, the demo and the tests)."""
    if not sub:
        raise ValueError("a token names its user")
    issued = time.time() if now is None else now
    claims: dict[str, object] = {"sub": sub, "role": role, "exp": int(issued + ttl_s), "scope": SCOPE,
                                 "iat": int(issued)}
    if site:
        claims["site"] = site
    return b64e(seal(hub_identity, claims).encode("utf-8"))


def check_viewer_token(hub_key: str | None, token: str | None, now: float, site: str | None = None) -> Viewer:
    """The viewer a token names, or TokenRefused saying why not.

    `hub_key` is the pinned hub public key (base64); None while the node is
    not enrolled, when no token can be believed. `site` is this node's site:
    a token limited to another site is refused.
    """
    if not token:
        raise TokenRefused(401, "token_required", "Потрібен токен перегляду від хаба.",
                           "A viewer token issued by the hub is required.")
    if not hub_key:
        raise TokenRefused(503, "not_enrolled", "Вузол ще не зареєстровано в хабі: токен нема чим перевірити.",
                           "This node is not enrolled yet: there is no hub key to check the token.")
    try:
        envelope = b64d(token).decode("utf-8")
        claims = open_sealed(hub_key, envelope)
    except (SignatureError, ValueError, UnicodeDecodeError):
        raise TokenRefused(401, "bad_token", "Недійсний токен перегляду.", "Invalid viewer token.") from None
    sub, role, exp = claims.get("sub"), claims.get("role"), claims.get("exp")
    if claims.get("scope") != SCOPE or not isinstance(sub, str) or not isinstance(role, str) or \
            not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenRefused(401, "bad_token", "Токен не для перегляду камер.", "The token is not a camera token.")
    if exp <= now:
        raise TokenRefused(401, "token_expired", "Термін дії токена минув.", "The viewer token has expired.")
    issued = claims.get("iat")
    if exp - (issued if isinstance(issued, (int, float)) else now) > MAX_TTL_S:
        raise TokenRefused(401, "bad_token", "Токен діє задовго.", "The token's lifetime is too long.")
    if role not in VIEWER_ROLES:
        raise TokenRefused(403, "role_not_allowed", f"Роль «{role}» не може переглядати камери.",
                           f"Role '{role}' may not view cameras.")
    token_site = claims.get("site")
    if token_site is not None and site is not None and token_site != site:
        raise TokenRefused(403, "other_site", "Токен видано для іншого об’єкта.",
                           "The token was issued for another site.")
    return Viewer(sub=sub, role=role, exp=float(exp), site=token_site if isinstance(token_site, str) else None)
