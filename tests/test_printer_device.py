"""The ticket printer adapter against the simulated printer on a real pty.

Status before every job, refusal on a bad status, bounded waits on a silent
or stalled printer, and what the printer decoded from the bytes it was sent.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from kiosk.terminal.escpos import (
    CLONE_58_CP1251, EPSON_80_CP1125, EPSON_80_CP1251, RASTER_58, RASTER_80, PrinterProfile,
    TicketSlip)
from kiosk.terminal.hardware import (
    STATUS_QUERIES, PrinterState, PrintOutcome, EscPosPrinter, decode_status, is_status_byte)
from kiosk.terminal.sim_printer import STATUS_REPLIES, SimState, SimulatedPrinter

SLIP = TicketSlip(
    community="Їжакевицька громада",
    centre="ЦНАП «Ґудзик»",
    number="Б007",
    service="Довідка про склад сім’ї та єдиний квиток",
    issued_at=datetime(2025, 3, 5, 14, 5),
    people_ahead=2,
    status_url="http://queue.local/t/B007",
)
STATUS_TIMEOUT = 0.2
WRITE_TIMEOUT = 0.5


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatedPrinter]:
    profile = getattr(request, "param", EPSON_80_CP1251)
    with SimulatedPrinter(profile, kanji_at_start=profile.cancel_kanji) as printer:
        yield printer


@pytest.fixture
def printer(sim: SimulatedPrinter) -> Iterator[EscPosPrinter]:
    device = EscPosPrinter(sim.path, sim.profile, baudrate=115200,
                           status_timeout=STATUS_TIMEOUT, write_timeout=WRITE_TIMEOUT)
    yield device
    device.close()


@pytest.mark.parametrize("sim", [EPSON_80_CP1251, EPSON_80_CP1125, CLONE_58_CP1251],
                         indirect=True, ids=lambda p: p.name)
def test_printed_ticket_reads_back_in_ukrainian(sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    result = printer.print_ticket(SLIP)
    assert result.outcome is PrintOutcome.PRINTED and result.state is PrinterState.OK
    [receipt] = sim.wait_for_receipts(1)
    text = " ".join(receipt.text.split())
    for expected in ("Їжакевицька громада", 'ЦНАП "Ґудзик"' if sim.profile.code_page == "cp1125"
                     else "ЦНАП «Ґудзик»", "Б007", "сім", "єдиний квиток", "Перед вами: 2 особи"):
        assert expected in text
    assert set(receipt.code_pages) == {sim.profile.code_page}
    assert receipt.qr_payloads == ([SLIP.status_url] if sim.profile.native_qr else [])


@pytest.mark.parametrize("sim", [RASTER_58, RASTER_80], indirect=True, ids=lambda p: p.name)
def test_raster_ticket_arrives_as_one_image_of_paper_width(
        sim: SimulatedPrinter, printer: EscPosPrinter, tmp_path: Path) -> None:
    assert printer.print_ticket(SLIP).printed
    [receipt] = sim.wait_for_receipts(1)
    [image] = receipt.images
    assert image.shape[1] == sim.profile.dots_per_line
    assert 0.03 < image.mean() < 0.5  # ink, but not a black slab
    [png] = receipt.save_images(tmp_path)
    import pygame  # imported here: save_images has set up its quiet, headless environment

    assert pygame.image.load(str(png)).get_size() == (image.shape[1], image.shape[0])


def test_paper_near_end_still_prints_and_asks_for_a_technician(
        sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    sim.state = SimState.PAPER_NEAR_END
    result = printer.print_ticket(SLIP)
    assert result.printed and result.state is PrinterState.PAPER_NEAR_END
    assert result.state.needs_technician
    assert len(sim.wait_for_receipts(1)) == 1


@pytest.mark.parametrize("state, expected", [
    (SimState.PAPER_OUT, PrinterState.PAPER_OUT), (SimState.COVER_OPEN, PrinterState.COVER_OPEN),
    (SimState.OFFLINE, PrinterState.OFFLINE), (SimState.ERROR, PrinterState.ERROR),
    (SimState.NO_ANSWER, PrinterState.NO_ANSWER)])
def test_bad_status_refuses_the_job_and_sends_nothing(
        sim: SimulatedPrinter, printer: EscPosPrinter, state: SimState, expected: PrinterState) -> None:
    sim.state = state
    result = printer.print_ticket(SLIP)
    assert result.outcome is PrintOutcome.REFUSED and result.state is expected
    assert not result.state.can_print and result.state.uk and result.state.en
    time.sleep(0.1)
    assert sim.receipts == [] and sim.pending.lines == []
    assert sim.bytes_received <= 3 * len(STATUS_QUERIES)  # only the questions


def test_the_printer_recovers_when_paper_is_loaded(sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    sim.state = SimState.PAPER_OUT
    assert printer.print_ticket(SLIP).outcome is PrintOutcome.REFUSED
    sim.state = SimState.OK
    assert printer.print_ticket(SLIP).printed
    assert len(sim.wait_for_receipts(1)) == 1


def test_silent_printer_is_unknown_within_the_status_timeout(
        sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    sim.stall()  # reads nothing at all: the question is never seen
    result = printer.print_ticket(SLIP)
    assert result.outcome is PrintOutcome.REFUSED and result.state is PrinterState.NO_ANSWER
    assert result.seconds < STATUS_TIMEOUT + 0.5


@pytest.mark.parametrize("sim", [RASTER_80], indirect=True, ids=lambda p: p.name)
def test_printer_stalled_mid_job_gives_a_timeout_within_the_write_timeout(
        sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    # Answers the three status questions, takes a little of the ticket, then stops
    # reading; the raster ticket is larger than the pty buffer, so the write blocks.
    sim.stall(after_bytes=3 * len(STATUS_QUERIES) + 100)
    result = printer.print_ticket(SLIP)
    assert result.outcome is PrintOutcome.TIMEOUT and not result.printed
    assert result.seconds < WRITE_TIMEOUT + 3 * STATUS_TIMEOUT + 0.5
    assert sim.receipts == []


@pytest.mark.parametrize("sim", [RASTER_80], indirect=True, ids=lambda p: p.name)
async def test_stalled_printer_does_not_block_the_event_loop(
        sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    sim.stall(after_bytes=3 * len(STATUS_QUERIES) + 100)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    result = await printer.print_ticket_async(SLIP)
    task.cancel()
    assert result.outcome is PrintOutcome.TIMEOUT
    assert ticks >= int(WRITE_TIMEOUT / 0.02) // 2  # the loop kept running during the stall


async def test_async_print_and_status(sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    assert await printer.status_async() is PrinterState.OK
    assert (await printer.print_ticket_async(SLIP)).printed
    assert len(sim.wait_for_receipts(1)) == 1


def test_ticket_the_code_page_cannot_carry_fails_before_touching_the_printer(
        sim: SimulatedPrinter, printer: EscPosPrinter) -> None:
    result = printer.print_ticket(TicketSlip(**{**{n: getattr(SLIP, n) for n in TicketSlip.__slots__},
                                                "service": "Послуга ☎"}))
    assert result.outcome is PrintOutcome.FAILED and "U+260E" in result.detail
    time.sleep(0.1)
    assert sim.bytes_received == 0


def test_missing_device_is_an_error_not_a_crash() -> None:
    device = EscPosPrinter("/dev/nonexistent-ticket-printer", EPSON_80_CP1251, status_timeout=0.1)
    try:
        result = device.print_ticket(SLIP)
    finally:
        device.close()
    assert result.outcome is PrintOutcome.REFUSED and result.state is PrinterState.ERROR


def test_an_echo_is_not_mistaken_for_a_status_answer() -> None:
    # loop:// sends our own DLE EOT back: 0x10 lacks the 0xx1xx10 pattern of a status byte.
    device = EscPosPrinter("loop://", EPSON_80_CP1251, status_timeout=0.1)
    try:
        assert device.status() is PrinterState.ERROR
    finally:
        device.close()


@pytest.mark.parametrize("state", list(STATUS_REPLIES))
def test_status_bytes_decode_to_the_state_the_printer_reports(state: SimState) -> None:
    replies = STATUS_REPLIES[state]
    assert all(is_status_byte(b) for b in replies.values())
    assert decode_status(*(replies[n] for n in STATUS_QUERIES)) == PrinterState(state.value)


def test_malformed_status_byte_is_an_error_and_never_ok() -> None:
    assert decode_status(0x12, 0x12, 0x13) is PrinterState.ERROR
    assert not any(is_status_byte(b) for b in (0x00, 0xFF, 0x10, 0x92))
    assert np.all([is_status_byte(0x12 | bits) for bits in (0x04, 0x08, 0x20, 0x40, 0x6C)])
