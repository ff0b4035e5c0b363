"""QR codes (segno, pure Python) for enrollment codes and ticket links."""

from __future__ import annotations

import io

import segno


def qr_terminal(text: str) -> str:
    """The QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def qr_svg(text: str, scale: int = 4) -> str:
    """The QR code as an SVG document, for a web page."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=scale, border=2)
    return out.getvalue().decode("utf-8")
