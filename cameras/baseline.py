"""What a camera normally looks like: the scene baseline that blur and
movement are judged against, learned from the camera's own keyframes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cameras.frames import normalize_signature


@dataclass(frozen=True, slots=True, eq=False)
class SceneBaseline:
    """What this camera normally looks like, learned from its own good keyframes.

    `sharpness` is the contrast-normalised sharpness of a normal picture,
    `signature` the normal edge layout (see `scene_signature`). Plain data:
    the service may store it (sharpness, signature.shape, signature.tobytes())
    and hand it back after a restart, so that a camera moved while the relay
    was down is not taken as the new normal.
    """

    sharpness: float
    signature: np.ndarray


def learn_baseline(samples: list[tuple[float, np.ndarray]]) -> SceneBaseline:
    """Baseline from (sharpness, signature) of the first good keyframes.

    The median sharpness and the mean signature, so one odd frame (a bus
    passing) does not set the norm.
    """
    sharpness = float(np.median([s for s, _ in samples]))
    signature = normalize_signature(np.mean([sig for _, sig in samples], axis=0))
    return SceneBaseline(sharpness, signature)


def adapt_baseline(
    baseline: SceneBaseline, sharpness: float, signature: np.ndarray, rate: float
) -> SceneBaseline:
    """Move the baseline a small step towards one keyframe judged normal."""
    return SceneBaseline(
        sharpness=(1 - rate) * baseline.sharpness + rate * sharpness,
        signature=normalize_signature((1 - rate) * baseline.signature + rate * signature),
    )
