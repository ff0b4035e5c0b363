"""The `queue-display` role's composition root: settings, the way to the queue, the voice, the screen client.

``edge.roles.ROLE_FACTORIES["queue-display"]`` names :func:`create`; nothing
else wires the role.
"""

from __future__ import annotations

from pathlib import Path

from edge.config import ConfigError
from edge.discovery import peer_url
from edge.node import RoleContext
from edge.peers import roster_lookup
from edge.screenclient import collect_metrics
from kiosk.calling.announcer import Announcer
from kiosk.calling.service import CallingDisplay
from kiosk.calling.settings import ROLE, CallingSettings, load_settings
from kiosk.voice import ClipLibrary, FileOnly, SoundCard, Speaker


def make_speaker(settings: CallingSettings, state_dir: Path) -> tuple[Speaker, Path | None] | None:
    """The speaker and the WAV directory the settings ask for; None when calls are not spoken."""
    mode = settings.audio
    if mode == "off":
        return None
    if mode == "auto":
        mode = "device" if SoundCard.present() else "file"
    wav_dir = Path(settings.wav_dir) if settings.wav_dir else (state_dir / "calls" if mode == "file" else None)
    return (SoundCard() if mode == "device" else FileOnly()), wav_dir


async def create(ctx: RoleContext) -> CallingDisplay:
    """The calling screen, from ``[roles.queue-display]``; `audio = "device"` needs a sound card."""
    settings = load_settings(ctx.role_config, ctx.config.path)
    url_of = peer_url(ctx, f"roles.{ROLE}.queue_url", settings.queue_url, "queue")
    if settings.audio == "device" and not SoundCard.present():
        raise ConfigError(ctx.config.path, f"roles.{ROLE}.audio",
                          "`device` needs aplay (alsa-utils) and a sound card (/dev/snd); use `auto` or `file`")
    announcer = None
    chosen = make_speaker(settings, ctx.config.state_dir)
    if chosen is not None:
        speaker, wav_dir = chosen
        voice_dir = Path(settings.voice_dir) if settings.voice_dir else ctx.config.state_dir / "voice"
        announcer = Announcer(ClipLibrary(voice_dir), speaker, wav_dir)
    hub = ctx.hub
    role = CallingDisplay(ctx.identity, settings, url_of, roster_lookup(lambda: hub.roster, {"queue"}), announcer,
                          clock=ctx.clock)
    collect_metrics(ctx, role)
    return role
