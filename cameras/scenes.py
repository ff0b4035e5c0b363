"""Synthetic camera pictures: a street-like scene and the ways a camera goes wrong.

Used by the health tests, and meant for the simulated cameras and the
benchmark: each function returns a new uint8 gray or BGR array, is
deterministic for a given seed and does no I/O.

A real static scene is never bit-identical from frame to frame: the sensor
adds noise and the encoder keeps some of it. `live` imitates that, so a test
can tell a static-but-live camera from a frozen one.
"""

from __future__ import annotations

import cv2
import numpy as np


def street(seed: int = 1, width: int = 1280, height: int = 720) -> np.ndarray:
    """A gray scene with structure at every scale: a sky-to-ground gradient,
    textures of three grain sizes, and a few dozen flat shapes with sharp edges."""
    rng = np.random.default_rng(seed)
    img = np.repeat(np.linspace(60, 160, height, dtype=np.float32)[:, None], width, axis=1)
    for grain in (4, 16, 64):
        coarse = rng.normal(0, 1, (height // grain + 1, width // grain + 1)).astype(np.float32)
        img += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * (6 + grain / 8)
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        shade = float(rng.integers(0, 256))
        if rng.random() < 0.5:
            w, h = int(rng.integers(10, width // 5)), int(rng.integers(10, height // 5))
            cv2.rectangle(img, (x, y), (x + w, y + h), shade, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(5, height // 8)), shade, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def live(
    scene: np.ndarray, seed: int, noise: float = 3.0, jpeg_quality: int | None = 70
) -> np.ndarray:
    """One frame of a live camera looking at `scene`: fresh sensor noise, then
    lossy encoding (JPEG stands in for the camera's encoder)."""
    rng = np.random.default_rng(seed)
    grain = rng.standard_normal(scene.shape, dtype=np.float32) * np.float32(noise)
    noisy = np.clip(scene + grain, 0, 255).astype(np.uint8)
    if jpeg_quality is None:
        return noisy
    ok, encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def darker(scene: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    """The same scene under less (or more) light: every level × gain + offset."""
    return np.clip(scene.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def with_lights(scene: np.ndarray, count: int, seed: int = 5, radius: int = 12) -> np.ndarray:
    """Add `count` saturated round lights (street lamps, lit windows)."""
    rng = np.random.default_rng(seed)
    out = scene.copy()
    height, width = scene.shape[:2]
    for _ in range(count):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(out, centre, radius, 255, -1)
    return out


def flat(shape: tuple[int, ...], level: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A uniform picture (a covered lens, a white-out), with optional sensor noise."""
    rng = np.random.default_rng(seed)
    values = np.full(shape, float(level)) + (rng.normal(0, noise, shape) if noise else 0.0)
    return np.clip(values, 0, 255).astype(np.uint8)


def blurred(scene: np.ndarray, sigma: float) -> np.ndarray:
    """A defocused lens: Gaussian blur of `sigma` pixels."""
    return cv2.GaussianBlur(scene, (0, 0), sigma)


def shifted(scene: np.ndarray, fraction: float) -> np.ndarray:
    """The camera turned sideways by `fraction` of the picture width (and half as much down)."""
    height, width = scene.shape[:2]
    matrix = np.float32([[1, 0, fraction * width], [0, 1, fraction * height / 2]])
    return cv2.warpAffine(scene, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def rotated(scene: np.ndarray, degrees: float) -> np.ndarray:
    """The camera knocked round its axis by `degrees`."""
    height, width = scene.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(scene, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def occluded(scene: np.ndarray, area: float, level: int = 40) -> np.ndarray:
    """Something flat in front of the lens covering `area` (0–1) of the view, bottom left."""
    out = scene.copy()
    height, width = scene.shape[:2]
    side = float(np.sqrt(area))
    out[height - int(height * side) :, : int(width * side)] = level
    return out


def with_clock(scene: np.ndarray, tick: int) -> np.ndarray:
    """Burn an on-screen clock into the top-left corner, as most cameras do;
    `tick` changes the digits."""
    out = scene.copy()
    text = f"2024-05-01 12:{tick // 60 % 60:02d}:{tick % 60:02d}"
    cv2.putText(out, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2, cv2.LINE_AA)
    return out
