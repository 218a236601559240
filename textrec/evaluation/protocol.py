"""The evaluation protocol: which interactions a model learns from, which it must find, and
which it may not recommend.

:class:`InteractionData` turns a :class:`textrec.data.splits.Split` (chronological
leave-last-out by default, or the per-user ratio split) into binary CSR matrices
[number of users, number of items] over one fixed user and item order:

* ``fit_matrix(refit)``: what a model is fitted on, ``train`` or, for the refit,
  ``train + validation``;
* ``history(part, refit)``: what an item-based model reads as the user's past when scoring
  (the same matrix as the fit);
* ``targets(part)``: the held-out items of ``part`` ("validation" or "test");
* ``exclude(part)``: the items never to recommend: train items, and on test the validation
  items too (the user already has them), whether or not the model was refitted.

Two ways to report test, always named: ``fit="train"`` (the model chosen on validation, as it
was) and ``fit="train+validation"`` (the same hyper-parameters refitted on train and
validation, which sees one more interaction per user and is what one would ship).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec import ranking
from textrec.data import schema, splits
from textrec.evaluation import metrics

interaction_matrix = ranking.interaction_matrix

PARTS = ("validation", "test")
FITS = ("train", "train+validation")


def _check_part(part: str) -> None:
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")


def _check_fit(fit: str) -> None:
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")


def _binary_sum(a: sp.csr_matrix, b: sp.csr_matrix) -> sp.csr_matrix:
    total = (a + b).tocsr()
    total.data[:] = 1.0
    return total


@dataclasses.dataclass
class InteractionData:
    """Train, validation and test interactions as binary matrices over fixed id orders.

    ``user_ids`` [n users] and ``item_ids`` [n items] are sorted; ``train``, ``validation``
    and ``test`` are binary CSR float32 [n users, n items]. ``split`` keeps the frames (for
    text models); it is not needed by the matrix models.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    validation: sp.csr_matrix
    test: sp.csr_matrix
    protocol: str = "leave-last-out"
    split: splits.Split | None = None

    @classmethod
    def from_split(cls, split: splits.Split, item_ids=None, user_ids=None) -> "InteractionData":
        """Matrices of ``split``; users and items are every id seen in any part (sorted),
        unless ``user_ids`` / ``item_ids`` fix the orders (e.g. a text model's); interactions
        of other ids are dropped."""
        frames = split.frames().values()
        if user_ids is None:
            user_ids = sorted(set().union(*(set(f[schema.USER]) for f in frames)))
        user_ids = np.asarray(list(user_ids), dtype=object)
        if item_ids is None:
            item_ids = sorted(set().union(*(set(f[schema.ITEM]) for f in frames)))
        item_ids = np.asarray(list(item_ids), dtype=object)
        parts = {name: interaction_matrix(frame, user_ids, item_ids)
                 for name, frame in split.frames().items()}
        return cls(user_ids, item_ids, **parts, protocol=split.protocol, split=split)

    @classmethod
    def from_reviews(cls, reviews: pd.DataFrame, protocol: str = "leave-last-out",
                     **options) -> "InteractionData":
        """Split clean reviews with ``protocol`` ("leave-last-out", the default, or "ratio",
        with ``options`` for :func:`textrec.data.splits.ratio_split`) and check for leakage."""
        if protocol == "leave-last-out":
            split = splits.leave_last_out(reviews, **options)
        elif protocol == "ratio":
            split = splits.ratio_split(reviews, **options)
        else:
            raise ValueError(f"unknown protocol {protocol!r}; use 'leave-last-out' or 'ratio'")
        splits.assert_no_leakage(split)
        return cls.from_split(split)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def fit_matrix(self, fit: str = "train") -> sp.csr_matrix:
        """The interactions a model is fitted on: train, or train + validation."""
        _check_fit(fit)
        return self.train if fit == "train" else _binary_sum(self.train, self.validation)

    def history(self, part: str, fit: str = "train") -> sp.csr_matrix:
        """What a model reads as each user's past when scoring ``part``: the fit matrix.

        On validation only ``fit="train"`` is allowed (the validation items are the answers).
        """
        _check_part(part)
        if part == "validation" and fit != "train":
            raise ValueError("validation is scored from train only; refit is for test")
        return self.fit_matrix(fit)

    def targets(self, part: str) -> sp.csr_matrix:
        """The held-out items of ``part``: binary CSR [n users, n items]."""
        _check_part(part)
        return self.validation if part == "validation" else self.test

    def exclude(self, part: str) -> sp.csr_matrix:
        """Items not to recommend on ``part``: train items; on test, validation items too."""
        _check_part(part)
        return self.train if part == "validation" else _binary_sum(self.train, self.validation)

    def train_counts(self) -> np.ndarray:
        """Number of train interactions of each user: int [n users]."""
        return np.diff(self.train.indptr).astype(np.int64)

    def item_popularity(self, fit: str = "train") -> np.ndarray:
        """Number of users who interacted with each item in the fit matrix: float [n items]."""
        return np.asarray(self.fit_matrix(fit).sum(axis=0), dtype=float).ravel()

    def summary(self) -> pd.DataFrame:
        """Interactions and users with at least one, per part."""
        rows = {name: {"interactions": int(m.nnz), "users": int((np.diff(m.indptr) > 0).sum())}
                for name, m in (("train", self.train), ("validation", self.validation),
                                ("test", self.test))}
        table = pd.DataFrame(rows).T
        table.attrs["items"] = self.n_items
        return table


def heldout(split: splits.Split, part: str, user_ids, item_ids
            ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(targets, exclude) of ``part`` for score matrices over ``user_ids`` x ``item_ids``:
    binary CSR [n users, n items], as :class:`InteractionData` defines them (targets: the
    held-out items of ``part``; exclude: train items, and on test the validation items too)."""
    _check_part(part)
    data = InteractionData.from_split(split, item_ids=item_ids, user_ids=user_ids)
    return data.targets(part), data.exclude(part)


def evaluate_scores(scores, split: splits.Split, user_ids, item_ids, part: str = "validation",
                    ks=(10,), per_user: bool = False) -> dict:
    """:func:`textrec.evaluation.metrics.ranking_metrics` of ``scores`` [len(user_ids),
    len(item_ids)] on ``part`` of ``split``, with the targets and exclusions of
    :func:`heldout`: the one evaluation path of every notebook, stage and benchmark."""
    targets, exclude = heldout(split, part, user_ids, item_ids)
    return metrics.ranking_metrics(scores, targets, exclude=exclude, ks=ks, per_user=per_user)


def validation_ndcg(split: splits.Split, user_ids, item_ids, scores, k: int = 10):
    """The measure that chooses a trained model's epochs: ``model -> NDCG@k`` on the validation
    part of ``split`` by full ranking (train items masked), through :func:`heldout` and
    :func:`textrec.evaluation.metrics.ranking_metrics` like every other score here.

    ``scores``: ``model -> float [len(user_ids), len(item_ids)]`` (for towers,
    :func:`textrec.models.tower_scores`). Give it to :class:`textrec.models.BestEpoch` or to
    ``recipe.fit(stop_on=...)``. Only validation: epochs are a hyper-parameter, never chosen on
    test.
    """
    targets, exclude = heldout(split, "validation", user_ids, item_ids)

    def measure(model) -> float:
        return float(metrics.ranking_metrics(scores(model), targets, exclude=exclude,
                                             ks=(k,))[f"ndcg@{k}"])
    return measure


def random_reference(split: splits.Split, part: str, user_ids, item_ids, ks=(10,)) -> dict:
    """The expected metrics of a uniformly random ranking over the same users, items,
    targets and exclusions as :func:`evaluate_scores` (means over the evaluated users; see
    :func:`textrec.evaluation.metrics.expected_random_metrics`)."""
    targets, exclude = heldout(split, part, user_ids, item_ids)
    per_user = metrics.expected_random_metrics(targets, exclude, len(item_ids), ks)
    return {name: float(np.nanmean(values)) for name, values in per_user.items()}
