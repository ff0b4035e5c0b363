"""The RDM6300 card reader: a strict frame parser, one report per presentation, a real pty."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import wait_until
from voting.console.hardware import CardReader, PresentationFilter, Rdm6300Parser, Rdm6300Reader, rdm6300_frame
from voting.console.sim import Rdm6300Pty, SimulatedCardReader

CARD = "0A1B2C3D4E"

cards = st.binary(min_size=5, max_size=5).map(lambda b: b.hex().upper())
junk = st.binary(max_size=20).map(lambda b: b.replace(b"\x02", b""))  # bytes between frames, no STX


def test_a_frame_carries_the_card_and_the_xor_of_its_five_bytes() -> None:
    assert rdm6300_frame("0000000000") == b"\x020000000000" + b"00\x03"
    assert rdm6300_frame(CARD) == b"\x02" + b"0A1B2C3D4E" + f"{0x0A ^ 0x1B ^ 0x2C ^ 0x3D ^ 0x4E:02X}".encode() + b"\x03"


def test_a_good_frame_is_read_and_counted() -> None:
    parser = Rdm6300Parser()
    assert parser.feed(rdm6300_frame(CARD)) == [CARD]
    assert parser.stats.frames == 1 and parser.stats.bad_frames == parser.stats.bad_checksum == 0


def test_a_frame_with_a_wrong_checksum_is_counted_and_skipped() -> None:
    frame = bytearray(rdm6300_frame(CARD))
    frame[11:13] = b"00" if frame[11:13] != b"00" else b"11"
    parser = Rdm6300Parser()
    assert parser.feed(bytes(frame) + rdm6300_frame("1122334455")) == ["1122334455"]
    assert parser.stats.bad_checksum == 1


def test_frames_of_the_wrong_length_or_with_non_hex_characters_are_counted_and_skipped() -> None:
    parser = Rdm6300Parser()
    short = b"\x020A1B2C3D\x03"
    long = b"\x02" + b"0A1B2C3D4E5F6A7B" + b"\x03"
    not_hex = b"\x02" + b"0A1B2C3D4G" + b"00\x03"
    cut = b"\x020A1B2"  # a new STX before this frame ended
    assert parser.feed(short + long + not_hex + cut + rdm6300_frame(CARD)) == [CARD]
    assert parser.stats.bad_frames == 4 and parser.stats.frames == 1


def test_junk_between_frames_is_counted_and_skipped() -> None:
    parser = Rdm6300Parser()
    assert parser.feed(b"\xff\x00noise\x03" + rdm6300_frame(CARD) + b"\r\n") == [CARD]
    assert parser.stats.junk_bytes == 10


def test_lowercase_hex_is_read_as_the_same_card() -> None:
    assert Rdm6300Parser().feed(rdm6300_frame(CARD).lower()) == [CARD]


@given(st.binary(max_size=300))
def test_any_bytes_at_all_never_raise_and_are_all_accounted_for(data: bytes) -> None:
    parser = Rdm6300Parser()
    found = parser.feed(data)
    assert all(len(c) == 10 and all(ch in "0123456789ABCDEF" for ch in c) for c in found)
    assert len(found) == parser.stats.frames
    assert parser.stats.junk_bytes <= len(data)


@given(st.lists(st.tuples(junk, cards), max_size=8), st.integers(min_value=1, max_value=15))
@settings(max_examples=200)
def test_valid_frames_among_junk_round_trip_whatever_the_read_sizes(items: list[tuple[bytes, str]], chunk: int) -> None:
    stream = b"".join(j + rdm6300_frame(c) for j, c in items)
    parser = Rdm6300Parser()
    found = [card for i in range(0, len(stream), chunk) for card in parser.feed(stream[i:i + chunk])]
    assert found == [c for _, c in items]
    assert parser.stats.bad_frames == parser.stats.bad_checksum == 0


def test_a_held_card_is_one_presentation_and_a_later_one_is_another() -> None:
    seen = PresentationFilter(repeat_s=1.0)
    assert seen.fresh(CARD, 0.0)
    assert not any(seen.fresh(CARD, t / 10) for t in range(1, 30))  # held for 3 s, a frame every 0.1 s
    assert seen.fresh("1122334455", 3.0)  # another card is its own presentation
    assert seen.fresh(CARD, 4.5)  # taken away for 1.6 s, shown again


# -- the reader on a real pty ----------------------------------------------------------------------------

async def test_the_reader_on_a_pty_reports_a_held_card_once_and_survives_bad_frames() -> None:
    sim = Rdm6300Pty()
    got: list[str] = []
    reader = Rdm6300Reader(sim.path, got.append, repeat_s=0.5)
    reader.start()
    try:
        await wait_until(lambda: reader.port_open, timeout=5, what="the port to open")
        await sim.present(CARD, hold_s=0.4)  # four frames
        await wait_until(lambda: got, timeout=2)
        sim.write(b"\x02ZZZZZZZZZZZZ\x03\x01\x02" + rdm6300_frame(CARD)[1:11] + b"00\x03")
        await asyncio.sleep(0.6)  # card taken away
        await sim.present(CARD, hold_s=0.1)
        await wait_until(lambda: len(got) == 2, timeout=2)
        assert got == [CARD, CARD]
        health = reader.health()
        assert health["port_open"] and health["cards"] == 2 and health["repeats"] == 3
        assert health["bad_frames"] == 1 and health["bad_checksum"] == 1 and health["junk_bytes"] == 1
    finally:
        await reader.stop()
        sim.close()


async def test_a_missing_port_is_retried_and_reported_not_raised(tmp_path: Path) -> None:
    reader = Rdm6300Reader(str(tmp_path / "ttyUSB9"), lambda card: None, reopen_s=0.05)
    reader.start()
    try:
        await wait_until(lambda: reader.stats.port_errors >= 2, timeout=2)
        assert not reader.port_open and "ttyUSB9" in reader.health()["last_error"]
    finally:
        await reader.stop()


async def test_the_real_and_the_simulated_reader_are_both_card_readers(tmp_path: Path) -> None:
    real = Rdm6300Reader(str(tmp_path / "ttyUSB9"), lambda card: None)
    simulated = SimulatedCardReader(lambda card: None)
    try:
        assert isinstance(real, CardReader) and isinstance(simulated, CardReader)
    finally:
        simulated.close()
