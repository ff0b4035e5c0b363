"""Refusals: bad input from a device, a peer, a file or a person, refused with nothing changed.

Every role refuses the same way. A :class:`Refusal` carries a stable machine
``code`` (part of the API: consoles, kiosks and scripts act on it), the text a
person reads in Ukrainian (``uk``) and in English (``en``), the HTTP ``status``
it maps to, and the ``details`` the texts were made from (so a client can
render its own words).

A role keeps its texts in one :class:`Catalogue` (code → Ukrainian, English,
status) and refuses with ``CATALOGUE.refuse(code, **details)``. Over HTTP and
over a WebSocket a refusal has one JSON shape, :meth:`Refusal.to_dict`,
inside ``{"error": …}`` for HTTP bodies::

    {"error": {"code": "quorum", "message": "…", "message_en": "…", "details": {…}}}
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Mapping


class Refusal(Exception):
    """Input refused; nothing was changed.

    ``code`` is stable for machines; ``uk`` and ``en`` are for people; ``status``
    is the HTTP status the refusal answers with; ``details`` are the values the
    texts were made from.
    """

    def __init__(self, code: str, uk: str, en: str = "", *, status: int = 400,
                 details: Mapping[str, Any] | None = None) -> None:
        self.code = code.value if isinstance(code, enum.Enum) else str(code)
        self.uk = uk
        self.en = en or uk
        self.status = status
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(uk)

    # The names the roles' clients have always read.
    @property
    def message(self) -> str:
        return self.uk

    @property
    def message_en(self) -> str:
        return self.en

    def to_dict(self) -> dict[str, Any]:
        """The one JSON form of a refusal: in an HTTP error body, a WebSocket message, a log line."""
        return {"code": self.code, "message": self.uk, "message_en": self.en, "details": _jsonable(self.details)}

    def body(self) -> bytes:
        """The HTTP error body: ``{"error": to_dict()}``."""
        return json.dumps({"error": self.to_dict()}, ensure_ascii=False).encode("utf-8")

    def __repr__(self) -> str:
        return f"Refusal({self.code!r}, {self.uk!r})"


@dataclass(frozen=True, slots=True)
class Text:
    """The words of one refusal code; ``{name}`` fields are filled from the details."""

    uk: str
    en: str
    status: int = 400


class Catalogue:
    """One role's refusal codes and their texts.

    ``entries`` maps a code (a string or a ``StrEnum`` member) to a
    :class:`Text` or a ``(uk, en)`` / ``(uk, en, status)`` tuple.
    """

    def __init__(self, entries: Mapping[Any, Text | tuple[Any, ...]]) -> None:
        self._texts: dict[str, Text] = {}
        for code, text in entries.items():
            key = code.value if isinstance(code, enum.Enum) else str(code)
            self._texts[key] = text if isinstance(text, Text) else Text(*text)

    def __contains__(self, code: object) -> bool:
        key = code.value if isinstance(code, enum.Enum) else code
        return key in self._texts

    def codes(self) -> list[str]:
        return list(self._texts)

    def text(self, code: Any) -> Text:
        key = code.value if isinstance(code, enum.Enum) else str(code)
        return self._texts[key]

    def refuse(self, code: Any, /, *, status: int | None = None, **details: Any) -> Refusal:
        """The refusal for ``code``, its texts filled from ``details`` (raise it)."""
        text = self.text(code)
        return Refusal(code, text.uk.format(**details), text.en.format(**details),
                       status=text.status if status is None else status, details=details)


def _jsonable(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details as plain JSON values, however deep: an enum by its value, anything else unknown as text."""
    def plain(value: Any) -> Any:
        return value.value if isinstance(value, enum.Enum) else str(value)
    return json.loads(json.dumps(dict(details), ensure_ascii=False, default=plain))
