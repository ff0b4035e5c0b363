"""The picture shown instead of a camera's view when there is no current view.

Never the last good picture: a technician or a police officer looking at an
old frame believes the street is quiet *now*. The image says so in
Ukrainian and English, names the camera, says since when it is down and
when the image was made, and has a striped background no camera would show.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime

import cv2
import numpy as np

from edge.fonts import BOLD, REGULAR

_lock = threading.Lock()  # SDL_ttf is not safe from two threads at once
_fonts: dict[tuple[int, bool], object] = {}


def _pygame():  # type: ignore[no-untyped-def]
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame
    import pygame.surfarray

    if not pygame.font.get_init():
        pygame.font.init()
    return pygame


def _text(text: str, px: int, bold: bool) -> np.ndarray:
    """One line as a uint8 coverage mask (255 = ink)."""
    with _lock:
        pygame = _pygame()
        font = _fonts.get((px, bold))
        if font is None:
            font = _fonts[(px, bold)] = pygame.font.Font(str(BOLD if bold else REGULAR), px)
        surface = font.render(text, True, (255, 255, 255), (0, 0, 0))  # type: ignore[attr-defined]
        return np.ascontiguousarray(pygame.surfarray.array3d(surface).max(axis=2).T)


def offline_image(name: str, *, since: datetime | None, now: datetime, reason_uk: str = "",
                  reason_en: str = "", width: int = 640, height: int = 360) -> np.ndarray:
    """The OFFLINE picture (BGR) for camera `name`, at the camera's own size."""
    width, height = max(320, min(width, 1920)), max(180, min(height, 1080))
    img = np.full((height, width, 3), (40, 40, 48), np.uint8)
    step = max(24, width // 24)
    for x in range(-height, width, step):
        cv2.line(img, (x, height), (x + height, 0), (56, 56, 70), max(2, step // 4))
    unit = max(14, width // 32)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        ("КАМЕРА НЕ НА ЗВ’ЯЗКУ", 2 * unit, True, (80, 80, 255)),
        ("CAMERA OFFLINE", int(1.3 * unit), True, (80, 80, 255)),
        (name, unit, True, (255, 255, 255)),
    ]
    if reason_uk:
        lines.append((f"{reason_uk} / {reason_en}" if reason_en else reason_uk, int(0.8 * unit), False,
                      (220, 220, 220)))
    if since is not None:
        lines.append((f"Немає зображення з / No picture since {since.strftime('%Y-%m-%d %H:%M:%S')}",
                      int(0.8 * unit), False, (220, 220, 220)))
    lines.append((f"Зараз / Now {stamp}", int(0.8 * unit), False, (220, 220, 220)))
    masks = [(_text(text, px, bold), colour) for text, px, bold, colour in lines]
    total = sum(m.shape[0] for m, _ in masks) + unit // 2 * (len(masks) - 1)
    y = max(0, (height - total) // 2)
    for mask, colour in masks:
        h, w = mask.shape
        w = min(w, width - 8)
        x = max(4, (width - w) // 2)
        h = min(h, height - y)
        if h <= 0:
            break
        alpha = mask[:h, :w].astype(np.float32)[:, :, None] / 255.0
        region = img[y:y + h, x:x + w].astype(np.float32)
        img[y:y + h, x:x + w] = (region * (1 - alpha) + np.array(colour, np.float32) * alpha).astype(np.uint8)
        y += h + unit // 2
    return img


def offline_jpeg(name: str, *, since: datetime | None, now: datetime, reason_uk: str = "", reason_en: str = "",
                 width: int = 640, height: int = 360) -> bytes:
    """`offline_image` as JPEG bytes."""
    img = offline_image(name, since=since, now=now, reason_uk=reason_uk, reason_en=reason_en, width=width,
                        height=height)
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()
