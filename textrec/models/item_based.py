"""Item-to-item baselines: item-kNN and EASE. Both score ``history @ W`` with an item-item
weight matrix ``W`` [n items, n items] learned from the binary interaction matrix ``X``
[n users, n items]; they differ in how ``W`` is made.

* :class:`ItemKNN`: ``W[i, j]`` is the cosine similarity of item columns i and j,
  ``|users of i and j| / (sqrt(|users of i|) sqrt(|users of j|) + shrink)``, zero on the
  diagonal; with ``n_neighbours`` each row i keeps only its ``n_neighbours`` largest entries
  (the classic item-based top-N of Deshpande and Karypis, 2004). A user's score for item j is
  the sum of the similarities of j to the items in the user's history that have j as a
  neighbour.
* :class:`EASE` (Steck, 2019): ``W`` minimises ``|X - X W|^2 + l2 |W|^2`` with a zero
  diagonal. The closed form is ``P = (X^T X + l2 I)^-1`` and ``W = I - P / diag(P)`` (each
  column j divided by ``P[j, j]``), so ``W[i, j] = -P[i, j] / P[j, j]`` and ``W[j, j] = 0``.

Both keep a dense ``W``: fine up to some 20,000 items. Every model here has ``fit(X)`` and
``score(history)`` (rows of users, the same users as ``X``), so the tuning and evaluation code
treats them alike.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _binary_csr(matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    matrix.eliminate_zeros()
    matrix.data[:] = 1.0
    return matrix


def _check_fitted(weights, name: str) -> np.ndarray:
    if weights is None:
        raise ValueError(f"{name} is not fitted yet: call fit(interactions) first")
    return weights


def _scores(history, weights: np.ndarray) -> np.ndarray:
    history = sp.csr_matrix(history, dtype=np.float32)
    if history.shape[1] != weights.shape[0]:
        raise ValueError(f"history has {history.shape[1]} items; the model was fitted on "
                         f"{weights.shape[0]}")
    return np.asarray(history @ weights, dtype=np.float32)


def cosine_similarity(interactions, shrink: float = 0.0) -> np.ndarray:
    """Item-item cosine similarity of the binary columns of ``interactions`` [users, items]:
    float64 [n items, n items] with a zero diagonal; items without users have zero rows."""
    if shrink < 0:
        raise ValueError(f"shrink must be >= 0, got {shrink}")
    x = _binary_csr(interactions)
    co_counts = (x.T @ x).toarray()  # [items, items]: users who have both
    norms = np.sqrt(np.diag(co_counts))
    denominator = np.outer(norms, norms) + shrink
    similarity = np.divide(co_counts, denominator, out=np.zeros_like(co_counts),
                           where=denominator > 0)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def keep_top_neighbours(similarity: np.ndarray, n_neighbours: int | None) -> np.ndarray:
    """``similarity`` with each row's entries outside its ``n_neighbours`` largest set to 0
    (None keeps all). Ties at the cut are broken by ``np.argpartition``."""
    n_items = similarity.shape[0]
    if n_neighbours is None or n_neighbours >= n_items - 1:
        return similarity
    if n_neighbours <= 0:
        raise ValueError(f"n_neighbours must be positive or None, got {n_neighbours}")
    top = np.argpartition(-similarity, n_neighbours - 1, axis=1)[:, :n_neighbours]
    pruned = np.zeros_like(similarity)
    rows = np.arange(n_items)[:, None]
    pruned[rows, top] = similarity[rows, top]
    return pruned


class ItemKNN:
    """Item-based k nearest neighbours on the binary interaction matrix.

    Args:
      n_neighbours: neighbours kept per item (None: all).
      shrink: added to the cosine's denominator; damps similarities from few co-occurrences.
    """

    name = "item-kNN"
    GRID = {"n_neighbours": [10, 25, 50, 100, 200, None]}

    def __init__(self, n_neighbours: int | None = 100, shrink: float = 0.0):
        self.n_neighbours = n_neighbours
        self.shrink = float(shrink)
        self.weights = None

    def params(self) -> dict:
        return {"n_neighbours": self.n_neighbours, "shrink": self.shrink}

    def fit(self, interactions) -> "ItemKNN":
        """Similarities from the binary ``interactions`` [n users, n items]."""
        similarity = cosine_similarity(interactions, self.shrink)
        self.weights = keep_top_neighbours(similarity, self.n_neighbours).astype(np.float32)
        return self

    def score(self, history) -> np.ndarray:
        """``history @ W``: float32 [n users, n items] from binary ``history``
        [n users, n items]."""
        return _scores(history, _check_fitted(self.weights, self.name))


def ease_weights(interactions, l2: float) -> np.ndarray:
    """EASE's closed form: float64 [n items, n items], ``I - P / diag(P)`` with
    ``P = (X^T X + l2 I)^-1``; the diagonal is exactly zero."""
    if not l2 > 0:
        raise ValueError(f"l2 must be positive, got {l2}")
    x = _binary_csr(interactions)
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += l2
    precision = np.linalg.inv(gram)
    weights = precision / -np.diag(precision)[np.newaxis, :]  # column j divided by -P[j, j]
    np.fill_diagonal(weights, 0.0)
    return weights


class EASE:
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019).

    Args:
      l2: the L2 penalty lambda; larger values shrink the weights toward zero, which on sparse
        data pushes the ranking toward popularity. Choose it on validation (``GRID``).
    """

    name = "EASE"
    GRID = {"l2": [1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0,
                   500.0, 700.0, 1000.0, 1500.0, 2000.0]}

    def __init__(self, l2: float = 100.0):
        self.l2 = float(l2)
        self.weights = None

    def params(self) -> dict:
        return {"l2": self.l2}

    def fit(self, interactions) -> "EASE":
        """``W`` from the binary ``interactions`` [n users, n items]."""
        self.weights = ease_weights(interactions, self.l2).astype(np.float32)
        return self

    def score(self, history) -> np.ndarray:
        """``history @ W``: float32 [n users, n items]."""
        return _scores(history, _check_fitted(self.weights, self.name))

