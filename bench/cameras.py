"""Camera relay: CPU per relayed stream against `ffmpeg -c copy`, CPU of health checks, detection times.

    .venv/bin/python bench/cameras.py [--seconds 15] [--streams 4] [--skip-detection]

The same pre-encoded 720p and 1080p H.264 streams (25 fps, 2 s GOP, 2 and
4 Mbit/s; made once with ffmpeg, see `cameras.clips`) are served by the
simulated RTSP camera (GStreamer). Side by side, at the same time, on the
same stream:

- our worker process relaying (PyAV demux → MPEG-TS mux, no decoding) and
  `ffmpeg -rtsp_transport tcp -i … -c copy -f mpegts -`, each piped into this
  process and discarded; CPU seconds of each process per second of stream;
- our worker checking health only (keyframes decoded, gray frame, JPEG) and
  the relay-side judging of those frames (`CameraHealth.on_keyframe`).

Then, with the default thresholds (offline 10 s, frozen persistence 20 s):
seconds from SIGKILL and from SIGSTOP of the camera to the OFFLINE verdict,
and from the camera's picture freezing to the FROZEN verdict, measured
through the relay's own supervisor and monitor. The last line is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cameras.clips import ClipSpec  # noqa: E402
from cameras.health import CameraHealth, HealthConfig, Verdict  # noqa: E402
from cameras.settings import CameraRoleSection, CameraSection, CameraSource  # noqa: E402
from cameras.simproc import RtspSim, rtsp_available  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
STREAMS = {"720p": ClipSpec(1280, 720, 25, 4.0, 2.0, 2000), "1080p": ClipSpec(1920, 1080, 25, 4.0, 2.0, 4000)}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def drain(stream: Any, counter: list[int]) -> None:
    while chunk := stream.read(65536):
        counter[0] += len(chunk)


def worker(url: str, *, relay: bool, health: bool) -> subprocess.Popen[bytes]:
    spec = {"camera_id": "bench", "url": url, "attempt": 0, "health": health, "relay": relay,
            "health_interval_s": 2.0, "preview_fps": 1.0, "open_timeout_s": 10.0, "read_timeout_s": 10.0,
            "reconnect_max_s": 60.0}
    proc = subprocess.Popen([sys.executable, "-m", "cameras.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(spec) + "\n").encode())
    proc.stdin.flush()
    return proc


def ffmpeg_copy(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
                             "-f", "mpegts", "-"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)


def measure(procs: dict[str, subprocess.Popen[bytes]], seconds: float, warmup: float = 10.0) -> dict[str, Any]:
    """CPU share of one core and bytes out of each process, over `seconds` after `warmup`."""
    counters = {name: [0] for name in procs}
    for name, proc in procs.items():
        threading.Thread(target=drain, args=(proc.stdout, counters[name]), daemon=True).start()
    time.sleep(warmup)
    start = {name: (cpu_seconds(p.pid), counters[name][0]) for name, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    out = {}
    for name, proc in procs.items():
        cpu0, bytes0 = start[name]
        if counters[name][0] == bytes0:
            print(f"  ! {name} delivered nothing while measured", file=sys.stderr)
        out[name] = {"cpu": (cpu_seconds(proc.pid) - cpu0) / elapsed,
                     "kbit_s": (counters[name][0] - bytes0) * 8 / elapsed / 1000}
    for proc in procs.values():
        proc.kill()
        proc.wait()
    return out


def judging_cost(sim: RtspSim, keyframes: int = 20) -> float:
    """Seconds the relay spends judging one keyframe (measured on the stream's own keyframes)."""
    import av
    import numpy as np

    from cameras.frames import prepare_frame

    container = av.open(str(sim.clips / "normal.h264"))
    grays = [prepare_frame(f.to_ndarray(format="gray")) for f in container.decode(video=0) if f.key_frame]
    health = CameraHealth("bench", started_at=0.0)
    t0 = time.perf_counter()
    for i in range(keyframes):
        health.on_keyframe(np.ascontiguousarray(grays[i % len(grays)]), float(i * 2))
    return (time.perf_counter() - t0) / keyframes


async def detection(sim: RtspSim) -> dict[str, float]:
    """Seconds to the OFFLINE verdict after SIGKILL and after SIGSTOP, and to FROZEN, defaults throughout."""
    from cameras.monitor import CameraMonitor
    from cameras.supervisor import CameraSupervisor

    raised: dict[str, float] = {}
    settings = CameraRoleSection()
    section = CameraSection(id="bench", name="Bench", url=sim.url, expected_fps=25.0)
    monitor = CameraMonitor(section, settings, HealthConfig(), lambda m, events: [
        raised.setdefault(f"{e.verdict}:{e.change}", time.monotonic()) for e in events])
    supervisor = CameraSupervisor(CameraSource(section, sim.url, ()), settings, monitor)
    supervisor.start()

    async def ticking() -> None:
        while True:
            await asyncio.sleep(1.0)
            monitor.tick(time.monotonic())

    ticker = asyncio.create_task(ticking())

    async def until(key: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while key not in raised and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return raised.get(key, float("nan"))

    async def healthy() -> None:
        deadline = time.monotonic() + 60
        while not (monitor.is_up(time.monotonic()) and monitor.health.verdict is Verdict.OK):
            if time.monotonic() > deadline:
                raise RuntimeError("camera not healthy")
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)

    out = {}
    try:
        await healthy()
        t0 = time.monotonic()
        sim.kill()
        out["dead_killed_s"] = await until("offline:raised", 30) - t0
        await asyncio.to_thread(sim.start)
        await until("offline:cleared", 60)
        await healthy()
        raised.clear()
        t0 = time.monotonic()
        sim.hang()
        out["dead_hung_s"] = await until("offline:raised", 30) - t0
        sim.resume()
        await until("offline:cleared", 60)
        await healthy()
        raised.clear()
        t0 = time.monotonic()
        await asyncio.to_thread(sim.mode, "frozen")
        out["frozen_s"] = await until("frozen:raised", 60) - t0
    finally:
        ticker.cancel()
        await supervisor.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--streams", type=int, default=4, help="processes of each kind measured at once")
    parser.add_argument("--skip-detection", action="store_true")
    args = parser.parse_args()
    if (missing := rtsp_available()) is not None:
        sys.exit(f"cannot run: {missing}")
    cache = Path(tempfile.gettempdir()) / "hromada-bench-clips"
    figures: dict[str, Any] = {"cpu_cores": os.cpu_count()}
    for name, spec in STREAMS.items():
        print(f"{name}: preparing clips (first run encodes them once) …", flush=True)
        sim = RtspSim(spec=spec, cache=cache).start()
        try:
            # Several of each at once: CPU time is counted in 10 ms ticks, one stream is a few ticks a second.
            procs: dict[str, subprocess.Popen[bytes]] = {}
            for i in range(args.streams):
                # One client at a time: the simulator's shared media drops clients that join together.
                procs[f"relay{i}"] = worker(sim.url, relay=True, health=False)
                time.sleep(0.7)
                procs[f"ffmpeg{i}"] = ffmpeg_copy(sim.url)
                time.sleep(0.7)
            both = measure(procs, args.seconds)
            relay = {kind: {k: sum(v[k] for n, v in both.items() if n.startswith(prefix)) / args.streams
                            for k in ("cpu", "kbit_s")} for kind, prefix in (("relay", "relay"), ("ffmpeg_copy", "ffmpeg"))}
            checkers = {}
            for i in range(args.streams):
                checkers[f"health{i}"] = worker(sim.url, relay=False, health=True)
                time.sleep(0.7)
            checks = measure(checkers, args.seconds)
            health = {"cpu": sum(v["cpu"] for v in checks.values()) / args.streams}
            judge = judging_cost(sim) / spec.gop_s
        finally:
            sim.stop()
        # Per delivered bit: a client the simulator starved for a while did less work, and would flatter its side.
        r, f = relay["relay"], relay["ffmpeg_copy"]
        ratio = (r["cpu"] / r["kbit_s"]) / (f["cpu"] / f["kbit_s"]) if min(r.values()) > 0 and min(f.values()) > 0 \
            else float("nan")
        health_cpu = health["cpu"] + judge
        per_core = 1 / (relay["relay"]["cpu"] + health_cpu)
        figures[name] = {
            "relay_cpu_pct": round(100 * relay["relay"]["cpu"], 2),
            "ffmpeg_copy_cpu_pct": round(100 * relay["ffmpeg_copy"]["cpu"], 2),
            "relay_vs_ffmpeg": round(ratio, 2),
            "relay_kbit_s": round(relay["relay"]["kbit_s"]), "ffmpeg_kbit_s": round(relay["ffmpeg_copy"]["kbit_s"]),
            "health_cpu_pct": round(100 * health_cpu, 2), "judging_cpu_pct": round(100 * judge, 3),
            "cameras_per_core_relay_and_check": round(per_core, 1),
            "cameras_per_core_check_only": round(1 / health_cpu, 1),
        }
        f = figures[name]
        print(f"  relay {f['relay_cpu_pct']} % of a core vs ffmpeg -c copy {f['ffmpeg_copy_cpu_pct']} % "
              f"(per delivered bit {f['relay_vs_ffmpeg']}×, target ≤ 1.5); out {f['relay_kbit_s']} vs {f['ffmpeg_kbit_s']} kbit/s")
        print(f"  health checks {f['health_cpu_pct']} % of a core per camera (target ≤ 3 %); "
              f"one core relays and checks ≈ {f['cameras_per_core_relay_and_check']} cameras", flush=True)
    if not args.skip_detection:
        sim = RtspSim(spec=STREAMS["720p"], cache=cache).start()
        try:
            found = asyncio.run(detection(sim))
        finally:
            sim.stop()
        figures["detect"] = {k: round(v, 1) for k, v in found.items()}
        figures["detect"]["frozen_target_s"] = HealthConfig().persistence[Verdict.FROZEN].raise_after_s + 5
        print(f"  dead camera: {found.get('dead_killed_s', float('nan')):.1f} s after SIGKILL, "
              f"{found.get('dead_hung_s', float('nan')):.1f} s after SIGSTOP (target ≤ 10 s); frozen picture: "
              f"{found.get('frozen_s', float('nan')):.1f} s (target ≤ 25 s)")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
