"""The session hall of ``hromada demo``: 26 seats and the head on nine console boards.

Writes the demo council file and returns the demo's hall, consoles and
hall screen, each with its simulated hardware and scenario.
"""

from __future__ import annotations

from pathlib import Path

from edge.demo import DemoNode

DEPUTIES = [
    "Бондаренко Олена Миколаївна", "Ґалаган Іван Петрович", "Їжакевич Ірина Степанівна", "Євтушенко Андрій Васильович",
    "Шевчук Марія Олексіївна", "Коваль Петро Іванович", "Мельник Оксана Юріївна", "Ткаченко Юрій Богданович",
    "Кравець Наталія Андріївна", "Олійник Сергій Миколайович", "Лисенко Тетяна Павлівна", "Руденко Олег Вікторович",
    "Савченко Галина Іванівна", "Петренко Василь Дмитрович", "Марченко Людмила Сергіївна", "Захарченко Богдан Ігорович",
    "Гнатюк Світлана Романівна", "Дячук Микола Олександрович", "Жук Алла Валеріївна", "Зінченко Роман Тарасович",
    "Іваненко Христина Михайлівна", "Яковенко Дмитро Федорович", "Чорновол Леся Григорівна", "Щербак Максим Євгенович",
    "Юрченко Софія Володимирівна", "Федоренко Тарас Остапович",
]
HEAD = "Коваленко Петро Іванович"
SEATS_PER_CONSOLE = 3  # eight GPIO pins a seat: a board's header carries three seats
CONSOLES = 9


def _card(seat: int) -> str:
    return f"5A00{seat:06X}"


def _console_name(seat: int) -> str:
    return f"consoles-{seat // SEATS_PER_CONSOLE + 1}"


def write_council(path: Path) -> Path:
    lines = ['name = "Демонстраційна сільська рада"', 'edrpou = "04362345"', 'katottg = "UA12345678901234567"',
             f"seats = {len(DEPUTIES)}", "convocation = 8", "",
             "[head]", 'id = "head"', f'full_name = "{HEAD}"', 'seat = "0"', f'console = "{_console_name(0)}"',
             f'card = "{_card(0)}"', ""]
    for i, name in enumerate(DEPUTIES, start=1):
        lines += ["[[deputies]]", f'id = "d{i:02d}"', f'full_name = "{name}"', f'seat = "{i}"',
                  f'console = "{_console_name(i)}"', f'card = "{_card(i)}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _console_settings(index: int) -> str:
    out = ['[roles.console]', 'scenario = "demo"']
    for slot in range(SEATS_PER_CONSOLE):
        seat = index * SEATS_PER_CONSOLE + slot
        base = 4 + 8 * slot
        out += ["[[roles.console.seats]]", f'seat = "{seat}"', f"za = {base}", f"proty = {base + 1}",
                f"utrymavsia = {base + 2}", f"presence = {base + 3}", f"led_za = {base + 4}",
                f"led_proty = {base + 5}", f"led_utrymavsia = {base + 6}", f"led_status = {base + 7}",
                f'demo_card = "{_card(seat)}"']
        if index == 0 and slot == 1:  # one seat registers by card, through a simulated RDM6300 on a pty
            out.append('card_reader = { url = "sim" }')
    return "\n".join(out) + "\n"


def demo_nodes(state: Path) -> list[DemoNode]:
    council = write_council(state / "council.toml")
    nodes = [DemoNode("hall", "rada", ("hall",),
                      f'[roles.hall]\ncouncil_file = "{council}"\nscenario = "demo"\nvote_duration_s = 15\n')]
    nodes += [DemoNode(f"consoles-{i + 1}", "rada", ("console",), _console_settings(i)) for i in range(CONSOLES)]
    nodes.append(DemoNode("hall-screen", "rada", ("hall-display",),
                          f'[roles.hall-display]\nwidth = 1280\nheight = 720\nfullscreen = false\n'
                          f'png_dir = "{state / "hall-screen-png"}"\n'))
    return nodes


def demo_links(state: Path, hub_nodes: list[dict]) -> list[tuple[str, str]]:
    """Where to look at the session hall in the demo."""
    hall = next((n for n in hub_nodes if n["name"] == "hall"), None)
    if hall is None or not hall.get("port"):
        return []
    url = f"http://127.0.0.1:{hall['port']}"
    token_file = state / "hall" / "secretary.token"
    token = token_file.read_text().strip() if token_file.exists() else ""
    return [
        ("Секретар / Secretary", f"{url}/hall/secretary#token={token}"),
        ("Титри трансляції / Overlay", f"{url}/hall/overlay"),
        ("Екран зали (PNG) / Hall screen", str(state / "hall-screen-png")),
        ("Відкриті дані / Open data", "{hub}/opendata/voting/"),
    ]
