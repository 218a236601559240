"""The new-item protocol: which items are new, how their text is formed, what is held out, and
that no held-out review reaches any fitted course model."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from textrec import evaluation
from textrec.data import schema, splits
from textrec.pipeline import comparison


def _reviews(n_users=30, n_items=24, per_user=6, seed=0):
    """Each user reviews ``per_user`` distinct items, one a day, in file order."""
    rng = np.random.default_rng(seed)
    rows, order = [], 0
    for user in range(n_users):
        start = int(rng.integers(0, 100))
        for day, item in enumerate(rng.choice(n_items, per_user, replace=False)):
            rows.append({schema.USER: f"u{user:02d}", schema.ITEM: f"i{item:02d}",
                         schema.RATING: float(rng.integers(1, 6)),
                         schema.TEXT: f"review {order} of item i{item:02d}",
                         schema.SUMMARY: "", schema.TIMESTAMP: (start + day) * 86_400,
                         schema.ORDER: order})
            order += 1
    return pd.DataFrame(rows)


def test_new_items_leave_train_and_validation_and_their_first_review_is_the_page():
    split = splits.leave_last_out(_reviews())
    new = evaluation.new_item_split(split, share=0.25, seed=3)
    assert len(new.new_items) == 6                                  # 25% of 24 items
    assert evaluation.check_new_item_split(new) == []
    every = pd.concat(split.frames().values())
    for item in new.new_items:
        mine = every[every[schema.ITEM] == item].sort_values([schema.TIMESTAMP, schema.ORDER])
        page = new.product_pages[new.product_pages[schema.ITEM] == item]
        assert page[schema.ORDER].tolist() == mine[schema.ORDER].head(1).tolist()
    for name in ("train", "validation"):
        assert not getattr(new.split, name)[schema.ITEM].isin(new.new_items).any()
    removed = new.notes["removed_rows"]
    assert len(new.split.train) == len(split.train) - removed["train"]
    assert len(new.split.test) == len(split.test) - removed["test"]
    # The same split, share and seed draw the same items; another seed, others.
    assert new.new_items.tolist() == evaluation.new_item_split(split, 0.25, 3).new_items.tolist()
    assert new.new_items.tolist() != evaluation.new_item_split(split, 0.25, 4).new_items.tolist()


def test_new_item_targets_and_their_random_reference():
    split = splits.leave_last_out(_reviews())
    new = evaluation.new_item_split(split, share=0.25, seed=3)
    users = sorted(split.train[schema.USER].unique())
    items = sorted(pd.concat(split.frames().values())[schema.ITEM].unique())
    targets, seen = new.heldout(users, items, "new")
    old, _ = new.heldout(users, items, "old")
    every, _ = new.heldout(users, items, "all")
    assert targets.nnz + old.nnz == every.nnz == len(new.split.test)
    new_columns = np.isin(items, new.new_items)
    assert targets[:, ~new_columns].nnz == 0 and old[:, new_columns].nnz == 0
    assert seen[:, new_columns].nnz == 0                            # nobody has one yet
    data = new.interaction_data(users, items)
    assert (data.test != targets).nnz == 0 and data.fit_matrix("train+validation")[
        :, new_columns].nnz == 0
    # A random ranking of ~24 - 5 candidates puts one target in the top 10 about half the time.
    reference = new.random_reference(users, items, "new")
    assert 0.2 < reference["hr@10"] < 0.8
    with pytest.raises(ValueError, match="targets"):
        new.heldout(users, items, "newest")
    with pytest.raises(ValueError, match="share"):
        evaluation.new_item_split(split, share=0)


class HashEmbedder:
    """A stand-in encoder: each text gets its own fixed vector, so changing a text changes
    what any model that reads it sees."""

    dim = 16

    def embed(self, texts):
        return np.stack([np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8],
                                                   16)).normal(size=self.dim)
                         for t in texts]).astype(np.float32)


SMALL = {name: {"n_layers": 1, "max_length": 8} for name in comparison.SEQUENCE.values()}


def _ids(new):
    frames = pd.concat([*new.split.frames().values(), new.product_pages])
    return sorted(frames[schema.USER].unique()), sorted(frames[schema.ITEM].unique())


def _what_models_read(new, fit):
    users, items = _ids(new)
    text = comparison.fit_text(new.fit_frame(fit), HashEmbedder(), users, items,
                               new.item_text_frame(fit))
    return text, new.interaction_data(users, items).fit_matrix(fit)


def _every_model(new, fit, names=None):
    text, matrix = _what_models_read(new, fit)
    return comparison.every_model_scores(text, matrix, {n: 1 for n in comparison.NEURAL},
                                         SMALL, seed=7, names=names)


def _rewrite(frame):
    return frame.assign(**{schema.TEXT: [f"something else entirely {k}"
                                         for k in range(len(frame))]})


def _held_out_rewritten(new, fit):
    """``new`` with the text of every review a model fitted on ``fit`` must not read
    rewritten: test (and validation, for the fit on train)."""
    held_out = {"test": _rewrite(new.split.test)}
    if fit == "train":
        held_out["validation"] = _rewrite(new.split.validation)
    return evaluation.NewItemSplit(
        splits.Split(**{**new.split.frames(), **held_out}, protocol=new.split.protocol),
        new.new_items, new.product_pages, new.notes)


def _split():
    split = splits.leave_last_out(_reviews(n_users=16, n_items=12, per_user=5, seed=1))
    return evaluation.new_item_split(split, share=0.25, seed=5)


@pytest.mark.parametrize("fit", ["train", "train+validation"])
def test_what_a_model_reads_does_not_change_with_held_out_texts(fit):
    new = _split()
    (text, matrix), (again, matrix_again) = (_what_models_read(new, fit),
                                             _what_models_read(_held_out_rewritten(new, fit), fit))
    assert (matrix != matrix_again).nnz == 0
    for part in ("user_text", "item_text"):
        assert np.array_equal(getattr(text, part).vectors, getattr(again, part).vectors), part
    assert np.array_equal(text.reviews.vectors, again.reviews.vectors)
    pd.testing.assert_frame_equal(text.frame, again.frame)


def test_no_held_out_review_reaches_a_fitted_model():
    new = _split()
    before = _every_model(new, "train")
    after = _every_model(_held_out_rewritten(new, "train"), "train")
    same = lambda a, b: np.allclose(a, b, rtol=1e-4, atol=1e-4)  # noqa: E731 (float noise)
    for name in before:
        assert same(before[name], after[name]), name
    # The check can fail: rewriting reviews a model may read (the product pages) moves a model
    # that reads item text.
    reader = comparison.SEQUENCE["text+ids"]
    pages = evaluation.NewItemSplit(new.split, new.new_items, _rewrite(new.product_pages),
                                    new.notes)
    assert not same(before[reader], _every_model(pages, "train", [reader])[reader])
