"""Real NUT against our parts: nutdrv_qx on the simulated Q1 UPS, our client on a real
upsd with dummy-ups, and our NUT server read by the real upsc.

The NUT programs run in the foreground from a temporary directory:
NUT_CONFPATH holds ups.conf (and upsd.conf, upsd.users), NUT_STATEPATH the
driver sockets, NUT_ALTPIDPATH the pid files; ``-u <our user>`` keeps them
from switching to the ``nut`` account when the tests run as root (a no-op
otherwise). Every process is stopped in the fixture's finally.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from power.nutclient import NutClient, NutPoller, NutPollerConfig
from power.nutproto import NutErrorCode, NutRemoteError, ServerConfig, UpsView
from power.nutserver import NutServer
from power.q1driver import Q1Driver, Q1DriverConfig
from power.sim_ups import Garble, SimState, SimulatedQ1Ups
from power.status import CommsConfig, UpsEvent, parse_status, q1_variables
from tests.conftest import free_port, wait_until

NUT_DIRS = [Path("/lib/nut"), Path("/usr/lib/nut"), Path("/usr/libexec/nut")]
NUT_DIR = next((d for d in NUT_DIRS if (d / "upsd").exists()), None)
UPSC = shutil.which("upsc")
needs_nut = pytest.mark.skipif(
    NUT_DIR is None or UPSC is None,
    reason="NUT binaries absent (Debian: apt-get install nut-server nut-client)")
CORE = {"OL", "OB", "LB"}  # the tokens every Q1 reader must agree on
# As root, NUT programs switch to the "nut" account unless told otherwise; that
# account cannot read our temp dirs. As anyone else, -u with our own name is a no-op.
RUN_AS = pwd.getpwuid(os.getuid()).pw_name


class NutRig:
    """A private NUT installation in a temp dir; stop() ends whatever it started."""

    def __init__(self, root: Path):
        self.conf, self.state = root / "conf", root / "state"
        self.conf.mkdir()
        self.state.mkdir()
        self.logs = root
        self.env = {**os.environ, "NUT_CONFPATH": str(self.conf), "NUT_STATEPATH": str(self.state),
                    "NUT_ALTPIDPATH": str(self.state)}
        self.procs: dict[str, subprocess.Popen] = {}

    def write(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.conf / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def run(self, name: str, program: str, *args: str) -> subprocess.Popen:
        assert NUT_DIR is not None
        with open(self.logs / f"{name}.log", "wb") as log:
            p = subprocess.Popen([str(NUT_DIR / program), "-F", "-u", RUN_AS, *args],
                                 env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_socket(self, name: str, timeout: float = 10.0) -> Path:
        path = self.state / name
        wait_sync(path.exists, timeout, f"driver socket {name}\n" + self.all_logs())
        return path

    def all_logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)}" for n in self.procs)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


@pytest.fixture
def nut(tmp_path: Path) -> Iterator[NutRig]:
    rig = NutRig(tmp_path)
    try:
        yield rig
    finally:
        rig.stop()


def wait_sync(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def driver_dump(sock: Path) -> dict[str, str]:
    """All variables a NUT driver holds, read from its state socket (as upsd does)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(3)
        s.connect(str(sock))
        s.sendall(b"DUMPALL\n")
        data = b""
        # The driver also broadcasts its updates to every open socket, so more
        # lines may follow DUMPDONE in the same read.
        while b"DUMPDONE\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    out = {}
    for line in data.split(b"DUMPDONE\n")[0].decode().splitlines():
        if line.startswith("SETINFO "):
            _, name, value = line.split(" ", 2)
            out[name] = value.strip('"').replace('\\"', '"')
    return out


def driver_instcmd(sock: Path, cmd: str) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(3)
        s.connect(str(sock))
        s.sendall(f"INSTCMD {cmd}\n".encode())


# --- nutdrv_qx on the simulated Q1 UPS ----------------------------------------

@pytest.fixture
def qx(nut: NutRig) -> Iterator[tuple[SimulatedQ1Ups, Path]]:
    with SimulatedQ1Ups() as sim:
        nut.write("ups.conf", f"[sim]\n  driver = nutdrv_qx\n  port = {sim.port}\n"
                              "  pollinterval = 1\n  pollfreq = 5\n")
        nut.run("nutdrv_qx", "nutdrv_qx", "-a", "sim")
        sock = nut.wait_socket("nutdrv_qx-sim")
        wait_sync(lambda: "ups.status" in driver_dump(sock), 10, "first status\n" + nut.all_logs())
        yield sim, sock


def qx_tokens(sock: Path) -> frozenset[str]:
    return parse_status(driver_dump(sock).get("ups.status", ""))


@needs_nut
def test_nutdrv_qx_follows_the_simulated_ups_from_ol_to_ob_to_ob_lb_and_back(qx):
    sim, sock = qx
    seen = []
    for state in (SimState.ON_LINE, SimState.ON_BATTERY, SimState.LOW_BATTERY, SimState.ON_LINE):
        sim.go(state)
        ours = CORE & set(parse_status(q1_variables(sim.status())["ups.status"]))
        wait_sync(lambda: CORE & qx_tokens(sock) == ours, 8, f"nutdrv_qx to report {ours}")
        seen.append(" ".join(sorted(ours)))
    assert seen == ["OL", "OB", "LB OB", "OL"]


@needs_nut
def test_nutdrv_qx_reads_the_same_values_as_our_own_q1_reading(qx):
    sim, sock = qx
    theirs = driver_dump(sock)
    ours = q1_variables(sim.status(), None, sim.config.rating, sim.config.info)
    assert theirs["driver.version.data"].startswith("Megatec")
    compared = 0
    for name in ("input.voltage", "output.voltage", "ups.load", "input.frequency", "battery.voltage",
                 "ups.temperature", "input.voltage.nominal", "battery.voltage.nominal",
                 "input.frequency.nominal", "device.mfr", "device.model", "ups.firmware",
                 "ups.type", "ups.beeper.status"):
        a, b = theirs[name], ours[name]
        try:
            assert float(a) == float(b), name
        except ValueError:
            assert a == b, name
        compared += 1
    assert compared == 14


@needs_nut
def test_nutdrv_qx_commands_are_accepted_by_the_simulated_ups(qx):
    sim, sock = qx
    driver_instcmd(sock, "test.battery.start.quick")
    wait_sync(lambda: "CAL" in qx_tokens(sock), 8, "CAL after a battery test")
    assert "T" in sim.received
    driver_instcmd(sock, "shutdown.stayoff")
    wait_sync(lambda: any(c.startswith("S") and c.endswith("R0000") for c in sim.received), 8,
              "the shutdown command")
    assert sim.status().flags.shutdown_active


# --- our NUT client on a real upsd with dummy-ups ----------------------------

DEV = "ups.status: {status}\nbattery.charge: {charge}\nbattery.runtime: {runtime}\ndevice.mfr: Sim\n"


@pytest.fixture(scope="module")
def upsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NutRig, int]]:
    """One upsd with two dummy-ups drivers, started once for this module (~3 s).

    ``steady`` is only read; ``changing`` belongs to the one test that edits
    its file and stops its driver, so no test depends on another's leftovers.
    """
    if NUT_DIR is None or UPSC is None:
        pytest.skip("NUT binaries absent (Debian: apt-get install nut-server nut-client)")
    nut = NutRig(tmp_path_factory.mktemp("upsd"))
    try:
        port = free_port()
        conf = ""
        for name in ("steady", "changing"):
            nut.write(f"{name}.dev", DEV.format(status="OL", charge=100, runtime=1800), 0o644)
            conf += (f'[{name}]\n  driver = dummy-ups\n  port = {name}.dev\n'
                     f'  desc = "Test UPS {name}"\n  pollinterval = 1\n')
        nut.write("ups.conf", conf)
        nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\nMAXAGE 2\n")
        nut.write("upsd.users", "[mon]\n  password = secret\n  upsmon secondary\n  instcmds = ALL\n")
        for name in ("steady", "changing"):
            nut.run(name, "dummy-ups", "-a", name)
        for name in ("steady", "changing"):
            nut.wait_socket(f"dummy-ups-{name}")
        nut.run("upsd", "upsd")

        def ready() -> bool:
            return all(subprocess.run([UPSC, f"{name}@127.0.0.1:{port}", "ups.status"],
                                      capture_output=True, text=True, timeout=5).stdout.strip() == "OL"
                       for name in ("steady", "changing"))

        wait_sync(ready, 10, "upsd to serve dummy-ups\n" + nut.all_logs())
        yield nut, port
    finally:
        nut.stop()


@needs_nut
async def test_nut_client_lists_reads_and_logs_in_to_a_real_upsd(upsd):
    _, port = upsd
    async with NutClient("127.0.0.1", port) as c:
        assert await c.list_ups() == {"steady": "Test UPS steady",
                                      "changing": "Test UPS changing"}
        found = await c.list_var("steady")
        assert found["ups.status"] == "OL" and found["battery.charge"] == "100"
        assert await c.get_var("steady", "battery.runtime") == "1800"
        for call, code in ((c.get_var("steady", "no.such.var"), NutErrorCode.VAR_NOT_SUPPORTED),
                           (c.list_var("nope"), NutErrorCode.UNKNOWN_UPS)):
            with pytest.raises(NutRemoteError) as e:
                await call
            assert e.value.code == code
        await c.authenticate("mon", "secret")
        await c.login("steady")
        # dummy-ups offers no instant commands in dummy mode: upsd says so.
        with pytest.raises(NutRemoteError) as e:
            await c.instcmd("steady", "test.battery.start.quick")
        assert e.value.code == NutErrorCode.CMD_NOT_SUPPORTED
        await c.logout()
    async with NutClient("127.0.0.1", port) as c:
        await c.authenticate("mon", "wrong")
        with pytest.raises(NutRemoteError) as e:
            await c.login("steady")
        assert e.value.code == NutErrorCode.ACCESS_DENIED


@needs_nut
async def test_nut_poller_follows_dummy_ups_and_never_serves_stale_data(upsd):
    nut, port = upsd
    driver = nut.procs["changing"]
    events: list[UpsEvent] = []
    poller = NutPoller(NutPollerConfig("changing", port=port, interval_s=0.2, username="mon",
                                       password="secret", login=True,
                                       comms=CommsConfig(commbad_after=3, nocomm_after=100)),
                       on_events=events.extend)
    poller.start()
    try:
        await wait_until(lambda: poller.current() is not None, 5, what="a first reading")
        assert poller.ups_state().charge_percent == 100
        (nut.conf / "changing.dev").write_text(DEV.format(status="OB", charge=40, runtime=600))
        await wait_until(lambda: UpsEvent.ONBATT in events, 8, what="ONBATT")
        assert poller.ups_state().runtime_s == 600
        driver.send_signal(signal.SIGSTOP)  # the driver hangs: upsd calls its data stale
        await wait_until(lambda: poller.current() is None, 10, what="DATA-STALE")
        assert poller.view().stale and poller.ups_state().comms_lost
        driver.send_signal(signal.SIGCONT)
        await wait_until(lambda: poller.current() is not None, 10, what="fresh data again")
        assert "OB" in poller.ups_state().status
    finally:
        driver.send_signal(signal.SIGCONT)
        await poller.stop()


# --- the node's NUT server read by the real upsc ------------------------------

async def upsc(*args: str) -> tuple[int, str, str]:
    """The real upsc's exit code, standard output and error output."""
    p = await asyncio.create_subprocess_exec(UPSC, *args, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 10)
    return p.returncode, out.decode(), err.decode()


@needs_nut
async def test_upsc_reads_the_simulated_ups_through_our_driver_and_server():
    with SimulatedQ1Ups() as sim:
        driver = Q1Driver(Q1DriverConfig(sim.port, read_timeout_s=0.2))
        server = NutServer(lambda: {"zal": driver.view("zal", "ДБЖ залу засідань")}, port=0)
        await server.start()
        try:
            sim.go(SimState.LOW_BATTERY)
            await asyncio.to_thread(driver.poll)
            target = f"zal@127.0.0.1:{server.port}"
            rc, out, err = await upsc(target)
            assert rc == 0, err
            assert "ups.status: OB DISCHRG LB" in out and "device.mfr: HROMADA-SIM" in out
            _, out, _ = await upsc(target, "battery.voltage")
            assert out.strip() == f"{sim.status().battery_voltage:.2f}"
            _, out, _ = await upsc("-l", f"127.0.0.1:{server.port}")
            assert out.split() == ["zal"]
            sim.garble(Garble.SILENCE)  # the unit stops answering: COMMBAD, then stale
            for _ in range(driver.config.comms.commbad_after):
                await asyncio.to_thread(driver.poll)
            rc, out, err = await upsc(target)
            assert rc != 0 and "Data stale" in err and out == ""
        finally:
            await server.stop()
            driver.close()


@needs_nut
async def test_our_server_counts_logged_in_monitors_and_refuses_commands():
    view = UpsView("ups", "Test", {"ups.status": "OL"}, ("test.battery.start.quick",))
    server = NutServer(lambda: {"ups": view}, port=0,
                       config=ServerConfig(monitors={"mon": "secret"}))
    await server.start()
    try:
        async with NutClient("127.0.0.1", server.port) as c:
            await c.authenticate("mon", "secret")
            await c.login("ups")
            rc, out, _ = await upsc("-c", f"ups@127.0.0.1:{server.port}")
            assert rc == 0 and out.split() == ["127.0.0.1"]
            with pytest.raises(NutRemoteError) as e:
                await c.instcmd("ups", "test.battery.start.quick")
            assert e.value.code == NutErrorCode.ACCESS_DENIED
        await wait_until(lambda: not server.views()["ups"].clients, 5, what="logout to count")
    finally:
        await server.stop()
