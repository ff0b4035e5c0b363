"""The seat's devices on gpiozero mock pins: presses, presence, debounce, flapping, lights."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from tests.conftest import wait_until
from voting.console.hardware import (ATTENTION, HALL_LOST, REFUSED, REGISTERED, Edge, InputWatch, Press, SeatDevices, SeatPins,
                             StatusLight)
from voting.console.sim import SeatSimulator

PINS = SeatPins("7", za=5, proty=6, utrymavsia=13, presence=19, led_za=20, led_proty=21, led_utrymavsia=26,
                led_status=16)


class Seat:
    """A seat on fresh mock pins, recording what it reports."""

    def __init__(self, pins: SeatPins = PINS, **kw: float) -> None:
        self.presses: list[Press] = []
        self.faults: list[tuple[str, bool]] = []
        self.devices = SeatDevices(pins, MockFactory(), self.presses.append,
                                   lambda seat, name, faulted: self.faults.append((name, faulted)), **kw)
        self.sim = SeatSimulator(self.devices)


@pytest.fixture
async def seat() -> AsyncIterator[Seat]:
    s = Seat(bounce_s=0.02, flap_edges=8, flap_window_s=0.4)
    yield s
    s.devices.close()


# -- the rules, over explicit times -----------------------------------------------------------------

def test_edges_within_the_bounce_time_of_an_accepted_edge_are_bounce() -> None:
    watch = InputWatch(bounce_s=0.05, flap_edges=12, flap_window_s=2.0)
    assert watch.edge(True, 10.000) is Edge.PRESS
    assert [watch.edge(a, t) for a, t in [(False, 10.002), (True, 10.004), (False, 10.030)]] == [Edge.BOUNCE] * 3
    assert watch.edge(True, 10.200) is Edge.PRESS


def test_a_deputy_pressing_at_human_pace_never_makes_a_fault() -> None:
    watch = InputWatch(bounce_s=0.05, flap_edges=12, flap_window_s=2.0)
    verdicts = [watch.edge(i % 2 == 0, i * 0.2) for i in range(100)]  # press/release every 0.4 s for 20 s
    assert Edge.FAULT not in verdicts and verdicts.count(Edge.PRESS) == 50


def test_more_edges_than_allowed_in_the_window_is_a_fault_ignored_until_quiet() -> None:
    watch = InputWatch(bounce_s=0.01, flap_edges=6, flap_window_s=1.0)
    verdicts = [watch.edge(i % 2 == 0, i * 0.05) for i in range(7)]
    assert verdicts[-1] is Edge.FAULT and Edge.FAULT not in verdicts[:-1]
    assert watch.edge(True, 0.5) is Edge.IGNORED and watch.edge(False, 1.2) is Edge.IGNORED
    assert not watch.settle(2.1)  # 0.9 s quiet since the last edge: not yet
    assert watch.settle(2.2) and not watch.faulted
    assert watch.edge(True, 2.3) is Edge.PRESS


# -- the seat on mock pins ------------------------------------------------------------------------------

async def test_a_press_with_presence_held_reports_its_choice_and_presence(seat: Seat) -> None:
    await seat.sim.press("proty", presence=True)
    await wait_until(lambda: seat.presses, timeout=2)
    assert [(p.seat, p.input, p.choice, p.presence) for p in seat.presses] == [("7", "proty", "Проти", True)]


async def test_a_press_without_presence_is_reported_as_without_presence(seat: Seat) -> None:
    await seat.sim.press("За", presence=False)
    await wait_until(lambda: seat.presses, timeout=2)
    assert seat.presses[0].presence is False and seat.presses[0].choice == "За"


async def test_presence_released_before_the_press_does_not_count(seat: Seat) -> None:
    seat.sim.hold_presence(True)
    await asyncio.sleep(0.05)
    seat.sim.hold_presence(False)
    await asyncio.sleep(0.05)
    await seat.sim.press("za", presence=False)
    await wait_until(lambda: seat.presses, timeout=2)
    assert seat.presses[0].presence is False


async def test_contact_bounce_makes_one_press(seat: Seat) -> None:
    seat.sim.chatter("utrymavsia", edges=7)
    await asyncio.sleep(0.1)
    assert [p.choice for p in seat.presses] == ["Утримався"]
    await seat.sim.press("utrymavsia")
    await wait_until(lambda: len(seat.presses) == 2, timeout=2)


async def test_a_flapping_button_is_reported_as_a_fault_and_its_edges_are_not_presses(seat: Seat) -> None:
    await seat.sim.flap("za", edges=14, interval_s=0.025)
    await wait_until(lambda: ("za", True) in seat.faults, timeout=2)
    presses_at_fault = len(seat.presses)
    assert presses_at_fault <= 8 // 2  # only the edges before the fault could be taken for presses
    assert seat.devices.faults == ["za"]
    await seat.sim.press("za")  # still within the quiet time: ignored
    await asyncio.sleep(0.05)
    assert len(seat.presses) == presses_at_fault
    await wait_until(lambda: ("za", False) in seat.faults, timeout=3, what="the input to settle")
    await seat.sim.press("za")
    await wait_until(lambda: len(seat.presses) == presses_at_fault + 1, timeout=2)


async def test_a_flapping_presence_sensor_counts_as_nobody_present(seat: Seat) -> None:
    await seat.sim.flap("presence", edges=12, interval_s=0.025)
    await wait_until(lambda: ("presence", True) in seat.faults, timeout=2)
    await seat.sim.press("za", presence=True)
    await wait_until(lambda: seat.presses, timeout=2)
    assert seat.presses[-1].presence is False


async def test_a_seat_without_presence_sensor_reports_no_presence() -> None:
    s = Seat(SeatPins("8", 5, 6, 13, None, 20, 21, 26, 16))
    try:
        await s.sim.press("za", presence=True)
        await wait_until(lambda: s.presses, timeout=2)
        assert s.presses[0].presence is False
    finally:
        s.devices.close()


async def test_only_the_recorded_choice_lights_its_led(seat: Seat) -> None:
    seat.devices.show_choice("Утримався")
    assert (seat.devices.leds["utrymavsia"].is_lit, seat.devices.leds["za"].is_lit,
            seat.devices.leds["proty"].is_lit) == (True, False, False)
    seat.devices.show_choice(None)
    assert not any(led.is_lit for led in seat.devices.leds.values())


# -- status LED patterns ----------------------------------------------------------------------------------

@pytest.fixture
async def status_led() -> AsyncIterator[LED]:
    led = LED(16, pin_factory=MockFactory())
    yield led
    led.close()


def changes(led: LED) -> list[tuple[bool, float]]:
    """Each change of the LED since the last clear: (lit after it, seconds the previous state lasted)."""
    return [(s.state, s.timestamp) for s in led.pin.states[1:]]


async def test_a_refusal_flashes_three_times_then_returns_to_the_steady_base(status_led: LED) -> None:
    light = StatusLight(status_led)
    light.show(REGISTERED)
    await asyncio.sleep(0.05)
    status_led.pin.clear_states()
    light.flash(REFUSED)
    assert light.pattern == "refused"
    await asyncio.sleep(0.9)
    assert light.pattern == "registered" and status_led.is_lit
    seen = changes(status_led)
    assert [lit for lit, _ in seen] == [False, True] * 4  # dark, three flashes, dark, steady again
    flashes = [held for lit, held in seen[2::2]][:3]  # how long each flash stayed lit
    assert all(abs(t - 0.1) < 0.05 for t in flashes)
    light.close()


async def test_a_lost_hall_shows_a_double_flash_that_repeats(status_led: LED) -> None:
    light = StatusLight(status_led)
    status_led.pin.clear_states()
    light.show(HALL_LOST)
    await asyncio.sleep(1.4)  # a cycle is 1.25 s
    light.close()
    seen = changes(status_led)
    lit_for = [held for lit, held in seen if not lit]
    dark_for = [held for lit, held in seen[1:] if lit]
    assert len(lit_for) == 3 and all(abs(t - 0.1) < 0.05 for t in lit_for)  # flash, flash, and again
    assert abs(dark_for[0] - 0.15) < 0.05 and abs(dark_for[1] - 0.9) < 0.1


async def test_showing_the_same_base_again_does_not_restart_its_rhythm(status_led: LED) -> None:
    light = StatusLight(status_led)
    light.show(ATTENTION)
    await asyncio.sleep(0.1)
    status_led.pin.clear_states()
    for _ in range(5):
        light.show(ATTENTION)  # every state message from the hall repeats it
        await asyncio.sleep(0.1)
    light.close()
    assert len(changes(status_led)) == 1  # one change at 0.5 s, none from the repeats
