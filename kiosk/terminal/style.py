"""How the kiosk looks and what it says: sizes in millimetres, the palette and its contrast, the texts.

Every text colour is paired only with backgrounds it reaches 7:1 against
(:data:`TEXT_PAIRS`, checked by the tests with :func:`contrast`). Texts are
Ukrainian first, with the English the toggle shows (:data:`T`).
"""

from __future__ import annotations

from typing import Any

from kiosk.terminal.model import KioskFlow

TARGET_MM = 20.0  # public kiosk touch targets (WCAG's 24 px is too small for a cold finger)
GAP_MM = 3.0

BG = (10, 16, 26)
BAR = (24, 34, 50)
BUTTON = (30, 56, 96)
PRIMARY = (18, 70, 140)
PRIORITY = (96, 40, 118)
ALERT = (140, 30, 20)
INK = (250, 250, 250)
SOFT = (190, 200, 212)  # second lines (English, notes) on every background above
PALETTE = {"bg": BG, "bar": BAR, "button": BUTTON, "primary": PRIMARY, "priority": PRIORITY, "alert": ALERT,
           "ink": INK, "soft": SOFT}
#: Every (text colour, background) pair the screens use.
FACE_COLOURS = {"чудово": (10, 80, 35), "добре": (30, 70, 30), "прийнятно": (80, 66, 10),
                "погано": (110, 50, 10), "жахливо": (130, 30, 20)}
#: Every (text colour, background) pair the screens use: white on every fill, the softer grey on the dark ones.
TEXT_PAIRS = (*((INK, bg) for bg in (BG, BAR, BUTTON, PRIMARY, PRIORITY, ALERT, *FACE_COLOURS.values())),
              (SOFT, BG), (SOFT, BAR))

T: dict[str, tuple[str, str]] = {
    "start": ("Оберіть, що вам потрібно", "Choose what you need"),
    "take": ("Взяти талон", "Take a ticket"),
    "priority": ("Пільгова черга", "Priority lane"),
    "check_in": ("Я записаний(-а): ввести код", "I have a booking: enter code"),
    "rate": ("Оцінити обслуговування", "Rate the service"),
    "groups": ("Оберіть групу послуг", "Choose a group of services"),
    "rate_groups": ("Яку послугу ви оцінюєте? Оберіть групу", "Which service are you rating? Choose a group"),
    "rate_services": ("Оберіть послугу, яку оцінюєте", "Choose the service you are rating"),
    "services": ("Оберіть послугу: талон буде видано одразу", "Choose a service: the ticket is issued at once"),
    "priority_title": ("Пільгова черга: кого обслуговують першими", "Priority lane: who is served first"),
    "priority_who": ("Особи з інвалідністю та їхні супровідники; сім’ї загиблих захисників і захисниць; "
                     "військовослужбовці.",
                     "People with disabilities and their companions; families of fallen defenders; serving "
                     "military."),
    "priority_check": ("Документи перевіряють біля вікна. Один пільговий талон на особу на послугу на день.",
                       "Documents are checked at the window. One priority ticket per person per service per day."),
    "priority_go": ("Продовжити у пільговій черзі", "Continue in the priority lane"),
    "code_title": ("Введіть код запису", "Enter your booking code"),
    "key_del": ("Стерти", "Delete"),
    "key_ok": ("Підтвердити", "Confirm"),
    "waiting": ("Зачекайте, звертаємося до черги…", "Please wait, asking the queue…"),
    "your_number": ("Ваш номер", "Your number"),
    "ahead": ("Перед вами", "People ahead"),
    "estimate": ("Орієнтовне очікування", "Estimated wait"),
    "windows": ("Вікна", "Windows"),
    "printing": ("Друкуємо талон…", "Printing your ticket…"),
    "printed": ("Візьміть талон з принтера", "Take your ticket from the printer"),
    "no_print": ("Талон не надруковано: запам’ятайте або сфотографуйте номер", "The ticket could not be "
                 "printed: remember or photograph the number"),
    "done": ("Готово", "Done"),
    "faces_title": ("Як вас обслужили?", "How were you served?"),
    "loyalty_title": ("Наскільки ймовірно, що ви порадите ЦНАП знайомим? (0–10)",
                      "How likely are you to recommend this centre? (0–10)"),
    "skip": ("Пропустити", "Skip"),
    "thanks": ("Дякуємо за відгук!", "Thank you for your feedback!"),
    "offline": ("Немає зв’язку з чергою", "No connection to the queue"),
    "offline_2": ("Талони зараз не видаються. Техніків повідомлено. Зверніться до адміністратора.",
                  "Tickets cannot be issued now. Technicians have been told. Please ask the administrator."),
    "back": ("Назад", "Back"),
    "home": ("На початок", "Start"),
    "lang": ("English", "Українська"),
    "speech": ("Озвучити", "Speak"),
    "speech_on": ("Озвучення увімкнено", "Speech on"),
    "idle": ("Ви ще тут? Торкніться екрана, щоб продовжити", "Are you still here? Touch the screen to continue"),
    "more_time": ("Потрібно більше часу", "I need more time"),
    "idle_left": ("Повернення на початок через {n} с", "Back to the start in {n} s"),
}
GRADE_EN = {"чудово": "excellent", "добре": "good", "прийнятно": "acceptable", "погано": "poor", "жахливо": "awful"}


def tr(flow: KioskFlow, key: str, **kw: Any) -> str:
    uk, en = T[key]
    return (en if flow.lang == "en" else uk).format(**kw)


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio, 1…21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
