"""A synthetic catalogue of many items in the encoder's space, for retrieval at scale.

No real catalogue of a million items comes with the course, but what an approximate index cares
about is the *shape* of the vectors: real text vectors are not spread evenly over the sphere,
they crowd into topics and vary along a few directions. :func:`synthetic_catalogue` keeps that
shape: each item is a real text vector (an *anchor*: a review's, drawn at random) plus
Gaussian noise with the anchors' own covariance, scaled by ``spread``, then scaled to unit
length::

    x = normalize(a_j + spread * L z),   z ~ N(0, I),   L L^T = cov(anchors)

``spread`` 0.5 puts an item at a cosine of about 0.9 from its anchor on the course's encoder:
items of one topic resemble one another about as much as reviews of one product do. Queries
come from real users' interest vectors, which live in the same space.
"""

from __future__ import annotations

import numpy as np

from textrec import config


def synthetic_catalogue(anchors, n_items: int, spread: float = 0.5, seed: int = config.SEED,
                        chunk: int = 65_536) -> np.ndarray:
    """``n_items`` unit vectors around ``anchors`` (float [n anchors, dim], unit rows), float32
    [n_items, dim]; see the module docstring. Made in chunks of ``chunk`` rows (memory: the
    result and one chunk)."""
    anchors = np.asarray(anchors, np.float64)
    if anchors.ndim != 2 or len(anchors) < 2:
        raise ValueError(f"anchors must be [n >= 2, dim], got shape {anchors.shape}")
    if not np.isfinite(anchors).all():
        raise ValueError("the anchors contain NaN or infinite values")
    if n_items < 1 or not spread >= 0:
        raise ValueError(f"n_items must be positive and spread at least 0, got {n_items} and "
                         f"{spread}")
    anchors = anchors[np.linalg.norm(anchors, axis=1) > 1e-6]   # blank texts have no vector
    rng = np.random.default_rng(seed)
    covariance = np.cov(anchors, rowvar=False)
    values, directions = np.linalg.eigh(covariance)
    scale = directions * np.sqrt(np.clip(values, 0, None))       # L with L L^T = covariance
    out = np.empty((int(n_items), anchors.shape[1]), np.float32)
    for start in range(0, len(out), chunk):
        n = min(chunk, len(out) - start)
        rows = anchors[rng.integers(0, len(anchors), n)]
        rows = rows + spread * rng.standard_normal((n, anchors.shape[1])) @ scale.T
        out[start:start + n] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out
