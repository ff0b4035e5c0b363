"""The `kiosk` role's service: the ЦНАП's self-service touch kiosk, a client of the queue with a ticket printer.

The asyncio side keeps one sealed WebSocket to the queue (:class:`edge.peers.PeerClient`
at :data:`kiosk.protocol.KIOSK_PATH`), the :class:`~kiosk.terminal.model.KioskFlow`
(what is on screen and why), the ticket printer and the alerts. Drawing and
touches live in :class:`~kiosk.terminal.screen.KioskScreen` (its own thread);
the printer is a :class:`~kiosk.terminal.hardware.TicketPrinter` (real or
simulated, as :mod:`kiosk.terminal.role` chose it), whose blocking I/O runs
on its own worker.

A ticket is printed only after the queue answered ``issued`` (committed).
Before each job the printer is asked with DLE EOT; when it cannot print, the
number is shown large, the visitor is told, and technicians get an alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from edge.identity import Identity
from edge.outbox import Priority
from edge.peers import KeyLookup, PeerClient
from edge.tasks import cancel_and_wait
from kiosk.terminal.escpos import PROFILES, TicketSlip
from kiosk.terminal.model import KioskFlow, Screen
from kiosk.terminal.screen import KioskScreen, KioskVoice
from kiosk.terminal.screens import Panel
from kiosk.terminal.hardware import PrinterState, PrintResult, TicketPrinter
from kiosk.terminal.settings import ROLE, KioskSettings
from kiosk.protocol import KIOSK_PATH

log = logging.getLogger("hromada.kiosk")

TICK_S = 0.2


def ticket_slip(issued: dict[str, Any], menu: dict[str, Any] | None, now: datetime) -> TicketSlip:
    """The paper ticket of the queue's ``issued`` answer."""
    ticket, estimate = issued.get("ticket") or {}, issued.get("estimate") or {}
    return TicketSlip(community=str((menu or {}).get("community") or ""), centre=str((menu or {}).get("cnap") or "ЦНАП"),
                      number=str(ticket.get("label", "")), service=str(ticket.get("service_title", "")),
                      issued_at=now, people_ahead=int(estimate.get("people_ahead") or 0),
                      status_url=str(issued.get("status_url", "")))


class Kiosk:
    """The role: the queue link, the flow, the printer, the screen and voice threads, alerts.

    Composed by :func:`kiosk.terminal.role.create`, which gives it its
    printer and voice (real or simulated) and, in the demo, the ``scenario``
    started with it (``scenario(kiosk)``, a coroutine that runs until stopped).
    """

    name = ROLE

    def __init__(self, identity: Identity, settings: KioskSettings, url_of: Callable[[], Awaitable[str]],
                 key_of: KeyLookup, outbox: Any, node_name: str, printer: TicketPrinter,
                 voice: KioskVoice | None, scenario: Callable[[Kiosk], Awaitable[None]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.outbox, self.node_name, self.clock = settings, outbox, node_name, clock
        self.flow = KioskFlow(idle_s=settings.idle_s, warning_s=settings.idle_warning_s,
                              rating_only=settings.mode == "rating", window=settings.window or None)
        self.panel = Panel(settings.width, settings.height, settings.panel_width_mm, settings.panel_height_mm)
        self.printer = printer
        self.profile = PROFILES[settings.printer_profile]
        self.sim_printer: Any = None  # kiosk.terminal.sim_printer.SimulatedPrinter behind a simulated printer
        self.voice = voice
        self.scenario = scenario
        png_dir = Path(settings.png_dir) if settings.png_dir else None
        self.screen = KioskScreen(self.panel, settings.fullscreen, png_dir, self._from_screen, self.voice, clock)
        self.client = PeerClient(identity, KIOSK_PATH, url_of, key_of, self._on_message, self._on_state)
        self.started = clock()
        self.alerts: dict[str, str] = {}  # key → "raised" | "cleared", as last sent
        self.printed: list[PrintResult] = []
        self.touch_times: dict[str, float] = {}
        self._offline_since: float | None = clock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._shown = -1

    # --- lifecycle ---

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.printer.start()
        if self.voice is not None:
            self.voice.start()
        self.screen.start()
        await asyncio.to_thread(self.screen.ready.wait, 10)
        self._push(force=True)
        self._tasks = [asyncio.create_task(self.client.run(), name="kiosk-link"),
                       asyncio.create_task(self._ticker(), name="kiosk-clock"),
                       asyncio.create_task(self._first_status(), name="kiosk-printer-status")]
        if self.scenario is not None:
            self._tasks.append(asyncio.create_task(self.scenario(self)))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self.screen.close()
        if self.voice is not None:
            self.voice.close()
        await asyncio.to_thread(self.screen.join, 5.0)
        self.printer.close()

    def health(self) -> dict[str, Any]:
        state = self.printer.last_state
        return {"connected": self.flow.connected, "queue": self.client.peer_id, "screen": self.flow.screen.value,
                "printer": state.value, "paper": {PrinterState.OK: "ok", PrinterState.PAPER_NEAR_END: "near_end",
                                                  PrinterState.PAPER_OUT: "out"}.get(state, "unknown"),
                "seconds_since_touch": round(self.clock() - self.flow.last_touch, 1) if self.flow.last_touch else None,
                "tickets_issued": self.flow.tickets_issued, "uptime_s": round(self.clock() - self.started, 1),
                "speech": self.flow.speech, "frames": self.screen.frames, "window": self.screen.window,
                "alerts": sorted(k for k, v in self.alerts.items() if v == "raised"),
                "last_error": self.screen.last_error or (self.voice.error if self.voice else "")}

    # --- the screen thread's taps ---

    def _from_screen(self, action: str) -> None:
        """Called on the screen thread: hand the tap to the event loop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.on_action, action)

    def on_action(self, action: str) -> None:
        request = self.flow.tap(action, self.clock())
        if request is not None:
            if request.message["type"] == "issue":
                self.touch_times[request.id] = time.perf_counter()
            self._spawn(self._send(request.message))
        self._push()

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self.client.send(message)
        except ConnectionError:
            log.warning("queue unreachable: %s not sent", message.get("type"))
            self.flow.link(False, self.clock())
            self._push()

    # --- the queue ---

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") == "menu":
            self.flow.set_menu(message)
        elif self.flow.answer(message, self.clock()):
            self._spawn(self._print(message))
        self._push()

    def _on_state(self, up: bool) -> None:
        self.flow.link(up, self.clock())
        self._offline_since = None if up else (self._offline_since or self.clock())
        if up:
            self._spawn(self._alert("queue", None))
        self._push()

    # --- printing ---

    async def _first_status(self) -> None:
        state = await self.printer.status_async()
        await self._printer_alerts(state)

    async def _print(self, issued: dict[str, Any]) -> None:
        slip = ticket_slip(issued, self.flow.menu, datetime.now())
        result = await self.printer.print_ticket_async(slip)
        self.printed.append(result)
        label = (issued.get("ticket") or {}).get("label", "")
        if result.printed:
            self.flow.printed(True, "", "")
        else:
            state = result.state
            uk = f"{state.uk}. Запам’ятайте номер {label} і зачекайте на виклик."
            en = f"{state.en}. Remember number {label} and wait to be called."
            self.flow.printed(False, uk, en)
            log.warning("ticket %s not printed: %s (%s)", label, result.outcome, result.detail)
        self._push()
        await self._printer_alerts(result.state, result)

    async def _printer_alerts(self, state: PrinterState, result: PrintResult | None = None) -> None:
        if state is PrinterState.PAPER_NEAR_END:
            await self._alert("printer-paper", ("warning", f"Кіоск «{self.node_name}»: папір у принтері закінчується",
                                                f"Kiosk '{self.node_name}': printer paper is running low"))
        elif state is PrinterState.OK:
            await self._alert("printer-paper", None)
        if state.can_print and (result is None or result.printed):
            await self._alert("printer", None)
        elif not state.can_print or (result is not None and not result.printed):
            detail = f" ({result.outcome.value})" if result is not None else ""
            await self._alert("printer", ("critical", f"Кіоск «{self.node_name}»: {state.uk}{detail}; талони "
                                          "показуються лише на екрані",
                                          f"Kiosk '{self.node_name}': {state.en}{detail}; tickets are shown on "
                                          "screen only"))

    # --- alerts, clock ---

    async def _alert(self, what: str, raised: tuple[str, str, str] | None) -> None:
        """Raise (severity, message, message_en) or clear (None) the alert ``what``, once per change."""
        key = f"kiosk:{self.node_name}:{what}"
        state = "cleared" if raised is None else "raised"
        if self.alerts.get(key, "cleared") == state:
            return
        self.alerts[key] = state
        payload: dict[str, Any] = {"key": key, "state": state}
        if raised is not None:
            payload.update(severity=raised[0], message=raised[1], message_en=raised[2])
        await self.outbox.put("alert", payload, Priority.CRITICAL)

    async def _ticker(self) -> None:
        last_warning_left: int | None = None
        while True:
            now = self.clock()
            self.flow.tick(now)
            left = self.flow.warning_left(now)
            self._push(force=left != last_warning_left)
            last_warning_left = left
            if self._offline_since is not None and now - self._offline_since >= self.settings.queue_alert_s:
                await self._alert("queue", ("critical", f"Кіоск «{self.node_name}»: немає зв’язку з чергою, талони "
                                            "не видаються", f"Kiosk '{self.node_name}': no connection to the "
                                            "queue; no tickets are issued"))
            await asyncio.sleep(TICK_S)

    def _spawn(self, work: Any) -> None:
        """Run ``work`` beside the event handlers; finished tasks are let go (a kiosk runs for months)."""
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(work))

    def _push(self, force: bool = False) -> None:
        if force or self.flow.changes != self._shown:
            self._shown = self.flow.changes
            self.screen.show(self.flow)


__all__ = ["Kiosk", "KioskSettings", "ticket_slip", "Screen"]
