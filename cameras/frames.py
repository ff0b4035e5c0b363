"""Per-frame picture measures for camera health, on small gray keyframes.

Everything here is a pure function of numpy arrays: no I/O, no clock.
The relay decodes keyframes only, hands each one to `prepare_frame` and
measures the result; at 320×180 all measures together cost well under a
millisecond (see `CameraHealth` in `cameras.health` for how they are judged).

Why 320 px wide and not smaller: downscaling is itself a low-pass filter.
A defocus that matters on a 1080p picture (Gaussian σ ≈ 3–5 px) is only
σ ≈ 0.5–0.8 px at 320 px, and nearly invisible at 160 px (measured on
synthetic scenes: σ = 3 px at 1280 px keeps 51 % of the Laplacian variance
at 160 px wide but only 17 % at 320 px). The same holds for frozen pictures:
the finer frame keeps more of the sensor noise that tells a live static
scene from a frozen one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Width of the small gray frame all measures work on.
FRAME_WIDTH = 320
#: Width of the scene signature (see `scene_signature`).
SIGNATURE_WIDTH = 80
#: A pixel at or below this level counts as dark, at or above BRIGHT_LEVEL as bright.
DARK_LEVEL = 20
BRIGHT_LEVEL = 245
#: Smallest frame we accept; below this no measure means anything.
MIN_SIDE = 16


@dataclass(frozen=True, slots=True)
class FrameMeasures:
    """What one small gray keyframe looks like, in numbers.

    `changed_fraction` and `mean_abs_diff` compare with the previous keyframe
    and are None when there is none (first frame, or its size differed).
    `sharpness` is the Laplacian variance divided by the picture's own
    variance: unlike the raw `laplacian_var` it does not fall when the scene
    gets darker or flatter (night), only when edges get softer (defocus).
    """

    mean: float
    std: float
    dark_fraction: float
    bright_fraction: float
    laplacian_var: float
    sharpness: float
    changed_fraction: float | None
    mean_abs_diff: float | None


def prepare_frame(image: np.ndarray, width: int = FRAME_WIDTH) -> np.ndarray:
    """Turn a decoded picture into the small gray frame the health checks use.

    Accepts uint8 arrays shaped (H, W) gray, (H, W, 1), (H, W, 3) BGR or
    (H, W, 4) BGRA, of any size. Returns a C-contiguous uint8 (h, `width`)
    array with the aspect ratio kept; a picture already narrower than
    `width` is only converted, never enlarged (enlarging invents nothing
    and would make sharpness depend on the interpolation).

    Gray first, then shrink with INTER_AREA: converting colour at full size
    and shrinking one channel is cheaper than shrinking three (≈0.9 ms
    against ≈1.4 ms at 1080p), and INTER_AREA averages pixels, so sensor
    noise is damped instead of aliased. A PyAV frame can skip the colour
    conversion entirely: `frame.to_ndarray(format="gray")` is the luma plane.

    Raises ValueError for anything that is not such an image.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image (uint8), got {image.dtype}")
    if width < MIN_SIDE:
        raise ValueError(f"width must be at least {MIN_SIDE} px, got {width}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        gray = image
    elif image.ndim == 3 and image.shape[2] == 3:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 4:
        gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    else:
        raise ValueError(f"expected gray, BGR or BGRA image, got shape {image.shape}")
    height, src_width = gray.shape
    if height < MIN_SIDE or src_width < MIN_SIDE:
        raise ValueError(f"image too small to judge: {src_width}×{height} px")
    if src_width <= width:
        return np.ascontiguousarray(gray)
    new_height = max(MIN_SIDE, round(height * width / src_width))
    return cv2.resize(gray, (width, new_height), interpolation=cv2.INTER_AREA)


def require_gray(frame: np.ndarray) -> None:
    """Refuse anything but a prepared frame (2-D uint8), with a clear reason."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 2:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(
            f"expected a small gray uint8 frame from prepare_frame, got {dtype} {shape}"
        )
    if min(frame.shape) < MIN_SIDE:
        raise ValueError(f"frame too small to judge: {frame.shape[1]}×{frame.shape[0]} px")


def sharpness(gray: np.ndarray) -> tuple[float, float]:
    """Return (Laplacian variance, Laplacian variance / picture variance).

    The ratio is dimensionless: scaling the brightness of a picture by k
    scales both variances by k², so a darker evening does not look like a
    defocused lens (a 0.3× darker copy of a scene keeps its ratio, while its
    raw Laplacian variance falls to ~10 %, which an absolute or even a
    baseline-relative raw threshold would call blurred). A perfectly flat
    frame has ratio 0.
    """
    as_float = gray.astype(np.float32)
    _, picture_std = cv2.meanStdDev(as_float)
    _, lap_std = cv2.meanStdDev(cv2.Laplacian(as_float, cv2.CV_32F))
    lap_var = float(lap_std[0, 0]) ** 2
    picture_var = float(picture_std[0, 0]) ** 2
    return lap_var, (lap_var / picture_var if picture_var > 1e-6 else 0.0)


def frame_change(
    current: np.ndarray, previous: np.ndarray, change_delta: int = 1
) -> tuple[float, float] | None:
    """Return (fraction of pixels changed by ≥ change_delta, mean abs difference).

    None when the frames differ in size (nothing to compare). The fraction,
    not the mean difference, is what tells frozen from live: a live static
    scene changes most pixels by a level or two (sensor noise survives
    encoding), a frozen picture changes none, and a frozen picture with a
    burnt-in clock changes only the few pixels of the clock. A mean-difference
    threshold of ~2 (the usual advice, for full-size frames) would call every
    quiet live scene frozen here: after the 6× area downscale the mean
    difference of a live static scene is typically 0.2–1.
    """
    if current.shape != previous.shape:
        return None
    diff = cv2.absdiff(current, previous)
    changed = float(np.count_nonzero(diff >= change_delta)) / diff.size
    return changed, float(cv2.mean(diff)[0])


def measure_frame(
    gray: np.ndarray, previous: np.ndarray | None = None, *, change_delta: int = 1
) -> FrameMeasures:
    """Measure one prepared frame, comparing with the previous keyframe if given."""
    require_gray(gray)
    mean, std = cv2.meanStdDev(gray)
    lap_var, ratio = sharpness(gray)
    change = None if previous is None else frame_change(gray, previous, change_delta)
    size = gray.size
    return FrameMeasures(
        mean=float(mean[0, 0]),
        std=float(std[0, 0]),
        dark_fraction=float(np.count_nonzero(gray <= DARK_LEVEL)) / size,
        bright_fraction=float(np.count_nonzero(gray >= BRIGHT_LEVEL)) / size,
        laplacian_var=lap_var,
        sharpness=ratio,
        changed_fraction=None if change is None else change[0],
        mean_abs_diff=None if change is None else change[1],
    )


def scene_signature(gray: np.ndarray, width: int = SIGNATURE_WIDTH) -> np.ndarray:
    """The layout of the scene's edges, to tell whether the camera still sees the same view.

    Gradient magnitude of an 80 px wide, lightly smoothed copy, shifted to
    zero mean and scaled to unit length (float32, read-only). Compared with
    `scene_similarity` (a correlation), it is chosen over the alternatives
    because, measured on synthetic scenes:

    - it ignores exposure: a 0.3× darker or +40 brighter copy scores ≥ 0.99,
      where a gray-level histogram (Bhattacharyya) falls to 0.2–0.6, which
      would call every dusk a moved camera;
    - it ignores blur (σ = 8 px still scores ≥ 0.99), so a defocused lens is
      reported as blurred, not as moved;
    - it reacts to what matters: a 2 % shift scores ≈ 0.66, a 5° turn ≈ 0.6,
      a patch over 40 % of the view ≈ 0.6, a flat (covered) frame ≈ 0;
    - it costs ~0.05 ms, against ~3 ms to detect and match ORB features at
      320 px, and has no failure mode on a textureless view but scoring low.
    A flat frame has a zero signature.
    """
    height, src_width = gray.shape
    if src_width > width:
        small = cv2.resize(
            gray, (width, max(4, round(height * width / src_width))), interpolation=cv2.INTER_AREA
        )
    else:
        small = gray
    # The light blur makes sub-pixel jitter and sensor noise irrelevant.
    smooth = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0)
    magnitude = cv2.magnitude(
        cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    )
    return normalize_signature(magnitude)


def normalize_signature(values: np.ndarray) -> np.ndarray:
    """Zero mean, unit length, float32, read-only; all zeros if there is no variation."""
    centred = values.astype(np.float32) - np.float32(values.mean())
    norm = float(np.linalg.norm(centred))
    signature = centred / norm if norm > 1e-6 else np.zeros_like(centred)
    signature.flags.writeable = False
    return signature


def scene_similarity(signature: np.ndarray, reference: np.ndarray) -> float | None:
    """Correlation of two scene signatures, from -1 to 1 (1: the same view).

    None when their shapes differ (the camera's resolution or aspect changed).
    """
    if signature.shape != reference.shape:
        return None
    return float(np.dot(signature.ravel(), reference.ravel()))
