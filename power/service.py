"""The power role's service: inputs → policy → SQLite and the hub → relays.

Every change of an input (mains, the running feedback, a UPS event) and a
tick every ``tick_s`` run one :func:`power.policy.step` with the monotonic
clock, under one lock. What the step decided is recorded first — events,
alerts and their hub messages, the generator's counters — in one
transaction (:mod:`power.records`); only then do relays move and shutdown
requests go out. Alerts are kept in step with conditions (mains lost, UPS
on battery, low, not answering, generator running), so a restart neither
repeats nor forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Callable

from edge.node import RoleContext
from edge.outbox import Priority, enqueue
from power import history, records
from power.hardware import Generator, MainsSensor, Ups
from power.policy import (Action, ClearAlarm, Command, ConnectLoad, Counters, DisconnectLoad, Notify, Phase,
                          PolicyEvent, PolicyInputs, PolicyState, RaiseAlarm, SetForcedShutdown, ShutdownHost,
                          ShutdownSelf, StartGenerator, StopGenerator, service_countdown, step)
from power.records import AlertBook, Batch
from power.settings import PowerConfig
from edge.shutdown import ShutdownRunner
from edge.tasks import cancel_and_wait
from power.status import CommsState, UpsEvent
from power.ups import numbers

log = logging.getLogger("hromada.power")

# Alarms a person must act on survive a restart; the rest describe a run that a restart ended.
LATCHED = (PolicyEvent.GEN_FAIL, PolicyEvent.SERVICE_DUE)
RUN_ONLY = (PolicyEvent.GEN_NO_OUTPUT, PolicyEvent.GEN_MAX_RUNTIME, PolicyEvent.GEN_STOP_FAIL, PolicyEvent.SHUTDOWN)
ENGINE_UP = (Phase.WARMING_UP, Phase.RUNNING, Phase.COOLING_DOWN, Phase.STOPPING)
REASON_UK = {"mains-loss": "зникла мережа", "low-charge": "низький заряд ДБЖ", "exercise": "планова прогонка",
             "manual": "ручний запуск"}


class PowerService:
    """One power room: a UPS, a mains input, a generator, the policy and what it records.

    The devices are opened by the role's composition root (:mod:`power.role`);
    each may be missing (None), and the service tells them where to report.
    """

    def __init__(self, ctx: RoleContext, config: PowerConfig, *, ups: Ups | None = None,
                 mains: MainsSensor | None = None, generator: Generator | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], datetime] = datetime.now) -> None:
        self.ctx, self.config = ctx, config
        self.settings = config.settings
        self.mains, self.generator = mains, generator
        self._clock, self._wall = clock, wall
        self.ups = ups
        if ups is not None:
            ups.on_events = self._on_ups_events
        self.book = AlertBook()
        self.state: PolicyState | None = None
        self.fsd = False
        self.history = history.History(self.settings.history_step_s)
        self.shutdown = ShutdownRunner(self.settings.shutdown_command, self._record_shutdown)
        self.readings: dict[str, float] = {}
        self.steps = 0
        self.listeners: list[Callable[[], None]] = []  # told after every recorded change
        self._mains_from_ups = True
        self._pending: list[tuple[str, str, str, dict[str, Any]]] = []
        self._saved: Counters | None = None
        self._saved_at = 0.0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        if mains is not None:
            mains.on_change = self._on_mains
        if generator is not None:
            generator.watch(lambda _running: self._wake.set())
            generator.on_events = self._on_generator_events

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self.ctx.store.migrate(records.MIGRATIONS)
        counters, open_alerts = await self.ctx.store.run(lambda db: records.load(db))
        self.book = AlertBook(open_alerts)
        if counters is None:
            counters = Counters(commissioned_on=self.config.commissioned_on or self._wall().date())
        alarms = frozenset(e for e in LATCHED if records.alarm_key(e) in self.book.open)
        # Without a generator the policy still judges the UPS for the shutdown plan,
        # but never asks for a start.
        self.state = PolicyState(counters, auto=self.generator is not None, alarms=alarms)
        self._saved = counters
        self._pending.clear()  # edges seen while wiring up are not news; the conditions below say what is true
        batch = Batch()
        for event in RUN_ONLY:
            self.book.clear(records.alarm_key(event), batch)
        if batch:
            await self._commit(batch)
        log.info("лічильники генератора / generator counters: %.2f год/h, %d запусків/starts",
                 counters.run_s / 3600, counters.starts)
        if self.ups is not None:
            await self.ups.start()
        if self.generator is not None:
            self.generator.begin()
        self._tasks.append(asyncio.create_task(self._loop(), name="power-policy"))
        self._tasks.append(asyncio.create_task(self._sampler(), name="power-history"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        if self.state is not None and self.state.counters != self._saved:
            batch = Batch(counters=self.state.counters)
            with contextlib.suppress(Exception):
                await self._commit(batch)  # run-hours counted since the last save
        if self.ups is not None:
            await self.ups.stop()
        if self.generator is not None:
            await self.generator.close()
        if self.mains is not None:
            self.mains.close()

    # --- inputs ------------------------------------------------------------------------

    def mains_present(self) -> bool:
        """The sensor when fitted; otherwise the UPS's own view (on line unless it is on battery)."""
        if self.mains is not None:
            return self.mains.active
        if self.ups is not None and self.ups.current() is not None:
            self._mains_from_ups = "OB" not in self.ups.state().status
        return self._mains_from_ups  # without fresh UPS data: as last seen

    def _on_mains(self, present: bool) -> None:
        if present:
            self._pending.append(("MAINS_BACK", "Мережу відновлено", "Mains restored", {}))
        else:
            self._pending.append(("MAINS_LOST", "Зникла мережа", "Mains lost", {}))
        self._wake.set()

    def _on_ups_events(self, events: tuple[UpsEvent, ...]) -> None:
        name = self.ups.name if self.ups is not None else "ups"
        for e in events:
            uk, en = records.ups_text(e, name)
            self._pending.append((str(e), uk, en, {"ups": name}))
        self._wake.set()

    def _on_generator_events(self, events: tuple[UpsEvent, ...]) -> None:
        for e in events:
            self._pending.append((f"GEN_{e}", f"Контролер генератора: {e}", f"Generator controller: {e}", {}))
        self._wake.set()

    # --- the step ---------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.tick_s)
            self._wake.clear()
            try:
                await self.step()
            except Exception:  # a bug or a full disk must not end the watch over the power room
                log.exception("крок політики не вдався / policy step failed")
                await asyncio.sleep(self.settings.tick_s)

    async def command(self, command: Command) -> dict[str, Any]:
        """A person's command (API or hub), applied in its own step."""
        await self.step(command)
        return self.status()

    async def step(self, command: Command | None = None) -> None:
        async with self._lock:
            assert self.state is not None
            batch = Batch()
            for pending in self._pending:
                batch.event(pending[0], pending[1], pending[2], **pending[3])
            self._pending.clear()
            gen = self.generator
            inputs = PolicyInputs(now=self._clock(), wall=self._wall(), mains_present=self.mains_present(),
                                  running=bool(gen is not None and gen.running),
                                  output=None if gen is None else gen.output,
                                  ups=None if self.ups is None else self.ups.state(), command=command)
            if command is not None:
                batch.event("COMMAND", f"Команда: {command}", f"Command: {command}", command=str(command))
            before = self.state
            decision = step(self.config.policy, before, inputs)
            self.state = decision.state
            self.steps += 1
            later = [a for a in decision.actions if self._record(a, batch)]
            self._conditions(batch)
            self._counters(before, batch)
            if batch:
                await self._commit(batch)
        for action in later:
            await self._act(action)

    def _record(self, action: Action, batch: Batch) -> bool:
        """Write down what ``action`` means; True when it also moves something after the commit."""
        if isinstance(action, (Notify, RaiseAlarm)):
            batch.event(str(action.event), action.text_uk, action.text_en)
            if isinstance(action, RaiseAlarm):
                self.book.raise_(records.alarm_alert(action.event, action.text_uk, action.text_en), batch)
        elif isinstance(action, ClearAlarm):
            batch.event("ALARM_CLEARED", f"Знято: {action.event}", f"Cleared: {action.event}", alarm=str(action.event))
            self.book.clear(records.alarm_key(action.event), batch)
        elif isinstance(action, StartGenerator) and action.attempt > 1:
            batch.event("GEN_START_RETRY", f"Повторна спроба запуску генератора ({action.attempt})",
                        f"Generator start, attempt {action.attempt}", attempt=action.attempt)
        elif isinstance(action, SetForcedShutdown):
            self.fsd = True  # our NUT clients (upsmon secondaries) see FSD from now on; it latches
        elif isinstance(action, ShutdownHost):
            batch.event("SHUTDOWN_HOST", f"Вимкнення вузла «{action.target}»", f"Shutting down '{action.target}'",
                        target=action.target)
            batch.messages.append(("power.shutdown", {
                "target": action.target, "ups": self.ups.name if self.ups else "",
                "reason": "ДБЖ розряджається: впорядковане вимкнення", "reason_en": "UPS critical: orderly shutdown"},
                Priority.CRITICAL))
        elif isinstance(action, ShutdownSelf):
            batch.event("SHUTDOWN_SELF", "Вимкнення цього вузла (останнім)", "Shutting down this node (last)",
                        power_cycle_ups=action.power_cycle_ups)
        return isinstance(action, (StartGenerator, StopGenerator, ConnectLoad, DisconnectLoad, ShutdownSelf))

    async def _act(self, action: Action) -> None:
        gen = self.generator
        try:
            if isinstance(action, StartGenerator) and gen is not None:
                await gen.start(action)
            elif isinstance(action, StopGenerator) and gen is not None:
                await gen.stop(action)
            elif isinstance(action, ConnectLoad) and gen is not None:
                gen.connect_load()
            elif isinstance(action, DisconnectLoad) and gen is not None:
                gen.disconnect_load()
            elif isinstance(action, ShutdownSelf):
                if action.power_cycle_ups and self.ups is not None:
                    with contextlib.suppress(Exception):  # no credentials, unsupported: still go down
                        await self.ups.instcmd("shutdown.return")
                await self.shutdown.request("ДБЖ розряджається / UPS critical", "power plan")
        except Exception:
            log.exception("дія не вдалася / action failed: %s", action)

    def _conditions(self, batch: Batch) -> None:
        """Bring the level-like alerts in line with what is true now."""
        book = self.book
        if self.mains is not None or (self.ups is not None and self.ups.current() is not None):
            book.set(records.mains_alert(), not self.mains_present(), batch)
        if self.ups is not None:
            alerts = records.ups_alerts(self.ups.name)
            if self.ups.current() is not None:  # without fresh data the last verdict stands
                status = self.ups.state().status
                book.set(alerts["OB"], "OB" in status, batch)
                book.set(alerts["LB"], "LB" in status, batch)
            comm = self.ups.health.state
            book.set(alerts["COMMBAD"], comm in (CommsState.COMMBAD, CommsState.NOCOMM), batch)
            book.set(alerts["NOCOMM"], comm is CommsState.NOCOMM, batch)
        gen = self.generator
        if gen is not None:
            reasons = sorted(str(r) for r in self.state.reasons)
            if not gen.running:
                book.clear("generator-running", batch)
            else:
                book.raise_(records.generator_running_alert(
                    ", ".join(REASON_UK.get(r, r) for r in reasons) or "без запиту",
                    ", ".join(reasons) or "not asked for"), batch)
            state = gen.comms_state  # a controller on a bus; wires have no comms
            if state is not None:
                book.set(records.generator_comm_alert("critical" if state is CommsState.NOCOMM else "warning"),
                         state in (CommsState.COMMBAD, CommsState.NOCOMM), batch)

    def _counters(self, before: PolicyState, batch: Batch) -> None:
        """Persist counters when anything but run time changed, at a phase change, or every ``counters_every_s``."""
        c, saved = self.state.counters, self._saved
        if c == saved:
            return
        now = self._clock()
        significant = saved is None or replace(c, run_s=0.0, run_s_since_exercise=0.0) != \
            replace(saved, run_s=0.0, run_s_since_exercise=0.0) or self.state.phase is not before.phase
        if significant or now - self._saved_at >= self.settings.counters_every_s:
            batch.counters = c

    async def _commit(self, batch: Batch) -> None:
        await self.ctx.store.write(lambda conn: records.write(conn, batch))
        for name, uk, en, _ in batch.events:  # one journal line per event, after it is on disk
            log.log(logging.WARNING if name in records.URGENT else logging.INFO, "%s: %s / %s", name, uk, en)
        if batch.counters is not None:
            self._saved, self._saved_at = batch.counters, self._clock()
        self.ctx.outbox.wake()
        for listener in self.listeners:
            listener()

    async def _record_shutdown(self, entry: dict[str, Any]) -> None:
        batch = Batch()
        batch.event("SHUTDOWN_REQUESTED", f"Вузол вимикається: {entry['reason']}", f"Node shutting down: "
                    f"{entry['reason']}", by=entry["by"], command=entry["command"])
        await self._commit(batch)

    # --- readings -------------------------------------------------------------------------

    async def _sampler(self) -> None:
        """One sample per tick into the history; closed steps are stored and sent as telemetry."""
        while True:
            await asyncio.sleep(self.settings.tick_s)
            try:
                values = numbers(self.ups.current()) if self.ups is not None else {}
                values["mains"] = 1.0 if self.mains_present() else 0.0
                if self.generator is not None:
                    values["gen_running"] = 1.0 if self.generator.running else 0.0
                    values.update(await self.generator.readings())
                self.readings = values
                rows = self.history.add(values, time.time())
                if rows:
                    await self.ctx.store.write(lambda conn: self._store_rows(conn, rows))
            except Exception:
                log.exception("запис показів не вдався / recording readings failed")

    def _store_rows(self, conn: Any, rows: list[history.Row]) -> None:
        history.store(conn, rows, self.history)
        for row in rows:
            if row.step == self.history.fine:
                enqueue(conn, "power.reading", {"step_s": row.step, "t": row.bucket, **row.values},
                        Priority.TELEMETRY)

    # --- what others read -----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        st = self.state
        assert st is not None
        today: date = self._wall().date()
        due = service_countdown(self.config.policy, st.counters, today)
        ups = self.ups
        return {
            "mains_present": self.mains_present(),
            "generator": None if self.generator is None else {
                **self.generator.health(), "phase": str(st.phase), "reasons": sorted(str(r) for r in st.reasons),
                "attempts": st.attempts, "auto": st.auto, "manual": st.manual,
                "run_hours": round(st.counters.run_s / 3600, 3), "starts": st.counters.starts,
                "service": {"hours_left": round(due.hours_left, 2), "due_on": due.due_on.isoformat(), "due": due.due}},
            "ups": None if ups is None else {
                "name": ups.name, "kind": ups.kind, "comms": str(ups.health.state), "fsd": self.fsd,
                "failures": ups.health.total_failures, "last_fault": ups.health.last_fault,
                "variables": dict(ups.current() or {}), "stale": ups.current() is None},
            "alarms": sorted(str(a) for a in st.alarms),
            "alerts": sorted(self.book.open),
            "shutdown": {"critical_since": st.shutdown_since, "steps_done": st.shutdown_done,
                         "requests": list(self.shutdown.requests)},
            "readings": self.readings,
        }

