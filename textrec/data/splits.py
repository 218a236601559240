"""Chronological splits that cannot leak, and a checker that proves it.

Time order: reviews are ordered by ``timestamp`` and, for equal timestamps, by ``order`` (the
review's position in the source file, later lines counted as later). Amazon timestamps have
day resolution, so ties are common (on the Musical Instruments data 44% of users wrote their
last two reviews on the same day); file order makes the split deterministic and documented.

* :func:`leave_last_out`: each user's last interaction is the test target, the one before it
  the validation target, the rest is train. Users with too few interactions to hold two out
  stay whole in train and are counted.
* :func:`ratio_split`: each user's interactions, in time order, are cut by ratio
  (default 80/10/10).

:func:`check_leakage` verifies that no user's later interaction is in an earlier split, no
held-out (user, item) pair is in train, and no held-out review text is part of that user's
train text.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from textrec.data import schema

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass
class Split:
    """Train, validation and test frames of one protocol, with notes on how they were made."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    protocol: str
    notes: dict = dataclasses.field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in SPLITS}

    def summary(self) -> pd.DataFrame:
        """Rows, users and items per split, as a small table."""
        return pd.DataFrame({
            name: {"reviews": len(f), "users": f[schema.USER].nunique(),
                   "items": f[schema.ITEM].nunique()}
            for name, f in self.frames().items()
        }).T

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in self.frames().items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "split.json").write_text(json.dumps({"protocol": self.protocol,
                                                       "notes": self.notes}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Split":
        folder = Path(folder)
        meta = json.loads((folder / "split.json").read_text())
        frames = {name: pd.read_parquet(folder / f"{name}.parquet") for name in SPLITS}
        return cls(**frames, protocol=meta["protocol"], notes=meta["notes"])


def _time_sorted(reviews: pd.DataFrame) -> pd.DataFrame:
    return reviews.sort_values([schema.USER, schema.TIMESTAMP, schema.ORDER], kind="stable")


def _assign(reviews: pd.DataFrame, position_from_end: np.ndarray, counts: np.ndarray,
            n_validation: np.ndarray, n_test: np.ndarray) -> np.ndarray:
    """Name each row's split from its position counted from the user's last interaction."""
    del counts
    return np.where(position_from_end < n_test, "test",
                    np.where(position_from_end < n_test + n_validation, "validation", "train"))


def _split_by_counts(reviews: pd.DataFrame, n_validation, n_test, protocol: str,
                     notes: dict) -> Split:
    frame = _time_sorted(reviews)
    users = frame[schema.USER]
    position_from_end = users.groupby(users, sort=False).cumcount(ascending=False).to_numpy()
    counts = users.map(users.value_counts()).to_numpy()
    labels = _assign(frame, position_from_end, counts, n_validation(counts), n_test(counts))
    parts = {name: frame[labels == name].reset_index(drop=True) for name in SPLITS}
    return Split(**parts, protocol=protocol, notes=notes)


def leave_last_out(reviews: pd.DataFrame, min_train: int = 1) -> Split:
    """Hold out each user's last interaction for test and the one before for validation.

    A user needs ``min_train + 2`` interactions to be held out from; fewer and all of theirs
    stay in train (counted in ``notes["users_train_only"]``).
    """
    counts = reviews[schema.USER].value_counts()
    short = int((counts < min_train + 2).sum())
    enough = lambda c: (c >= min_train + 2).astype(int)  # noqa: E731
    notes = {"min_train": min_train, "users_train_only": short,
             "tie_rule": "equal timestamps are ordered by file order (later line = later)"}
    return _split_by_counts(reviews, enough, enough, "leave-last-out", notes)


def ratio_split(reviews: pd.DataFrame, validation: float = 0.1, test: float = 0.1) -> Split:
    """Cut each user's interactions in time order: the last ``test`` share is test, the
    ``validation`` share before it validation (shares rounded, each user keeping at least one
    train interaction)."""
    if not (0 <= validation < 1 and 0 <= test < 1 and validation + test < 1):
        raise ValueError(f"validation={validation} and test={test} must be shares that sum below 1")

    def n_test(counts):
        return np.minimum(np.round(counts * test).astype(int), counts - 1)

    def n_validation(counts):
        return np.minimum(np.round(counts * validation).astype(int), counts - 1 - n_test(counts))

    notes = {"validation": validation, "test": test,
             "tie_rule": "equal timestamps are ordered by file order (later line = later)"}
    return _split_by_counts(reviews, n_validation, n_test, f"ratio {1 - validation - test:.0%}/"
                            f"{validation:.0%}/{test:.0%}", notes)


def check_leakage(split: Split) -> list[str]:
    """Problems that would let a model see what it must predict; an empty list when none.

    Checks, per user: every train interaction precedes every validation one, which precedes
    every test one (time, then file order); no held-out (user, item) pair is in train; no
    held-out review's non-empty text appears among the user's train texts; no review (by file
    order) is in two splits.
    """
    problems = []
    key = lambda f: f[schema.TIMESTAMP].astype("int64") * 10**9 + f[schema.ORDER]  # noqa: E731
    frames = split.frames()
    for earlier, later in (("train", "validation"), ("validation", "test"), ("train", "test")):
        last = frames[earlier].assign(_k=key(frames[earlier])).groupby(schema.USER)["_k"].max()
        first = frames[later].assign(_k=key(frames[later])).groupby(schema.USER)["_k"].min()
        both = last.index.intersection(first.index)
        bad = both[(last[both] >= first[both]).to_numpy()]
        if len(bad):
            problems.append(f"{len(bad)} users have a {earlier} interaction not before their "
                            f"{later} ones (e.g. {list(bad[:3])})")
    train_pairs = set(zip(split.train[schema.USER], split.train[schema.ITEM]))
    train_texts = set(zip(split.train[schema.USER], split.train[schema.TEXT]))
    for name in ("validation", "test"):
        frame = frames[name]
        pairs = sum(p in train_pairs for p in zip(frame[schema.USER], frame[schema.ITEM]))
        if pairs:
            problems.append(f"{pairs} {name} (user, item) pairs are also in train")
        texts = sum(t in train_texts for t in zip(frame[schema.USER], frame[schema.TEXT]) if t[1])
        if texts:
            problems.append(f"{texts} {name} review texts also appear in the same user's "
                            "train reviews")
    orders = pd.concat([f[schema.ORDER] for f in frames.values()])
    if orders.duplicated().any():
        problems.append(f"{int(orders.duplicated().sum())} reviews are in more than one split")
    return problems


def assert_no_leakage(split: Split) -> None:
    """Raise ValueError listing the problems :func:`check_leakage` finds."""
    problems = check_leakage(split)
    if problems:
        raise ValueError(f"the {split.protocol} split leaks:\n- " + "\n- ".join(problems))
