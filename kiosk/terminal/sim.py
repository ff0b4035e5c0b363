"""Touches for the kiosk without a finger: injected pygame events, and the demo's visitor.

:class:`TouchInjector` posts into the kiosk screen's own SDL event queue what
a touch panel produces for one tap: ``FINGERDOWN``/``FINGERUP`` (normalised
coordinates) *and* the synthesized ``MOUSEBUTTONDOWN``/``MOUSEBUTTONUP``
with ``touch=True``, so the tests exercise the rule that a tap counts once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Protocol

from kiosk.terminal.model import KioskFlow, Screen
from kiosk.terminal.screen import KioskScreen

log = logging.getLogger("hromada.kiosk.sim")


class VisitedKiosk(Protocol):
    """What a simulated visitor needs of a kiosk (``kiosk.terminal.service.Kiosk`` is one)."""

    screen: KioskScreen
    flow: KioskFlow

    def clock(self) -> float: ...

    def on_action(self, action: str) -> None: ...


class TouchInjector:
    """Taps and long presses on the kiosk screen, as a touch panel reports them."""

    def __init__(self, screen: KioskScreen) -> None:
        self.screen = screen

    def _post(self, kind: str, pos: tuple[int, int], finger: int = 0) -> None:
        import pygame

        w, h = self.screen.panel.width_px, self.screen.panel.height_px
        finger_type = pygame.FINGERDOWN if kind == "down" else pygame.FINGERUP
        mouse_type = pygame.MOUSEBUTTONDOWN if kind == "down" else pygame.MOUSEBUTTONUP
        pygame.event.post(pygame.event.Event(finger_type, touch_id=1, finger_id=finger, x=pos[0] / w, y=pos[1] / h,
                                             dx=0.0, dy=0.0, pressure=1.0))
        pygame.event.post(pygame.event.Event(mouse_type, pos=pos, button=1, touch=True, window=None))

    def press(self, pos: tuple[int, int]) -> None:
        self._post("down", pos)

    def release(self, pos: tuple[int, int]) -> None:
        self._post("up", pos)

    def tap(self, pos: tuple[int, int]) -> None:
        self.press(pos)
        self.release(pos)

    def where(self, action: str) -> tuple[int, int]:
        """The centre of the button with this action on the screen as last drawn."""
        layout = self.screen.last_layout
        if layout is None:
            raise LookupError("nothing drawn yet")
        for b in layout.buttons:
            if b.action == action:
                return b.rect.center
        raise LookupError(f"no button {action!r} on {layout.screen}: {[b.action for b in layout.buttons]}")

    def tap_button(self, action: str) -> tuple[int, int]:
        pos = self.where(action)
        self.tap(pos)
        return pos

    async def long_press(self, pos: tuple[int, int], seconds: float) -> None:
        self.press(pos)
        await asyncio.sleep(seconds)
        self.release(pos)


async def wait_screen(kiosk: VisitedKiosk, screen: Screen | str, timeout: float = 10.0) -> None:
    """Until the screen thread has drawn ``screen`` (and the flow is still on it)."""
    deadline = time.monotonic() + timeout
    while True:
        layout = kiosk.screen.last_layout
        if layout is not None and layout.screen == str(screen) and kiosk.screen.drawn_changes == kiosk.flow.changes:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"screen {screen} not shown (showing {layout.screen if layout else None})")
        await asyncio.sleep(0.01)


async def take_ticket(kiosk: VisitedKiosk, touch: TouchInjector, service: str | None = None,
                      settle_s: float = 0.65) -> str:
    """Walk the screens as a visitor does: take → group → service. Returns the service chosen."""
    from kiosk.terminal.model import DEBOUNCE_S

    await wait_screen(kiosk, Screen.START)
    await asyncio.sleep(max(settle_s, DEBOUNCE_S) - (kiosk.clock() - kiosk.flow.screen_since))
    touch.tap_button("take")
    await wait_screen(kiosk, Screen.GROUPS)
    groups = kiosk.flow.groups()
    group = next((g for g in groups if any(s["id"] == service for s in g.get("services", []))), None) \
        if service else random.choice([g for g in groups if any(s.get("open", True) for s in g["services"])])
    assert group is not None, f"no group serves {service}"
    await asyncio.sleep(settle_s)
    touch.tap_button(f"group:{group['id']}")
    await wait_screen(kiosk, Screen.SERVICES)
    chosen = service or random.choice([s["id"] for s in group["services"] if s.get("open", True)])
    await asyncio.sleep(settle_s)
    touch.tap_button(f"service:{chosen}")
    return chosen


async def demo_visitor(kiosk: VisitedKiosk, every_s: float) -> None:
    """The demo: a visitor takes a ticket every ``every_s`` seconds, through the screen like anyone."""
    touch = TouchInjector(kiosk.screen)
    while True:
        await asyncio.sleep(every_s)
        try:
            if kiosk.flow.screen is not Screen.START:
                kiosk.on_action("home")
            await take_ticket(kiosk, touch)
            await wait_screen(kiosk, Screen.TICKET)
            await asyncio.sleep(3)
            touch.tap_button("done")
        except (TimeoutError, LookupError, AssertionError, IndexError) as exc:
            log.info("demo visitor: %s", exc)
