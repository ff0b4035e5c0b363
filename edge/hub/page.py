"""The hub's simple node page (the technicians' dashboard replaces it later)."""

from __future__ import annotations

from importlib import resources


def index_page() -> str:
    return resources.files("edge.hub").joinpath("static/index.html").read_text(encoding="utf-8")
