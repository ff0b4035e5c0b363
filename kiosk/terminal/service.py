"""The `kiosk` role: the ЦНАП's self-service touch kiosk, a client of the queue with a ticket printer.

The asyncio side keeps one sealed WebSocket to the queue (:class:`edge.peers.PeerClient`
at :data:`kiosk.protocol.KIOSK_PATH`), the :class:`~kiosk.terminal.model.KioskFlow`
(what is on screen and why), the ticket printer and the alerts. Drawing and
touches live in :class:`~kiosk.terminal.screen.KioskScreen` (its own thread);
the printer's blocking I/O in :class:`~kiosk.terminal.hardware.TicketPrinter`'s worker.

A ticket is printed only after the queue answered ``issued`` (committed).
Before each job the printer is asked with DLE EOT; when it cannot print, the
number is shown large, the visitor is told, and technicians get an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from edge.config import at_least, ConfigError, build_section, http_url, one_of, option, positive
from edge.discovery import peer_url
from edge.identity import Identity
from edge.outbox import Priority
from edge.peers import KeyLookup, PeerClient, roster_lookup
from kiosk.terminal.escpos import PROFILES, TicketSlip
from kiosk.terminal.model import KioskFlow, Screen
from kiosk.terminal.screen import KioskScreen, KioskVoice
from kiosk.terminal.screens import Panel
from kiosk.terminal.hardware import PrinterState, PrintResult, TicketPrinter
from kiosk.protocol import KIOSK_PATH
from kiosk.terminal.sim_printer import SimulatedPrinter
from kiosk.voice import ClipLibrary, FileOnly, SoundCard

log = logging.getLogger("hromada.kiosk")

ROLE = "kiosk"
TICK_S = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class KioskSettings:
    """`[roles.kiosk]`: the self-service touch kiosk with its ticket printer."""

    queue_url: str = option("", "Base URL of the queue node. Empty: find it by mDNS (a node with role `queue` "
                            "in this site's roster).", http_url)
    printer: str = option("sim", "The ticket printer: a pyserial URL or device path (`/dev/ttyUSB0`), or `sim` "
                          "to start the simulated printer in this process (demo, tests).")
    printer_profile: str = option("epson-80-cp1251", "Printer profile (code page and its ESC t number): "
                                  + ", ".join(PROFILES) + ".", one_of(*PROFILES))
    printer_baudrate: int = option(19200, "Serial speed of the printer.", positive)
    write_timeout_s: float = option(3.0, "Longest a write to the printer may block; a stalled printer costs "
                                    "this much, never a frozen screen.", positive)
    width: int = option(1920, "Panel width in pixels.", at_least(320, "pixels"))
    height: int = option(1080, "Panel height in pixels.", at_least(240, "pixels"))
    panel_width_mm: float = option(344.0, "Visible panel width in millimetres (15.6″ 16:9: 344). With the "
                                   "pixels it gives the px per mm that makes every button ≥ 20 mm.", positive)
    panel_height_mm: float = option(194.0, "Visible panel height in millimetres (15.6″ 16:9: 194).", positive)
    fullscreen: bool = option(True, "Fill the whole display; `false` opens a window (the demo).")
    idle_s: float = option(60.0, "Seconds without a touch before the «are you still here?» warning.", positive)
    idle_warning_s: float = option(20.0, "Seconds the warning gives to ask for more time before returning to "
                                   "the start screen (at least 20).", at_least(20, "seconds"))
    queue_alert_s: float = option(20.0, "Seconds without the queue before technicians get an alert.", positive)
    mode: str = option("tickets", "`tickets`: the full kiosk; `rating`: a rating terminal beside one window "
                       "(the start screen is the five faces).", one_of("tickets", "rating"))
    window: int = option(0, "For `mode = \"rating\"`: the window number sent with each rating (0: none).")
    png_dir: str = option("", "Directory for a PNG of each screen as last shown (`<screen>.png`, `current.png`). "
                          "Empty: none.")
    audio: str = option("auto", "Speech mode output: `auto` (the sound card through `aplay` when there is one, "
                        "else WAV files only), `device`, `file`, `off`.", one_of("auto", "device", "file", "off"))
    wav_dir: str = option("", "Directory for `last-speech.wav`. Empty: `<state_dir>/speech` when speech goes to "
                          "files only.")
    voice_dir: str = option("", "Cache of phrase clips made with espeak-ng (voice `uk`). Empty: "
                            "`<state_dir>/voice`.")
    scenario: str = option("", "`demo`: a simulated visitor takes a ticket every `scenario_every_s` seconds.",
                           one_of("", "demo"))
    scenario_every_s: float = option(15.0, "Seconds between the demo visitor's tickets.", positive)


def load_settings(table: dict[str, Any], path: str) -> KioskSettings:
    return build_section(KioskSettings, table, path, f"roles.{ROLE}")


def ticket_slip(issued: dict[str, Any], menu: dict[str, Any] | None, now: datetime) -> TicketSlip:
    """The paper ticket of the queue's ``issued`` answer."""
    ticket, estimate = issued.get("ticket") or {}, issued.get("estimate") or {}
    return TicketSlip(community=str((menu or {}).get("community") or ""), centre=str((menu or {}).get("cnap") or "ЦНАП"),
                      number=str(ticket.get("label", "")), service=str(ticket.get("service_title", "")),
                      issued_at=now, people_ahead=int(estimate.get("people_ahead") or 0),
                      status_url=str(issued.get("status_url", "")))


class Kiosk:
    """The role: the queue link, the flow, the printer, the screen and voice threads, alerts."""

    name = ROLE

    def __init__(self, identity: Identity, settings: KioskSettings, url_of: Callable[[], Awaitable[str]],
                 key_of: KeyLookup, outbox: Any, node_name: str, state_dir: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.outbox, self.node_name, self.clock = settings, outbox, node_name, clock
        self.flow = KioskFlow(idle_s=settings.idle_s, warning_s=settings.idle_warning_s,
                              rating_only=settings.mode == "rating", window=settings.window or None)
        self.panel = Panel(settings.width, settings.height, settings.panel_width_mm, settings.panel_height_mm)
        self.sim_printer: SimulatedPrinter | None = None
        self.printer: TicketPrinter | None = None
        self.profile = PROFILES[settings.printer_profile]
        self.voice = make_voice(settings, state_dir)
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
        url = self.settings.printer
        if url == "sim":
            self.sim_printer = SimulatedPrinter(self.profile)
            self.sim_printer.start()
            url = self.sim_printer.path
        self.printer = TicketPrinter(url, self.profile, baudrate=self.settings.printer_baudrate,
                                     write_timeout=self.settings.write_timeout_s)
        if self.voice is not None:
            self.voice.start()
        self.screen.start()
        await asyncio.to_thread(self.screen.ready.wait, 10)
        self._push(force=True)
        self._tasks = [asyncio.create_task(self.client.run(), name="kiosk-link"),
                       asyncio.create_task(self._ticker(), name="kiosk-clock"),
                       asyncio.create_task(self._first_status(), name="kiosk-printer-status")]
        if self.settings.scenario == "demo":
            from kiosk.terminal.sim import demo_visitor

            self._tasks.append(asyncio.create_task(demo_visitor(self, self.settings.scenario_every_s)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.screen.close()
        if self.voice is not None:
            self.voice.close()
        await asyncio.to_thread(self.screen.join, 5.0)
        if self.printer is not None:
            self.printer.close()
        if self.sim_printer is not None:
            self.sim_printer.stop()

    def health(self) -> dict[str, Any]:
        state = self.printer.last_state if self.printer else PrinterState.NO_ANSWER
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
        assert self.printer is not None
        state = await self.printer.status_async()
        await self._printer_alerts(state)

    async def _print(self, issued: dict[str, Any]) -> None:
        assert self.printer is not None
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


def make_voice(settings: KioskSettings, state_dir: Path) -> KioskVoice | None:
    mode = settings.audio
    if mode == "off":
        return None
    if mode == "auto":
        mode = "device" if SoundCard.present() else "file"
    wav_dir = Path(settings.wav_dir) if settings.wav_dir else state_dir / "speech"
    voice_dir = Path(settings.voice_dir) if settings.voice_dir else state_dir / "voice"
    return KioskVoice(ClipLibrary(voice_dir), SoundCard() if mode == "device" else FileOnly(), wav_dir)


async def create(ctx: Any) -> Kiosk:
    """Role factory (``kiosk.terminal.service:create``)."""
    settings = load_settings(ctx.role_config, ctx.config.path)
    # A short wait per attempt: the roster that approves the queue may arrive just after the first look.
    url_of = peer_url(ctx, f"roles.{ROLE}.queue_url", settings.queue_url, "queue", timeout_s=3.0)
    if settings.audio == "device" and not SoundCard.present():
        raise ConfigError(ctx.config.path, f"roles.{ROLE}.audio",
                          "`device` needs aplay (alsa-utils) and a sound card (/dev/snd); use `auto` or `file`")
    hub = ctx.hub
    role = Kiosk(ctx.identity, settings, url_of, roster_lookup(lambda: hub.roster, {"queue"}), ctx.outbox,
                 ctx.config.node.name, ctx.config.state_dir)

    def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        return [
            ("hromada_kiosk_connected", "gauge", "1 while the queue answers.", [({}, 1 if role.flow.connected else 0)]),
            ("hromada_kiosk_tickets_total", "counter", "Tickets the queue issued through this kiosk.",
             [({}, role.flow.tickets_issued)]),
            ("hromada_kiosk_printer_ok", "gauge", "1 while the printer can print.",
             [({}, 1 if role.printer and role.printer.last_state.can_print else 0)]),
        ]
    ctx.metrics.collector(collect)
    return role


__all__ = ["Kiosk", "KioskSettings", "create", "load_settings", "ticket_slip", "Screen"]
