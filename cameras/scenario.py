"""The demo's cameras: simulated ones, spoiled and restored on a timeline.

With ``scenario = "demo"``, each camera whose ``url`` is ``sim:mjpeg`` or
``sim:rtsp`` gets a simulated camera process of its own (`cameras.simproc`;
RTSP falls back to MJPEG where GStreamer is missing). Once the relay has
learned every scene, the first camera's picture freezes, the second goes
black and the third is killed; a while later all three are restored, and
the cycle repeats, so technicians watch verdicts arrive at the hub and
clear again. The fourth camera stays healthy, for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path

from cameras.settings import CameraSource
from cameras.simproc import MjpegSim, RtspSim, SimCamera, rtsp_available

log = logging.getLogger("hromada.camera.demo")

LEARN_S = 45.0  # the scenes are learned and every camera is shown healthy first
FAULT_S = 90.0  # long enough for every verdict's persistence (frozen: 20 s)
RESTORED_S = 330.0  # a raised verdict stays at least its cooldown (300 s) before it clears
FAULTS = ("frozen", "black", "killed")


class DemoScenario:
    """Simulated cameras for the demo and the faults they go through."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sims: list[SimCamera] = []

    async def start(self, sources: list[CameraSource]) -> list[CameraSource]:
        """Start a simulator for each `sim:` camera; return the sources with their real URLs."""
        self.folder.mkdir(parents=True, exist_ok=True)
        missing = rtsp_available() if any(s.section.url == "sim:rtsp" for s in sources) else None
        out = []
        for source in sources:
            kind = source.section.url
            if kind not in ("sim:mjpeg", "sim:rtsp"):
                out.append(source)
                continue
            log_file = self.folder / f"{source.id}.log"
            sim: SimCamera
            if kind == "sim:rtsp" and missing is None:
                sim = await asyncio.to_thread(lambda: RtspSim(log_file, cache=self.folder / "clips").start())
            else:
                if kind == "sim:rtsp":
                    log.warning("camera %s: %s; simulating it as an MJPEG camera", source.id, missing)
                sim = await asyncio.to_thread(lambda: MjpegSim(log_file).start())
            self.sims.append(sim)
            section = dataclasses.replace(source.section, url=sim.url)
            out.append(CameraSource(section, sim.url, ()))
        return out

    async def run(self) -> None:
        """Spoil and restore the first three simulated cameras, for ever."""
        await asyncio.sleep(LEARN_S)
        while True:
            for sim, fault in zip(self.sims, FAULTS):
                log.info("demo: camera on port %d: %s", sim.port, fault)
                await asyncio.to_thread(self._spoil, sim, fault)
            await asyncio.sleep(FAULT_S)
            for sim, fault in zip(self.sims, FAULTS):
                log.info("demo: camera on port %d: restored", sim.port)
                await asyncio.to_thread(self._restore, sim, fault)
            await asyncio.sleep(RESTORED_S)

    @staticmethod
    def _spoil(sim: SimCamera, fault: str) -> None:
        with contextlib.suppress(Exception):
            sim.kill() if fault == "killed" else sim.mode(fault)

    @staticmethod
    def _restore(sim: SimCamera, fault: str) -> None:
        with contextlib.suppress(Exception):
            sim.start() if fault == "killed" else sim.mode("normal")

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(sim.stop) for sim in self.sims), return_exceptions=True)

