"""Camera relay: CPU per relayed stream against `ffmpeg -c copy`, CPU of health checks, detection times.

    .venv/bin/python bench/cameras.py [--seconds 15] [--streams 4] [--skip-detection | --only-detection]

The same pre-encoded 720p and 1080p H.264 streams (25 fps, 2 s GOP, 2 and
4 Mbit/s; made once with ffmpeg, see `cameras.clips`) are served by the
simulated RTSP camera (GStreamer). Side by side, at the same time, on the
same stream:

- our worker process relaying (PyAV demux → MPEG-TS mux, no decoding) as
  the relay runs it (reading in bursts, `read_batch_s`), the same worker
  reading frame by frame (`read_batch_s = 0`), and
  `ffmpeg -rtsp_transport tcp -i … -c copy -f mpegts -`, each piped into this
  process and discarded; CPU seconds of every thread of each process (from
  schedstat, in nanoseconds) per second of stream. Clients join one at a
  time, and a measured round in which any of them reconnected is thrown away;
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

STREAMS = {"720p": ClipSpec(1280, 720, 25, 4.0, 2.0, 2000), "1080p": ClipSpec(1920, 1080, 25, 4.0, 2.0, 4000)}


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a process, in nanosecond resolution (schedstat), not 10 ms ticks."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            pass  # a thread that just ended
    return total / 1e9


class Client:
    """One measured process and what it delivered: a worker's relay messages, or ffmpeg's bytes."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], *, framed: bool) -> None:
        self.name = name
        self.proc = proc
        self.delivered = 0  # bytes relayed
        self.progress = 0  # messages that show it works: relayed bytes, or a judged picture
        self.statuses: list[tuple[float, str]] = []  # a worker's state changes: a reconnect spoils a round
        self.relayed_at: list[float] = []  # when each relayed packet reached us: shows the bursts
        threading.Thread(target=self._read_framed if framed else self._read_raw, daemon=True).start()

    def _read_raw(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read(65536):
            self.delivered += len(chunk)
            self.progress += 1

    def _read_framed(self) -> None:
        from cameras import ipc

        assert self.proc.stdout is not None
        for kind, body in ipc.messages(self.proc.stdout):
            if kind == ipc.RELAY:
                self.delivered += len(body) - 1
                self.progress += 1
                self.relayed_at.append(time.monotonic())
            elif kind == ipc.GRAY:
                self.progress += 1
            elif kind == ipc.STATUS:
                self.statuses.append((time.monotonic(), json.loads(body).get("state", "")))

    def wait_delivering(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.progress == 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} delivered nothing in {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def worker(url: str, *, relay: bool, health: bool, read_batch_s: float | None = None,
           root: Path = ROOT) -> subprocess.Popen[bytes]:
    """A camera worker as the relay starts it, with the relay's default settings."""
    d = CameraRoleSection()
    spec = {"camera_id": "bench", "url": url, "attempt": 0, "health": health, "relay": relay,
            "health_interval_s": d.health_interval_s, "preview_fps": d.preview_fps,
            "open_timeout_s": d.open_timeout_s, "read_timeout_s": d.read_timeout_s,
            "reconnect_max_s": d.reconnect_max_s,
            "read_batch_s": d.read_batch_s if read_batch_s is None else read_batch_s}
    proc = subprocess.Popen([sys.executable, "-m", "cameras.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root)
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(spec) + "\n").encode())
    proc.stdin.flush()
    return proc


def ffmpeg_copy(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
                            "-f", "mpegts", "-"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)


def start_clients(makers: dict[str, tuple[Any, bool]]) -> dict[str, Client]:
    """Start each client once the one before it delivers: the simulator's shared media is slow to take joiners."""
    clients: dict[str, Client] = {}
    try:
        for name, (make, framed) in makers.items():
            clients[name] = Client(name, make(), framed=framed)
            clients[name].wait_delivering()
    except BaseException:
        for client in clients.values():
            client.stop()
        raise
    return clients


def measure(clients: dict[str, Client], seconds: float, warmup: float = 5.0, rounds: int = 3) -> dict[str, Any]:
    """CPU share of one core and bits delivered by each client, over `seconds` after `warmup`.

    A round in which a worker changed state (reconnected) or a process
    ended is thrown away: its CPU would include opening and probing a
    stream, which is not relaying. After `rounds` spoiled rounds it gives up.
    """
    time.sleep(warmup)
    try:
        for _ in range(rounds):
            start = {name: (cpu_seconds(c.proc.pid), c.delivered, len(c.statuses), c.progress)
                     for name, c in clients.items()}
            t0 = time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - t0
            spoiled = [name for name, c in clients.items()
                       if len(c.statuses) != start[name][2] or c.proc.poll() is not None or c.progress == start[name][3]]
            if spoiled:
                print(f"  ! round spoiled by {', '.join(spoiled)} (reconnected, ended or delivered nothing); again",
                      file=sys.stderr)
                continue
            return {name: {"cpu": (cpu_seconds(c.proc.pid) - start[name][0]) / elapsed,
                           "kbit_s": (c.delivered - start[name][1]) * 8 / elapsed / 1000,
                           "gaps": [b - a for a, b in zip(c.relayed_at, c.relayed_at[1:]) if a >= t0]}
                    for name, c in clients.items()}
        raise RuntimeError(f"no clean round in {rounds}")
    finally:
        for client in clients.values():
            client.stop()


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
    from cameras.monitor import CameraMonitor, check_forever
    from cameras.supervisor import CameraSupervisor

    raised: dict[str, float] = {}
    settings = CameraRoleSection()
    section = CameraSection(id="bench", name="Bench", url=sim.url, expected_fps=25.0)
    monitor = CameraMonitor(section, settings, HealthConfig(), lambda m, events: [
        raised.setdefault(f"{e.verdict}:{e.change}", time.monotonic()) for e in events])
    supervisor = CameraSupervisor(CameraSource(section, sim.url, ()), settings, monitor)
    supervisor.start()

    ticker = asyncio.create_task(check_forever(lambda: [monitor]))  # as the relay checks its cameras

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
    parser.add_argument("--only-detection", action="store_true", help="skip the CPU measurements")
    args = parser.parse_args()
    if (missing := rtsp_available()) is not None:
        sys.exit(f"cannot run: {missing}")
    cache = Path(tempfile.gettempdir()) / "hromada-bench-clips"
    figures: dict[str, Any] = {"cpu_cores": os.cpu_count()}
    for name, spec in ({} if args.only_detection else STREAMS).items():
        print(f"{name}: preparing clips (first run encodes them once) …", flush=True)
        sim = RtspSim(spec=spec, cache=cache).start()
        try:
            # Several of each at once, side by side, so the machine's state is the same for every kind.
            kinds = {"relay": lambda: worker(sim.url, relay=True, health=False),
                     "relay_per_frame": lambda: worker(sim.url, relay=True, health=False, read_batch_s=0.0),
                     "ffmpeg_copy": lambda: ffmpeg_copy(sim.url)}
            makers = {f"{kind}:{i}": (make, kind != "ffmpeg_copy") for i in range(args.streams)
                      for kind, make in kinds.items()}
            both = measure(start_clients(makers), args.seconds)
            relay = {kind: {k: sum(v[k] for n, v in both.items() if n.split(":")[0] == kind) / args.streams
                            for k in ("cpu", "kbit_s")} for kind in kinds}
            checkers = {f"health:{i}": (lambda: worker(sim.url, relay=False, health=True), True)
                        for i in range(args.streams)}
            checks = measure(start_clients(checkers), args.seconds)
            health = {"cpu": sum(v["cpu"] for v in checks.values()) / args.streams}
            judge = judging_cost(sim) / spec.gop_s
        finally:
            sim.stop()

        def per_bit(kind: str) -> float:
            """CPU per delivered bit against ffmpeg's: a client the simulator starved did less work."""
            r, f = relay[kind], relay["ffmpeg_copy"]
            return (r["cpu"] / r["kbit_s"]) / (f["cpu"] / f["kbit_s"]) if min(*r.values(), *f.values()) > 0 \
                else float("nan")

        def gap_ms(kind: str, q: float) -> float:
            """Gaps between relayed packets at the viewer's end: the most a packet waited in a burst."""
            gaps = sorted(g for n, v in both.items() if n.split(":")[0] == kind for g in v["gaps"])
            return 1000 * gaps[min(len(gaps) - 1, int(q * len(gaps)))] if gaps else float("nan")

        health_cpu = health["cpu"] + judge
        per_core = 1 / (relay["relay"]["cpu"] + health_cpu)
        figures[name] = {
            "relay_cpu_pct": round(100 * relay["relay"]["cpu"], 3),
            "relay_per_frame_cpu_pct": round(100 * relay["relay_per_frame"]["cpu"], 3),
            "ffmpeg_copy_cpu_pct": round(100 * relay["ffmpeg_copy"]["cpu"], 3),
            "relay_vs_ffmpeg": round(per_bit("relay"), 2),
            "relay_per_frame_vs_ffmpeg": round(per_bit("relay_per_frame"), 2),
            "relay_gap_p99_ms": round(gap_ms("relay", 0.99), 1),
            "relay_per_frame_gap_p99_ms": round(gap_ms("relay_per_frame", 0.99), 1),
            "relay_kbit_s": round(relay["relay"]["kbit_s"]), "ffmpeg_kbit_s": round(relay["ffmpeg_copy"]["kbit_s"]),
            "health_cpu_pct": round(100 * health_cpu, 2), "judging_cpu_pct": round(100 * judge, 3),
            "cameras_per_core_relay_and_check": round(per_core, 1),
            "cameras_per_core_check_only": round(1 / health_cpu, 1),
        }
        f = figures[name]
        print(f"  relay {f['relay_cpu_pct']} % of a core vs ffmpeg -c copy {f['ffmpeg_copy_cpu_pct']} % "
              f"(per delivered bit {f['relay_vs_ffmpeg']}×, target ≤ 1.5); out {f['relay_kbit_s']} vs "
              f"{f['ffmpeg_kbit_s']} kbit/s")
        print(f"  relay read frame by frame (read_batch_s = 0): {f['relay_per_frame_cpu_pct']} % "
              f"({f['relay_per_frame_vs_ffmpeg']}×); longest wait of a packet in a burst (p99 gap) "
              f"{f['relay_gap_p99_ms']} ms in bursts, {f['relay_per_frame_gap_p99_ms']} ms frame by frame")
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
