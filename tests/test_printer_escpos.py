"""The ticket's ESC/POS bytes, read back by the simulated printer's decoder.

Device behaviour (pty, status, timeouts) is in test_printer_device.py.
"""

from __future__ import annotations

import importlib.metadata
import json
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.terminal.escpos import (
    CLONE_58_CP1251, EPSON_80_CP1125, EPSON_80_CP1251, ESC, PROFILES, RASTER_58, RASTER_80,
    UKRAINIAN_LETTERS, PrinterProfile, ReceiptBuilder, TicketSlip, UnencodableText, encode_text,
    qr_code, render_line, ticket_bitmap, ticket_bytes, ticket_lines)
from kiosk.terminal.sim_printer import EscPosDecoder, Receipt

SLIP = TicketSlip(
    community="Ґалаґанівська територіальна громада",
    centre="ЦНАП м. Ірпінь",
    number="А042",
    service="Реєстрація місця проживання та їхні ґрунтові ділянки",
    issued_at=datetime(2025, 3, 5, 9, 41),
    people_ahead=3,
    status_url="http://queue.hromada.local:8080/t/2025-03-05/A042",
)
TEXT_PROFILES = [EPSON_80_CP1251, EPSON_80_CP1125, CLONE_58_CP1251]


def decode(data: bytes, profile: PrinterProfile, kanji_at_start: bool = False) -> list[Receipt]:
    decoder = EscPosDecoder(profile.code_pages or {0: "cp437"}, kanji_at_start=kanji_at_start)
    decoder.feed(data)
    return decoder.receipts


def words(receipt: Receipt) -> str:
    return " ".join(receipt.text.split())  # line wrapping does not matter to the reader


def qr_in(image: np.ndarray) -> str:
    pixels = np.pad(np.where(image, 0, 255).astype(np.uint8), 20, constant_values=255)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
    return text


def contains(image: np.ndarray, part: np.ndarray) -> bool:
    """``part`` occurs pixel for pixel somewhere in ``image``."""
    rows = np.flatnonzero(part.any(axis=1))
    cols = np.flatnonzero(part.any(axis=0))
    part = part[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    scores = cv2.matchTemplate(image.astype(np.float32), part, cv2.TM_SQDIFF)
    return float(scores.min()) < 0.5  # each differing pixel adds 1; FFT rounding adds far less


@pytest.mark.parametrize("profile", TEXT_PROFILES, ids=lambda p: p.name)
def test_ticket_reads_back_in_ukrainian_in_its_code_page(profile: PrinterProfile) -> None:
    [receipt] = decode(ticket_bytes(SLIP, profile), profile, kanji_at_start=profile.cancel_kanji)
    text = words(receipt)
    for expected in (SLIP.community, SLIP.centre, SLIP.service, "Ваш номер / Your number",
                     "05.03.2025 09:41", "Перед вами: 3 особи", "People ahead: 3"):
        assert expected in text
    assert set("іїєґІ") <= set(text)
    assert set(receipt.code_pages) == {profile.code_page}
    assert receipt.unknown == []


@pytest.mark.parametrize("profile", TEXT_PROFILES, ids=lambda p: p.name)
def test_ticket_number_is_big_bold_and_centred(profile: PrinterProfile) -> None:
    [receipt] = decode(ticket_bytes(SLIP, profile), profile, kanji_at_start=profile.cancel_kanji)
    [number] = [line for line in receipt.lines if line.text == "А042"]
    assert (number.bold, number.align, number.width, number.height) == (True, "center", 3, 3)
    assert all(len(line.text) * line.width <= profile.chars_per_line for line in receipt.lines)


@pytest.mark.parametrize("profile", TEXT_PROFILES, ids=lambda p: p.name)
def test_qr_code_carries_the_status_url(profile: PrinterProfile) -> None:
    [receipt] = decode(ticket_bytes(SLIP, profile), profile, kanji_at_start=profile.cancel_kanji)
    if profile.native_qr:
        assert receipt.qr_payloads == [SLIP.status_url]
    else:  # drawn as a raster image: read it back like a phone would
        [image] = receipt.images
        assert qr_in(image) == SLIP.status_url


# --- an outside oracle: python-escpos's printer database and the ESC/POS QR spec ----------

#: The model in escpos-printer-db (python-escpos's capabilities.json) each profile stands for.
ESCPOS_DB_MODEL = {"epson-80-cp1251": "TM-T20II", "epson-80-cp1125": "TM-T20II", "clone-58-cp1251": "POS-5890"}


def escpos_db_code_pages(model: str) -> dict[int, str]:
    """``ESC t n`` number → Python codec, as escpos-printer-db records it for ``model``."""
    path = importlib.metadata.distribution("python-escpos").locate_file("escpos/capabilities.json")
    db = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    pages = db["profiles"][model]["codePages"]
    return {int(n): db["encodings"][name].get("python_encode", "") for n, name in pages.items()
            if name in db["encodings"]}


@pytest.mark.parametrize("profile", TEXT_PROFILES, ids=lambda p: p.name)
def test_esc_t_numbers_are_those_the_printer_database_gives_for_the_model(profile: PrinterProfile) -> None:
    db = escpos_db_code_pages(ESCPOS_DB_MODEL[profile.name])
    assert profile.code_page_number is not None
    assert db.get(profile.code_page_number) == profile.code_page
    # The simulator's table for the model says no more than the database does.
    assert {n: page for n, page in profile.code_pages.items() if n in db} == \
        {n: db[n] for n in profile.code_pages if n in db}
    assert set(profile.code_pages) <= set(db)
    start = b"\x1b@" + (b"\x1c." if profile.cancel_kanji else b"") + b"\x1bt" + bytes([profile.code_page_number])
    assert ticket_bytes(SLIP, profile).startswith(start)


QR_MODELS = {49: "model 1", 50: "model 2"}  # fn 165 n1 (51, micro QR, is not on the TM series)
QR_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H"}  # fn 169 n


def qr_symbols_by_the_spec(data: bytes) -> list[tuple[str, int, str, bytes]]:
    """Every QR code a ``GS ( k`` (cn 49) sequence prints, read strictly as the ESC/POS manual states:
    (model, module size, error level, data); any parameter out of range fails the test."""
    symbols, model, module, level, stored = [], "model 2", 3, "L", None  # the printer's defaults
    at = data.find(b"\x1d(k")
    while at >= 0:
        size = data[at + 3] + 256 * data[at + 4]
        cn, fn, params = data[at + 5], data[at + 6], data[at + 7:at + 5 + size]
        assert cn == 49, f"GS ( k cn={cn}: not a QR code function"
        if fn == 65:  # 165: n1 n2
            assert len(params) == 2 and params[0] in QR_MODELS and params[1] == 0, f"fn 165 {params.hex()}"
            model = QR_MODELS[params[0]]
        elif fn == 67:  # 167: n
            assert len(params) == 1 and 1 <= params[0] <= 16, f"fn 167 module {params.hex()}"
            module = params[0]
        elif fn == 69:  # 169: n
            assert len(params) == 1 and params[0] in QR_LEVELS, f"fn 169 level {params.hex()}"
            level = QR_LEVELS[params[0]]
        elif fn == 80:  # 180: m d1…dk, pL pH = k + 3
            assert size >= 4 and params[0] == 48, f"fn 180 m={params[:1].hex()}"
            stored = bytes(params[1:])
        elif fn == 81:  # 181: m
            assert params == b"\x30" and stored is not None, "fn 181 without stored data"
            symbols.append((model, module, level, stored))
        else:
            raise AssertionError(f"GS ( k fn {fn} is not used for tickets")
        at = data.find(b"\x1d(k", at + 5 + size)
    return symbols


def qr_raster(model: str, module: int, level: str, stored: bytes) -> np.ndarray:
    """The symbol as a printer's head lays it down: model 2, ``module`` dots a module, quiet zone 4."""
    assert model == "model 2"
    matrix = np.pad(np.array(segno.make_qr(stored, error=level.lower(), boost_error=False).matrix, dtype=bool), 4)
    return np.kron(matrix, np.ones((module, module), dtype=bool))


@pytest.mark.parametrize("profile", [p for p in TEXT_PROFILES if p.native_qr], ids=lambda p: p.name)
def test_native_qr_follows_the_spec_fits_the_paper_and_scans_as_the_status_url(profile: PrinterProfile) -> None:
    data = ticket_bytes(SLIP, profile)
    assert b"\x1dv0" not in data  # no image bytes: every GS ( k found is a command
    [symbol] = qr_symbols_by_the_spec(data)
    raster = qr_raster(*symbol)
    assert raster.shape[1] <= profile.dots_per_line
    assert qr_in(raster) == SLIP.status_url


def test_the_spec_reader_refuses_a_qr_model_byte_out_of_range() -> None:
    bad = qr_code(SLIP.status_url).replace(b"\x31\x41\x32\x00", b"\x31\x41\x33\x00")
    with pytest.raises(AssertionError, match="fn 165"):
        qr_symbols_by_the_spec(bad)


def test_code_page_is_pinned_after_every_initialize_and_every_image() -> None:
    profile = CLONE_58_CP1251
    data = (ReceiptBuilder(profile).line("перший").image(np.ones((8, 384), dtype=bool))
            .line("після образу ї").initialize().line("після ESC @ є ґ").cut().to_bytes())
    assert data.count(ESC + b"@") == 2
    assert data.count(ESC + b"t" + bytes([73])) == 3
    [receipt] = decode(data, profile, kanji_at_start=True)
    assert receipt.text.split("\n")[:3] == ["перший", "після образу ї", "після ESC @ є ґ"]


def test_a_ticket_without_its_code_page_reads_as_garbage() -> None:
    # The decoder starts in CP437, as printers do, so a lost ESC t n cannot pass unnoticed.
    data = ESC + b"@" + encode_text("Їжак", "cp1251") + b"\n" + b"\x1dV\x01"
    [receipt] = decode(data, EPSON_80_CP1251)
    assert receipt.text != "Їжак"


def test_clone_in_chinese_mode_prints_garbage_unless_kanji_is_cancelled() -> None:
    no_cancel = PrinterProfile("clone-no-fs", "cp1251", 73, dots_per_line=384, chars_per_line=32)
    line = lambda p: ReceiptBuilder(p).line("Ґава їсть").cut().to_bytes()  # noqa: E731
    assert decode(line(CLONE_58_CP1251), CLONE_58_CP1251, kanji_at_start=True)[0].lines[0].text == "Ґава їсть"
    assert decode(line(no_cancel), no_cancel, kanji_at_start=True)[0].lines[0].text != "Ґава їсть"


@pytest.mark.parametrize("profile", TEXT_PROFILES, ids=lambda p: p.name)
def test_characters_outside_the_code_page_are_refused_not_printed_as_question_marks(
        profile: PrinterProfile) -> None:
    with pytest.raises(UnencodableText, match=r"U\+65E5"):
        ticket_bytes(TicketSlip(**{**_fields(SLIP), "service": "Послуга 日"}), profile)


def test_cp1125_prints_typographic_punctuation_in_plain_form() -> None:
    assert encode_text("п’ять «Ґудзик» — так", "cp1125").decode("cp1125") == "п'ять \"Ґудзик\" - так"
    assert encode_text("п’ять", "cp1251").decode("cp1251") == "п’ять"  # kept where the page has it


def test_code_pages_without_ukrainian_letters_are_refused_in_a_profile() -> None:
    with pytest.raises(ValueError, match="cp866"):
        PrinterProfile("bad", "cp866", 17)


@pytest.mark.parametrize("ahead, expected", [(0, "Ви наступні"), (1, "Перед вами: 1 особа"),
                                             (4, "Перед вами: 4 особи"), (11, "Перед вами: 11 осіб")])
def test_people_ahead_is_said_in_proper_ukrainian(ahead: int, expected: str) -> None:
    top, _ = ticket_lines(TicketSlip(**{**_fields(SLIP), "people_ahead": ahead}))
    assert expected in [line.text for line in top]


@pytest.mark.parametrize("profile", [RASTER_58, RASTER_80], ids=lambda p: p.name)
def test_raster_ticket_is_one_image_of_paper_width_showing_the_text(profile: PrinterProfile) -> None:
    data = ticket_bytes(SLIP, profile)
    assert b"\x1bt" not in data  # code pages unknown: none is ever selected
    [receipt] = decode(data, profile, kanji_at_start=True)
    [image] = receipt.images
    assert image.shape[1] == profile.dots_per_line and image.any()
    assert np.array_equal(image, ticket_bitmap(SLIP, profile))
    px = max(20, profile.dots_per_line // 18)
    for text, bold in (("А042", True), ("ЦНАП м. Ірпінь", False), ("Перед вами: 3 особи", False)):
        size = px * 3 if text == "А042" else px
        assert contains(image, render_line(text, size, bold)), text
    assert not contains(image, render_line("Б999", px * 3, True))  # the search can say no
    assert qr_in(image) == SLIP.status_url


def test_bundled_font_draws_every_ukrainian_letter() -> None:
    missing = render_line("\u0378", 32)  # unassigned: the font's "no glyph" box
    for letter in UKRAINIAN_LETTERS + "’«»№":
        glyph = render_line(letter, 32)
        assert glyph.any() and not np.array_equal(glyph, missing), letter


def _repertoire(code_page: str) -> str:
    """Every printable character the code page has (controls are commands, not text)."""
    return "".join(bytes([b]).decode(code_page, errors="ignore")
                   for b in range(0x20, 0x100) if b != 0x7F)


@pytest.mark.parametrize("profile", [EPSON_80_CP1251, EPSON_80_CP1125], ids=lambda p: p.name)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_text_of_the_code_page_round_trips(profile: PrinterProfile, data: st.DataObject) -> None:
    assert profile.code_page is not None
    text = data.draw(st.text(alphabet=_repertoire(profile.code_page), max_size=60))
    [receipt] = decode(ReceiptBuilder(profile).line(text).cut().to_bytes(), profile)
    assert receipt.lines[0].text == text


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=3000), split=st.integers(min_value=0, max_value=3000))
def test_decoder_never_crashes_and_chunking_does_not_matter(stream: bytes, split: int) -> None:
    whole = EscPosDecoder(PROFILES["epson-80-cp1251"].code_pages)
    whole.feed(stream)
    chunked = EscPosDecoder(PROFILES["epson-80-cp1251"].code_pages)
    chunked.feed(stream[:split])
    chunked.feed(stream[split:])
    assert [r.text for r in whole.receipts] == [r.text for r in chunked.receipts]
    assert whole.current.text == chunked.current.text


def _fields(slip: TicketSlip) -> dict:
    return {name: getattr(slip, name) for name in TicketSlip.__slots__}
