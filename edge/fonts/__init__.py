"""The one bundled font family (DejaVu, with every Ukrainian letter), for screens and tickets.

Licence: LICENSE-DejaVu.txt beside the files.
"""

from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent
REGULAR = FONT_DIR / "DejaVuSans.ttf"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
CONDENSED_BOLD = FONT_DIR / "DejaVuSansCondensed-Bold.ttf"
