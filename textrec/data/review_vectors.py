"""Reviews and their text vectors, travelling together.

A model that reads each review's own text vector (the joint model's text term, the export's
per-user sums, interest vectors) needs the vectors row-aligned with the reviews frame. Passing
the two loosely makes every consumer check the alignment again; :class:`ReviewVectors` checks
it once, when the pair is built, and keeps them together (NumPy and pandas only).
"""

from __future__ import annotations

import numpy as np


class ReviewVectors:
    """Reviews and their text vectors, one vector per review, row-aligned once, here.

    ``frame``: the reviews (schema columns; a fresh 0..n-1 index); ``vectors``: float32
    [len(frame), dim] (zero rows: no text). Build it with :meth:`of`, which accepts a
    ``ReviewVectors`` as it is, so functions taking reviews can take either form and the
    alignment is checked only when the pair is first put together.
    """

    __slots__ = ("frame", "vectors")

    def __init__(self, frame, vectors):
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or len(vectors) != len(frame):
            raise ValueError(f"review vectors have shape {vectors.shape}; expected one row per "
                             f"review ({len(frame)} reviews)")
        if not np.isfinite(vectors).all():
            raise ValueError("review vectors contain NaN or infinite values")
        self.frame = frame.reset_index(drop=True)
        self.vectors = vectors

    @classmethod
    def of(cls, reviews, vectors=None) -> "ReviewVectors":
        """``reviews`` itself when it is a ``ReviewVectors`` (``vectors`` must then be None),
        else ``ReviewVectors(reviews, vectors)``."""
        if isinstance(reviews, cls):
            if vectors is not None:
                raise ValueError("give either a ReviewVectors or a frame and its vectors")
            return reviews
        if vectors is None:
            raise ValueError("a reviews frame needs its vectors, one row per review")
        return cls(reviews, vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def column(self, name) -> np.ndarray:
        """One column of the reviews, as an array aligned with :attr:`vectors`."""
        if name not in self.frame:
            raise ValueError(f"the reviews have no column {name!r}; they have "
                             f"{list(self.frame.columns)}")
        return self.frame[name].to_numpy()

    def take(self, rows) -> "ReviewVectors":
        """The reviews at ``rows`` (positions or a boolean mask), still aligned."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return ReviewVectors(self.frame.iloc[rows], self.vectors[rows])

    def __repr__(self) -> str:
        return f"ReviewVectors({len(self):,} reviews x {self.dim} dims)"


def normalize_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit length, and a flag for rows that were (nearly) zero (left at zero)."""
    matrix = np.asarray(matrix, np.float32)
    norms = np.linalg.norm(matrix, axis=1)
    empty = norms < 1e-6
    out = np.zeros_like(matrix)
    out[~empty] = matrix[~empty] / norms[~empty, None]
    return out, empty
