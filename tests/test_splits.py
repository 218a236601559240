"""Chronological splits: ties, short histories and the leakage checks."""

import pandas as pd
import pytest

from tests.helpers import reviews
from textrec.data import schema, splits

# u1: four reviews; its last two share day 5, so file order decides: i4 (order 3) is last.
# u2: two reviews, too few to hold two out: all in train.
FRAME = reviews([
    ("u1", "i1", 5, "one", 1),
    ("u1", "i2", 4, "two", 2),
    ("u1", "i3", 3, "three", 5),
    ("u1", "i4", 5, "four", 5),
    ("u2", "i1", 5, "alpha", 3),
    ("u2", "i2", 5, "beta", 4),
])


def items(frame):
    return sorted(zip(frame[schema.USER], frame[schema.ITEM]))


def test_leave_last_out_breaks_ties_by_file_order():
    split = splits.leave_last_out(FRAME)
    assert items(split.test) == [("u1", "i4")]
    assert items(split.validation) == [("u1", "i3")]
    assert items(split.train) == [("u1", "i1"), ("u1", "i2"), ("u2", "i1"), ("u2", "i2")]
    assert split.notes["users_train_only"] == 1
    assert splits.check_leakage(split) == []


def test_leave_last_out_ignores_row_order_of_the_frame():
    shuffled = FRAME.sample(frac=1.0, random_state=3)
    assert items(splits.leave_last_out(shuffled).test) == [("u1", "i4")]


def test_ratio_split_keeps_time_order_per_user():
    rows = [("u1", f"i{d}", 5, f"t{d}", d) for d in range(10)]
    split = splits.ratio_split(reviews(rows), validation=0.2, test=0.2)
    # 10 interactions: 2 test (days 8, 9), 2 validation (days 6, 7), 6 train.
    assert sorted(split.test[schema.ITEM]) == ["i8", "i9"]
    assert sorted(split.validation[schema.ITEM]) == ["i6", "i7"]
    assert len(split.train) == 6
    assert splits.check_leakage(split) == []


def test_ratio_split_rejects_impossible_shares():
    with pytest.raises(ValueError, match="shares"):
        splits.ratio_split(FRAME, validation=0.6, test=0.5)


def test_leakage_checker_finds_each_kind_of_leak():
    good = splits.leave_last_out(FRAME)
    # A later interaction moved into train.
    moved = splits.Split(pd.concat([good.train, good.test]), good.validation, good.test, "bad")
    problems = splits.check_leakage(moved)
    assert any("not before" in p for p in problems)
    assert any("(user, item) pairs are also in train" in p for p in problems)
    assert any("more than one split" in p for p in problems)
    # The held-out review's text copied onto a train review of the same user.
    train = good.train.copy()
    train.loc[train[schema.ITEM] == "i1", schema.TEXT] = "four"
    copied = splits.Split(train, good.validation, good.test, "copied text")
    assert any("review texts also appear" in p for p in splits.check_leakage(copied))
    with pytest.raises(ValueError, match="leaks"):
        splits.assert_no_leakage(copied)


def test_save_and_load_round_trip(tmp_path):
    split = splits.leave_last_out(FRAME)
    loaded = splits.Split.load(split.save(tmp_path / "split"))
    pd.testing.assert_frame_equal(loaded.train, split.train)
    assert loaded.protocol == "leave-last-out" and loaded.notes == split.notes
