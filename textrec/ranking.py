"""Ranking: the package's one top-k and its one form of "the items a user already has".

Every offline ranking in the course (the evaluation's full ranking, the text-only
recommender, the two-tower index's recommendations, the export's reference answers) goes
through :func:`topk_items`; the export's serving graph has its own in-graph top-k, checked
against this one.

Item sets (held-out targets, seen items to exclude) are binary CSR matrices
[number of users, number of items] with sorted, distinct column indices (:func:`as_item_sets`).
:class:`SeenItems` carries such a matrix together with its user and item id orders, so raw ids
can be looked up once, in one place.

NumPy, SciPy and pandas only; the layer just above ``textrec.data``.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec.data import schema

_BATCH_ELEMENTS = 2**25  # scores copied per batch when masking (~128 MB of float32)


def check_k(k) -> int:
    """``k`` as an int, or a ValueError when it is not a positive integer."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def check_scores(scores) -> np.ndarray:
    """``scores`` as a numeric 2-D array [n users, n items] without NaN, else a ValueError."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or not np.issubdtype(scores.dtype, np.number):
        raise ValueError(
            f"scores must be a numeric 2-D array [n_users, n_items], got shape {scores.shape} "
            f"and dtype {scores.dtype}"
        )
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(scores).any():
        raise ValueError("scores contain NaN; replace them (e.g. with -np.inf) before ranking")
    return scores


def as_item_sets(rows, n_users: int, n_items: int, what: str) -> sp.csr_matrix:
    """``rows`` (lists of item indices, a 1-D array of one item per user, or a sparse matrix)
    as a binary CSR matrix [n_users, n_items] with sorted, distinct indices."""
    if isinstance(rows, SeenItems):
        rows = rows.matrix
    if sp.issparse(rows):
        matrix = sp.csr_matrix(rows, copy=True)
        matrix.eliminate_zeros()
        if matrix.shape != (n_users, n_items):
            raise ValueError(f"{what} has shape {matrix.shape}; expected {(n_users, n_items)}")
    else:
        one_each = isinstance(rows, np.ndarray) and rows.ndim == 1
        if one_each and np.issubdtype(rows.dtype, np.integer):
            rows = rows[:, np.newaxis]  # one item per user
        if len(rows) != n_users:
            raise ValueError(f"{what} has {len(rows)} rows; scores has {n_users} users")
        items = [np.asarray(row).ravel() for row in rows]
        lengths = np.fromiter((len(row) for row in items), np.int64, n_users)
        indices = np.concatenate(items) if n_users and lengths.sum() else np.zeros(0, np.int64)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            if not np.all(np.mod(indices, 1) == 0):
                raise ValueError(f"{what} must hold integer item indices")
        indices = indices.astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= n_items):
            bad = indices[(indices < 0) | (indices >= n_items)][0]
            raise ValueError(f"{what} holds item index {bad}, outside [0, {n_items}) (n_items)")
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data = np.ones(len(indices), np.int8)
        matrix = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
    matrix.sum_duplicates()  # also sorts the indices of each row
    matrix.data[:] = 1
    return matrix


def interaction_matrix(frame: pd.DataFrame, user_ids, item_ids) -> sp.csr_matrix:
    """Binary CSR float32 [len(user_ids), len(item_ids)]: 1 where the user interacted with the
    item in ``frame``. Ids not in ``user_ids`` / ``item_ids`` are dropped."""
    users = pd.Index(user_ids).get_indexer(frame[schema.USER])
    items = pd.Index(item_ids).get_indexer(frame[schema.ITEM])
    known = (users >= 0) & (items >= 0)
    matrix = sp.csr_matrix((np.ones(int(known.sum()), np.float32), (users[known], items[known])),
                           shape=(len(user_ids), len(item_ids)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def topk_prechecked(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None,
                    users=None) -> np.ndarray:
    """:func:`topk_items` for inputs already checked (``check_scores``, ``check_k``) and
    ``exclude`` already an item-set matrix: for callers that checked them once themselves."""
    users = np.arange(scores.shape[0]) if users is None else np.asarray(users)
    if exclude is not None:
        exclude = exclude[users]
    n_users, n_items = len(users), scores.shape[1]
    kept = min(k, n_items)
    top = np.full((n_users, k), -1, np.int64)
    step = max(1, min(1024, _BATCH_ELEMENTS // max(n_items, 1)))
    for start in range(0, n_users, step):
        stop = min(start + step, n_users)
        batch = np.array(scores[users[start:stop]], dtype=np.result_type(scores.dtype, np.float32))
        if exclude is not None:
            lo, hi = exclude.indptr[start], exclude.indptr[stop]
            rows = np.repeat(np.arange(stop - start), np.diff(exclude.indptr[start : stop + 1]))
            batch[rows, exclude.indices[lo:hi]] = -np.inf
        if kept < n_items:
            candidates = np.argpartition(-batch, kept - 1, axis=1)[:, :kept]
            candidates.sort(axis=1)  # equal scores: lower item index first
        else:
            candidates = np.broadcast_to(np.arange(n_items), batch.shape)
        candidate_scores = np.take_along_axis(batch, candidates, axis=1)
        order = np.argsort(-candidate_scores, axis=1, kind="stable")
        best = np.take_along_axis(candidates, order, axis=1)
        best_scores = np.take_along_axis(candidate_scores, order, axis=1)
        top[start:stop, :kept] = np.where(np.isneginf(best_scores), -1, best)
    return top


def topk_items(scores, k: int, exclude=None, users=None) -> np.ndarray:
    """The k best items of each user (of the rows ``users``, default all), best first:
    int array [n users, k].

    ``exclude`` (item sets in any form of :func:`as_item_sets`, or :class:`SeenItems` in the
    same user and item order) gets score ``-inf`` first. A slot that only masked (or ``-inf``)
    items could fill, or k beyond the number of items, holds -1. Ties at the k-th place are
    broken arbitrarily; within the top k, equal scores are ordered by item index.
    """
    scores = check_scores(scores)
    k = check_k(k)
    if exclude is not None:
        exclude = as_item_sets(exclude, *scores.shape, what="exclude")
    return topk_prechecked(scores, k, exclude, users)


@dataclasses.dataclass(frozen=True)
class SeenItems:
    """The items each user already has: a binary CSR ``matrix`` [n users, n items] over the id
    orders ``user_ids`` [n users] and ``item_ids`` [n items] (strings)."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    def __post_init__(self):
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError(f"seen matrix has shape {self.matrix.shape}; expected "
                             f"{(len(self.user_ids), len(self.item_ids))} (user_ids x item_ids)")

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, user_ids=None, item_ids=None) -> "SeenItems":
        """The (user, item) pairs of an interactions frame; ids default to the frame's own,
        sorted. Pairs naming an id outside ``user_ids`` / ``item_ids`` are dropped
        (:meth:`unknown_pairs` counts them)."""
        users = frame[schema.USER].astype(str)
        items = frame[schema.ITEM].astype(str)
        user_ids = _string_ids(sorted(set(users)) if user_ids is None else user_ids)
        item_ids = _string_ids(sorted(set(items)) if item_ids is None else item_ids)
        strings = pd.DataFrame({schema.USER: users, schema.ITEM: items})
        return cls(interaction_matrix(strings, user_ids, item_ids), user_ids, item_ids)

    @classmethod
    def from_mapping(cls, seen: Mapping, item_ids=None) -> "SeenItems":
        """From ``{user id: iterable of item ids}``."""
        pairs = [(str(user), str(item)) for user, items in seen.items() for item in items]
        frame = pd.DataFrame(pairs, columns=[schema.USER, schema.ITEM])
        return cls.from_frame(frame, sorted({str(u) for u in seen}), item_ids)

    def rows_for(self, user_ids, item_ids=None) -> sp.csr_matrix:
        """Binary CSR [len(user_ids), len(item_ids)]: the seen items of raw ``user_ids`` (in
        that order; unknown users have none) over ``item_ids`` (default: this item order)."""
        position = pd.Index(self.user_ids).get_indexer(_string_ids(user_ids))
        padded = sp.vstack([self.matrix, sp.csr_matrix((1, len(self.item_ids)))]).tocsr()
        rows = padded[np.where(position >= 0, position, len(self.user_ids))]
        if item_ids is None:
            return sp.csr_matrix(rows)
        columns = pd.Index(_string_ids(item_ids)).get_indexer(self.item_ids)
        rows = rows.tocoo()
        keep = columns[rows.col] >= 0
        return sp.csr_matrix((rows.data[keep], (rows.row[keep], columns[rows.col[keep]])),
                             shape=(rows.shape[0], len(item_ids)))

    def items_of(self, user_id) -> set[str]:
        """The item ids ``user_id`` has seen (an empty set for an unknown user)."""
        row = self.rows_for([user_id])
        return set(self.item_ids[row.indices].tolist())

    def lists(self) -> list[np.ndarray]:
        """Each user's seen item indices (sorted int64 arrays), in ``user_ids`` order."""
        matrix = self.matrix
        return [matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]].astype(np.int64)
                for row in range(matrix.shape[0])]

    def pairs(self) -> int:
        """Number of (user, item) pairs."""
        return int(self.matrix.nnz)


def unknown_pairs(frame: pd.DataFrame, user_ids, item_ids) -> int:
    """How many (user, item) pairs of ``frame`` name a user or item outside the id orders."""
    users = pd.Index(_string_ids(user_ids)).get_indexer(frame[schema.USER].astype(str))
    items = pd.Index(_string_ids(item_ids)).get_indexer(frame[schema.ITEM].astype(str))
    return int(((users < 0) | (items < 0)).sum())


def _string_ids(ids) -> np.ndarray:
    values = np.asarray(list(ids), dtype=object)
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], object)
