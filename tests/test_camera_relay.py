"""The camera relay's parts, each on its own: configuration and secrets, viewer
tokens, reconnection waits and the watchdog's deadlines, fan-out to viewers,
the OFFLINE picture, worker messages, and the untouched MPEG-TS remux."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import random
import threading
from datetime import datetime
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from cameras import ipc
from cameras.annexb import nal_units, split_access_units
from cameras.clips import ClipSpec, ensure_clips, ffmpeg_path
from cameras.fanout import FanOut, Viewer
from cameras.offline import offline_jpeg
from cameras.reconnect import WorkerState, reconnect_delay, watchdog_deadline
from cameras.remux import MpegTsRemuxer
from cameras.settings import parse_camera_config, redact
from cameras.tokens import TokenRefused, check_viewer_token, mint_viewer_token
from cameras.verdict import Verdict
from edge.config import ConfigError
from edge.identity import Identity

CAMERA = {"id": "cam1", "name": "Школа", "url": "rtsp://10.0.0.9:554/stream1"}


def parse(**table: object) -> object:
    return parse_camera_config({"cameras": [CAMERA], **table}, "node.toml")


# -- configuration and secrets --------------------------------------------------------------

def test_a_password_in_the_camera_url_is_refused_and_sent_to_the_secrets_file() -> None:
    with pytest.raises(ConfigError) as err:
        parse_camera_config({"cameras": [{**CAMERA, "url": "rtsp://admin:hunter2@10.0.0.9/s"}]}, "node.toml")
    assert err.value.key == "roles.camera.cameras[0].url" and "secrets_file" in err.value.reason
    assert "hunter2" not in str(err.value)


def test_credentials_come_from_a_private_secrets_file_and_never_show(tmp_path: Path) -> None:
    secrets = tmp_path / "cameras.secrets"
    secrets.write_text('[cam1]\nusername = "admin"\npassword = "p@ss:w/rd"\n')
    os.chmod(secrets, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        parse(secrets_file=str(secrets))
    os.chmod(secrets, 0o600)
    config = parse(secrets_file=str(secrets))
    source = config.cameras[0]
    assert source.url == "rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.9:554/stream1"
    assert "p@ss" not in source.public_url and "p%40ss" not in source.public_url
    error = f"HTTPUnauthorizedError: 401: '{source.url}' (password p@ss:w/rd)"
    assert "p@ss" not in redact(error, source.secrets) and "p%40ss" not in redact(error, source.secrets)


@pytest.mark.parametrize("table, key", [
    ({"cameras": []}, "roles.camera.cameras"),
    ({"cameras": [CAMERA, CAMERA]}, "roles.camera.cameras[1].id"),
    ({"cameras": [{**CAMERA, "url": "ftp://x"}]}, "roles.camera.cameras[0].url"),
    ({"cameras": [{**CAMERA, "url": "sim:mjpeg"}]}, "roles.camera.cameras[0].url"),
    ({"cameras": [CAMERA], "watchdog_s": 0}, "roles.camera.watchdog_s"),
    ({"cameras": [CAMERA], "colour": "red"}, "roles.camera.colour"),
    ({"cameras": [CAMERA], "health": {"frozen_raise_changed": 0.9}}, "roles.camera.health"),
    ({"cameras": [CAMERA], "health": {"persistence": {"sad": {}}}}, "roles.camera.health.persistence.sad"),
])
def test_a_wrong_camera_configuration_names_the_key(table: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_camera_config(table, "node.toml")
    assert err.value.key == key


def test_health_thresholds_and_persistence_can_be_tuned_per_node() -> None:
    config = parse(health={"offline_after_s": 5, "persistence": {"frozen": {"raise_after_s": 40.0}}})
    assert config.health.offline_after_s == 5.0
    assert config.health.persistence[Verdict.FROZEN].raise_after_s == 40.0
    assert config.health.persistence[Verdict.FROZEN].cooldown_s == 300.0  # the rest keeps its default


# -- viewer tokens ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hub_identity(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return Identity.load_or_create(tmp_path_factory.mktemp("hub"), "hub.key", prefix="h")


@pytest.mark.parametrize("role", ["technician", "admin", "police"])
def test_technicians_admins_and_the_police_liaison_may_view(hub_identity: Identity, role: str) -> None:
    token = mint_viewer_token(hub_identity, "olena", role, ttl_s=60, now=1000.0)
    viewer = check_viewer_token(hub_identity.public_key_b64, token, now=1030.0)
    assert (viewer.sub, viewer.role, viewer.exp) == ("olena", role, 1060.0)


@pytest.mark.parametrize("case, status, code", [
    ("viewer role", 403, "role_not_allowed"),
    ("expired", 401, "token_expired"),
    ("other site", 403, "other_site"),
    ("other key", 401, "bad_token"),
    ("tampered", 401, "bad_token"),
    ("too long", 401, "bad_token"),
    ("missing", 401, "token_required"),
])
def test_a_token_that_does_not_entitle_its_bearer_is_refused(hub_identity: Identity, tmp_path: Path, case: str,
                                                              status: int, code: str) -> None:
    key = hub_identity.public_key_b64
    tokens = {
        "viewer role": mint_viewer_token(hub_identity, "x", "viewer", now=1000.0),
        "expired": mint_viewer_token(hub_identity, "x", "technician", ttl_s=10, now=900.0),
        "other site": mint_viewer_token(hub_identity, "x", "police", site="school", now=1000.0),
        "other key": mint_viewer_token(Identity.load_or_create(tmp_path), "x", "admin", now=1000.0),
        "tampered": mint_viewer_token(hub_identity, "x", "technician", now=1000.0)[:-6] + "AAAAAA",
        "too long": mint_viewer_token(hub_identity, "x", "technician", ttl_s=365 * 86400, now=1000.0),
        "missing": "",
    }
    with pytest.raises(TokenRefused) as refused:
        check_viewer_token(key, tokens[case], now=1000.0, site="rada")
    assert (refused.value.status, refused.value.code) == (status, code)
    assert refused.value.message_uk and refused.value.message_en


def test_no_token_is_believed_before_the_node_has_pinned_the_hub_key(hub_identity: Identity) -> None:
    with pytest.raises(TokenRefused) as refused:
        check_viewer_token(None, mint_viewer_token(hub_identity, "x", "admin"), now=0.0)
    assert refused.value.code == "not_enrolled"


# -- reconnection and the watchdog --------------------------------------------------------------

def test_waits_grow_from_one_second_to_a_minute_and_stay_there() -> None:
    rng = random.Random(7)
    waits = [reconnect_delay(n, rng=rng) for n in range(1, 31)]
    assert reconnect_delay(0) == 0
    assert all(0.8 <= w <= 1.2 for w in waits[:5])
    assert all(4.0 <= w <= 6.0 for w in waits[5:10])
    assert all(8.0 <= w <= 12.0 for w in waits[10:20])
    assert all(48.0 <= w <= 72.0 for w in waits[20:])
    assert reconnect_delay(10_000, rng=rng) <= 72.0  # for ever, never longer
    assert len({round(w, 3) for w in waits[:5]}) == 5  # jittered: cameras do not knock together


def test_the_watchdog_judges_a_streaming_worker_by_its_last_packet_only() -> None:
    args = {"wait_s": 30.0, "open_timeout_s": 10.0, "watchdog_s": 20.0}
    assert watchdog_deadline(WorkerState.STREAMING, 0.0, last_packet=100.0, **args) == 120.0
    assert watchdog_deadline(WorkerState.STREAMING, 50.0, last_packet=None, **args) == 70.0
    assert watchdog_deadline(WorkerState.WAITING, 0.0, last_packet=None, **args) == 35.0
    assert watchdog_deadline(WorkerState.CONNECTING, 0.0, last_packet=None, **args) == 25.0


# -- fan-out -----------------------------------------------------------------------------------

async def test_a_stream_viewer_that_falls_behind_skips_to_the_next_keyframe() -> None:
    fan = FanOut()
    fast = fan.add(Viewer("fast", max_bytes=10_000, latest_only=False))
    slow = fan.add(Viewer("slow", max_bytes=3_000, latest_only=False))
    fan.publish(b"p" * 500, keyframe=False)  # before any keyframe: nobody can start here
    chunks = [(b"K" * 1000, True)] + [(b"p" * 1000, False)] * 4 + [(b"K" * 1000, True), (b"p" * 1000, False)]
    for data, key in chunks:
        fan.publish(data, key)
        fast_got = await fast.get()
        assert fast_got == data
    got = []
    while slow._queue:
        got.append(await slow.get())
    assert got == [b"K" * 1000, b"p" * 1000], "the slow viewer resumed at the keyframe"
    assert slow.resyncs == 1 and slow.dropped > 0 and fast.dropped == 1


async def test_a_picture_viewer_always_gets_the_latest_picture() -> None:
    fan = FanOut()
    viewer = fan.add(Viewer("v", max_bytes=0, latest_only=True))
    for n in range(5):
        fan.publish(bytes([n]))
    assert await viewer.get() == bytes([4]) and viewer.dropped == 4
    fan.remove(viewer)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(viewer.get(), 1)


# -- the OFFLINE picture ---------------------------------------------------------------------------

def test_the_offline_picture_is_a_jpeg_of_the_cameras_size_and_looks_like_no_camera_view() -> None:
    jpeg = offline_jpeg("Школа №1", since=datetime(2026, 5, 1, 12, 0), now=datetime(2026, 5, 1, 12, 3),
                        width=1280, height=720)
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (720, 1280, 3)
    reds = (picture[:, :, 2] > 200) & (picture[:, :, 0] < 140)
    assert reds.mean() > 0.005, "the red КАМЕРА НЕ НА ЗВ’ЯЗКУ / CAMERA OFFLINE title is drawn"


# -- worker messages -------------------------------------------------------------------------------

def test_worker_messages_survive_the_pipe() -> None:
    buf = io.BytesIO()
    writer = ipc.Writer(buf)
    gray = np.arange(180 * 320, dtype=np.uint32).astype(np.uint8).reshape(180, 320)
    writer.packets([1.5, 1.6], [1000, 20], [1, 0])
    writer.gray(2.0, gray)
    writer.relay([b"ts-", b"bytes"], True)
    messages = list(ipc.messages(io.BytesIO(buf.getvalue())))
    notes = ipc.read_packets(messages[0][1])
    assert (notes.arrivals, notes.sizes, notes.keys) == ([1.5, 1.6], [1000, 20], [1, 0])
    at, pixels = ipc.read_gray(messages[1][1])
    assert at == 2.0 and np.array_equal(pixels, gray)
    assert ipc.read_relay(messages[2][1]) == (b"ts-bytes", True)


def test_a_message_larger_than_the_pipe_arrives_whole_and_in_order() -> None:
    """A 1080p keyframe is bigger than a pipe's buffer: writev returns short and the rest must follow."""
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, 4096)
    parts = [bytes([i]) * 3000 for i in range(1, 60)]  # 177,000 bytes in 59 pieces
    received = bytearray()

    def read_all() -> None:
        while chunk := os.read(read_fd, 1000):
            received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    with os.fdopen(write_fd, "wb", buffering=0) as pipe:
        writer = ipc.Writer(pipe)
        writer.relay(parts, False)
        writer.relay([b"next"], True)
    reader.join(10)
    os.close(read_fd)
    (kind, body), (_, after) = ipc.messages(io.BytesIO(bytes(received)))
    assert kind == ipc.RELAY and ipc.read_relay(body) == (b"".join(parts), False)
    assert ipc.read_relay(after) == (b"next", True)


# -- the remux -----------------------------------------------------------------------------------------

@pytest.mark.skipif(ffmpeg_path() is None, reason="ffmpeg is not installed")
def test_the_mpegts_remux_carries_every_slice_untouched_and_starts_at_a_keyframe(tmp_path: Path) -> None:
    clips = ensure_clips(ClipSpec(width=320, height=180, fps=10, seconds=2, gop_s=1), tmp_path)
    clip = (clips / "normal.h264").read_bytes()
    chunks: list[tuple[bytes, bool]] = []
    source = av.open(str(clips / "normal.h264"))
    stream = source.streams.video[0]
    remuxer = MpegTsRemuxer(stream, lambda parts, key: chunks.append((b"".join(parts), key)))
    packets = [p for p in source.demux(stream) if p.size]
    for i, packet in enumerate(packets[3:], start=3):  # join mid-GOP: the remux waits for the keyframe
        packet.dts = packet.pts = i * 9000
        packet.time_base = stream.time_base if stream.time_base else packet.time_base
        remuxer.mux(packet)
    remuxer.close()
    assert chunks[0][1] and remuxer.skipped == 7 and remuxer.muxed == len(packets) - 10
    relayed = av.open(io.BytesIO(b"".join(c for c, _ in chunks)), format="mpegts")
    out = [bytes(p) for p in relayed.demux(video=0) if p.size]
    sent = [nal for au in split_access_units(clip)[10:] for nal in nal_units(au) if nal[0] & 0x1F in (1, 5)]
    got = [nal for p in out for nal in nal_units(p) if nal[0] & 0x1F in (1, 5)]
    assert got == sent
