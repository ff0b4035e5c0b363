"""The camera relay (role ``camera``): workers, health alerts to the hub, figures (routes: `cameras.api`, tables: `cameras.records`).

One `CameraSupervisor` (a worker process) and one `CameraMonitor` per
camera. Verdict changes become hub alerts keyed ``camera:<id>:<verdict>``,
written to the outbox in the same transaction that records them as raised
here, so that after a restart the relay knows which alerts the hub holds
open and clears those that no longer hold (see `_reconcile`). The learned
scene of each camera is kept too, so a camera moved while the relay was
down is judged against its old view, not learned as the new normal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from cameras import records
from cameras.health import HealthEvent, SceneBaseline, Verdict
from cameras.monitor import CameraMonitor, check_forever
from cameras.settings import CameraRoleConfig
from cameras.supervisor import CameraSupervisor
from cameras.verdict import Change, TEXTS
from edge.node import RoleContext
from edge.tasks import cancel_and_wait

if TYPE_CHECKING:
    from cameras.scenario import DemoScenario

log = logging.getLogger("hromada.camera")

#: Verdicts that leave technicians blind or misled: critical; the rest: warning.
CRITICAL = frozenset({Verdict.OFFLINE, Verdict.BLACK, Verdict.FROZEN, Verdict.MOVED})
BASELINE_SAVE_EVERY_S = 600.0


def alert_payload(camera: CameraMonitor, verdict: Verdict, change: Change, value: float | None) -> dict[str, Any]:
    """The hub alert for one verdict change of one camera (Ukrainian first)."""
    text_uk, text_en = TEXTS[(verdict, change)]
    where = f" ({camera.section.location})" if camera.section.location else ""
    return {
        "key": f"camera:{camera.id}:{verdict}", "state": "raised" if change is Change.RAISED else "cleared",
        "severity": "critical" if verdict in CRITICAL else "warning",
        "message": f"Камера «{camera.section.name}»{where}: {text_uk}",
        "message_en": f"Camera '{camera.section.name}'{where}: {text_en}",
        "camera": camera.id, "verdict": str(verdict), "value": value,
    }


class CameraRelay:
    """The `camera` role of a node (composed by :func:`cameras.role.create`, which adds its routes).

    ``scenario``: the demo's simulated cameras (``scenario = "demo"``), started
    before the workers so that they watch the simulators.
    """

    name = "camera"

    def __init__(self, ctx: RoleContext, config: CameraRoleConfig, scenario: DemoScenario | None = None) -> None:
        self.ctx = ctx
        self.config = config
        self.settings = config.settings
        self.monitors: dict[str, CameraMonitor] = {}
        self.supervisors: dict[str, CameraSupervisor] = {}
        self.reported: set[tuple[str, str]] = set()  # (camera, verdict) raised at the hub
        self.started_at = time.monotonic()
        self._baselines_saved: dict[str, tuple[float, SceneBaseline | None]] = {}
        self._events: asyncio.Queue[tuple[CameraMonitor, HealthEvent]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self.scenario = scenario
        self._register_metrics()
        ctx.hub.command_handlers["camera.rebaseline"] = self.rebaseline

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.ctx.store.migrate(records.MIGRATIONS)
        reported, baselines = await self.ctx.store.run(records.load)
        self.reported = reported
        sources = list(self.config.cameras)
        if self.scenario is not None:
            sources = await self.scenario.start(sources)
        for source in sources:
            monitor = CameraMonitor(source.section, self.settings, self.config.health, self._on_events,
                                    baselines.get(source.id), clock=self.ctx.clock)
            self.monitors[source.id] = monitor
            self._baselines_saved[source.id] = (time.monotonic(), monitor.health.baseline)
            self.supervisors[source.id] = CameraSupervisor(source, self.settings, monitor)
        for supervisor in self.supervisors.values():
            supervisor.start()
        self._tasks = [asyncio.create_task(check_forever(self.monitors.values, self._save_baseline),
                                           name="camera-tick"),
                       asyncio.create_task(self._send_events(), name="camera-alerts"),
                       asyncio.create_task(self._reconcile(), name="camera-reconcile")]
        if self.scenario is not None:
            self._tasks.append(asyncio.create_task(self.scenario.run(), name="camera-scenario"))
        log.info("camera relay: %d cameras: %s", len(sources), ", ".join(f"{s.id} ({s.public_url})" for s in sources))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        await asyncio.gather(*(s.stop() for s in self.supervisors.values()), return_exceptions=True)
        for monitor in self.monitors.values():
            monitor.stream.close()
            monitor.preview.close()
        if self.scenario is not None:
            await self.scenario.stop()

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        return {"cameras": len(self.monitors), "up": sum(m.is_up(now) for m in self.monitors.values()),
                "verdicts": {cid: str(m.health.verdict) for cid, m in self.monitors.items()},
                "list": [{"id": cid, "name": m.section.name, "location": m.section.location,
                          "verdict": str(m.health.verdict), "up": m.is_up(now)} for cid, m in self.monitors.items()]}

    # -- the hub's commands ------------------------------------------------------------------

    async def rebaseline(self, args: dict[str, Any]) -> dict[str, Any]:
        """The hub's signed ``camera.rebaseline`` command: ``{"camera": id, "by": who}``.

        A technician who re-aimed or refocused a camera on purpose accepts
        the new view: the learned scene is forgotten here and on disk (a
        restart must not bring the old one back) and learned again from the
        next good keyframes; MOVED or BLURRED then clears by itself.
        """
        camera_id, by = str(args.get("camera", "")), str(args.get("by", ""))[:64]
        monitor = self.monitors.get(camera_id)
        if monitor is None:
            raise ValueError(f"немає камери {camera_id!r} / no camera {camera_id!r} on this node")
        monitor.health.rebaseline()
        self._baselines_saved[camera_id] = (time.monotonic(), None)  # save the new one as soon as it is learned

        await self.ctx.store.write(lambda conn: records.forget_baseline(conn, camera_id, by))
        self.ctx.outbox.wake()
        log.info("camera %s: the learned scene was reset by %s; learning the new view", camera_id, by or "the hub")
        return {"camera": camera_id, "learning": True}

    # -- alerts -------------------------------------------------------------------------------

    def _on_events(self, monitor: CameraMonitor, events: list[HealthEvent]) -> None:
        for event in events:
            log.info("camera %s: %s %s (%s)", monitor.id, event.verdict, event.change, event.text_en)
            self._events.put_nowait((monitor, event))

    async def _send_events(self) -> None:
        while True:
            monitor, event = await self._events.get()
            await self._report(monitor, event.verdict, event.change, event.value)

    async def _report(self, monitor: CameraMonitor, verdict: Verdict, change: Change, value: float | None) -> None:
        payload = alert_payload(monitor, verdict, change, value)
        key = (monitor.id, str(verdict))

        # The alert and our record of it commit together (durable first).
        await self.ctx.store.write(lambda conn: records.record_alert(conn, key, change is Change.RAISED, payload))
        self.ctx.outbox.wake()
        if change is Change.RAISED:
            self.reported.add(key)
        else:
            self.reported.discard(key)

    async def _reconcile(self) -> None:
        """Clear alerts raised before a restart that did not come back within `reconcile_after_s`."""
        await asyncio.sleep(self.settings.reconcile_after_s)
        for camera_id, verdict in sorted(self.reported):
            monitor = self.monitors.get(camera_id)
            try:
                v = Verdict(verdict)
            except ValueError:
                v = None
            if monitor is None or v is None:
                await self.ctx.store.write(lambda conn, k=(camera_id, verdict): records.forget_alert(conn, k))
                self.reported.discard((camera_id, verdict))
                continue
            if v not in monitor.health.active:
                log.info("camera %s: %s was raised before the restart and no longer holds: cleared", camera_id, v)
                await self._report(monitor, v, Change.CLEARED, None)

    # -- every second --------------------------------------------------------------------------

    async def _save_baseline(self, monitor: CameraMonitor, now: float) -> None:
        saved_at, saved = self._baselines_saved[monitor.id]
        current = monitor.health.baseline
        if current is None or current is saved or (saved is not None and now - saved_at < BASELINE_SAVE_EVERY_S):
            return
        self._baselines_saved[monitor.id] = (now, current)
        await self.ctx.store.write(lambda conn: records.save_baseline(conn, monitor.id, current))

    # -- metrics -----------------------------------------------------------------------------------

    def _register_metrics(self) -> None:
        def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
            now = time.monotonic()
            up, age, fps, bitrate, reconnects, restarts, stalls, verdicts = ([] for _ in range(8))
            viewers, drops, judged = [], [], []
            for cid, m in self.monitors.items():
                label = {"camera": cid}
                measures = m.health.stream(now, connected=m.connected)
                sup = self.supervisors.get(cid)
                up.append((label, 1.0 if m.is_up(now) else 0.0))
                age.append((label, measures.last_packet_age_s))
                if measures.fps is not None:
                    fps.append((label, measures.fps))
                bitrate.append((label, m.bitrate(now)))
                reconnects.append((label, m.reconnects))
                restarts.append((label, sup.restarts if sup else 0))
                stalls.append((label, measures.stalls))
                active, overall = m.health.active, m.health.verdict
                for v in Verdict:
                    on = (v is Verdict.OK and overall is Verdict.OK) or v in active
                    verdicts.append(({"camera": cid, "verdict": str(v)}, 1.0 if on else 0.0))
                viewers += [({"camera": cid, "feed": "stream"}, len(m.stream)),
                            ({"camera": cid, "feed": "preview"}, len(m.preview))]
                drops.append((label, m.stream.dropped() + m.preview.dropped()))
                judged.append((label, m.keyframes))
            return [
                ("hromada_camera_up", "gauge", "1 while the camera delivers packets and is not judged offline.", up),
                ("hromada_camera_last_packet_age_seconds", "gauge", "Seconds since the camera's last video packet.",
                 age),
                ("hromada_camera_fps", "gauge", "Video packets per second over the last 10 s.", fps),
                ("hromada_camera_bitrate_bits_per_second", "gauge", "Video bit rate over the last 10 s.", bitrate),
                ("hromada_camera_reconnects_total", "counter", "Connection attempts after the first.", reconnects),
                ("hromada_camera_worker_restarts_total", "counter",
                 "Worker processes killed by the watchdog because they hung.", restarts),
                ("hromada_camera_stalls", "gauge", "Stream stalls within the last hour.", stalls),
                ("hromada_camera_verdict", "gauge", "1 for each raised verdict (and for ok when none is).", verdicts),
                ("hromada_camera_viewers", "gauge", "Viewers of the relayed stream and of the preview.", viewers),
                ("hromada_camera_viewer_drops_total", "counter",
                 "Chunks or pictures skipped for viewers that could not keep up.", drops),
                ("hromada_camera_pictures_judged_total", "counter", "Decoded pictures judged by the health checks.",
                 judged),
            ]

        self.ctx.metrics.collector(collect)

