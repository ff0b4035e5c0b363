"""A small council for hall tests: seats on two console nodes, cards, a head."""

from __future__ import annotations

from pathlib import Path

SURNAMES = ["Бондаренко", "Ґудзь", "Їжакевич", "Євтушенко", "Шевчук", "Коваль", "Мельник", "Ткаченко",
            "Кравець", "Олійник", "Лисенко", "Руденко", "Савченко", "Петренко", "Марченко", "Захарченко"]
NAMES = ["Олена", "Іван", "Ірина", "Андрій", "Марія", "Петро", "Оксана", "Юрій"]


def card_of(i: int) -> str:
    return f"0A00{i:06X}"


def write_council(path: Path, seats: int, deputies: int, consoles: dict[str, range],
                  head_console: str | None = None) -> Path:
    """``consoles`` maps a console node name to the seat numbers it drives (1-based; 0 is the head)."""
    lines = ['name = "Тестівська сільська рада"', 'edrpou = "04362345"', 'katottg = "UA12345678901234567"',
             f"seats = {seats}", "convocation = 8", ""]
    owner = {seat: name for name, rng in consoles.items() for seat in rng}
    if head_console is not None:
        lines += ["[head]", 'id = "head"', 'full_name = "Коваленко Петро Іванович"', 'seat = "0"',
                  f'console = "{head_console}"', f'card = "{card_of(0)}"', ""]
    for i in range(1, deputies + 1):
        name = f"{SURNAMES[i % len(SURNAMES)]} {NAMES[i % len(NAMES)]} Миколайович{i}"
        lines += ["[[deputies]]", f'id = "d{i:03d}"', f'full_name = "{name}"']
        if i in owner:
            lines += [f'seat = "{i}"', f'console = "{owner[i]}"', f'card = "{card_of(i)}"']
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
