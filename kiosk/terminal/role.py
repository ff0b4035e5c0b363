"""The `kiosk` role's composition root: settings, ticket printer, voice, the kiosk, its metrics.

``edge.roles.ROLE_FACTORIES["kiosk"]`` names :func:`create`; nothing else
wires the role. Real or simulated devices are chosen here by configuration
only: ``printer = "sim"`` starts :class:`~kiosk.terminal.sim_printer.SimulatedTicketPrinter`
in this process, anything else is a pyserial URL for
:class:`~kiosk.terminal.hardware.EscPosPrinter`; ``audio`` picks the sound card
or WAV files; ``scenario = "demo"`` adds the simulated visitor
(:func:`kiosk.terminal.sim.demo_visitor`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from edge.config import ConfigError
from edge.discovery import peer_url
from edge.node import RoleContext
from edge.peers import roster_lookup
from kiosk.terminal.escpos import PROFILES
from kiosk.terminal.hardware import EscPosPrinter, TicketPrinter
from kiosk.terminal.screen import KioskVoice
from kiosk.terminal.service import Kiosk
from kiosk.terminal.settings import ROLE, SIM_PRINTER, KioskSettings, load_settings
from kiosk.terminal.sim import demo_visitor
from kiosk.terminal.sim_printer import SimulatedPrinter, SimulatedTicketPrinter
from kiosk.voice import ClipLibrary, FileOnly, SoundCard


def make_voice(settings: KioskSettings, state_dir: Path) -> KioskVoice | None:
    """The kiosk's speech: through the sound card, into WAV files only, or none (``audio``)."""
    mode = settings.audio
    if mode == "off":
        return None
    if mode == "auto":
        mode = "device" if SoundCard.present() else "file"
    wav_dir = Path(settings.wav_dir) if settings.wav_dir else state_dir / "speech"
    voice_dir = Path(settings.voice_dir) if settings.voice_dir else state_dir / "voice"
    return KioskVoice(ClipLibrary(voice_dir), SoundCard() if mode == "device" else FileOnly(), wav_dir)


def make_printer(settings: KioskSettings) -> tuple[TicketPrinter, SimulatedPrinter | None]:
    """The configured ticket printer, and the pretend printer behind it when it is the simulated one (``sim``)."""
    profile = PROFILES[settings.printer_profile]
    if settings.printer == SIM_PRINTER:
        sim = SimulatedTicketPrinter(profile, baudrate=settings.printer_baudrate,
                                     write_timeout=settings.write_timeout_s)
        return sim, sim.device
    return EscPosPrinter(settings.printer, profile, baudrate=settings.printer_baudrate,
                         write_timeout=settings.write_timeout_s), None


async def create(ctx: RoleContext) -> Kiosk:
    """The `kiosk` role of a node, from its ``[roles.kiosk]`` table; a wrong table is refused."""
    settings = load_settings(ctx.role_config, ctx.config.path)
    # A short wait per attempt: the roster that approves the queue may arrive just after the first look.
    url_of = peer_url(ctx, f"roles.{ROLE}.queue_url", settings.queue_url, "queue", timeout_s=3.0)
    if settings.audio == "device" and not SoundCard.present():
        raise ConfigError(ctx.config.path, f"roles.{ROLE}.audio",
                          "`device` needs aplay (alsa-utils) and a sound card (/dev/snd); use `auto` or `file`")
    scenario = partial(demo_visitor, every_s=settings.scenario_every_s) if settings.scenario == "demo" else None
    hub = ctx.hub
    voice = make_voice(settings, ctx.config.state_dir)
    printer, sim_printer = make_printer(settings)
    role = Kiosk(ctx.identity, settings, url_of, roster_lookup(lambda: hub.roster, {"queue"}), ctx.outbox,
                 ctx.config.node.name, printer, voice, scenario)
    role.sim_printer = sim_printer

    def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        return [
            ("hromada_kiosk_connected", "gauge", "1 while the queue answers.", [({}, 1 if role.flow.connected else 0)]),
            ("hromada_kiosk_tickets_total", "counter", "Tickets the queue issued through this kiosk.",
             [({}, role.flow.tickets_issued)]),
            ("hromada_kiosk_printer_ok", "gauge", "1 while the printer can print.",
             [({}, 1 if role.printer.last_state.can_print else 0)]),
        ]
    ctx.metrics.collector(collect)
    return role
