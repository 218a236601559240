"""New items: a protocol for items that no one had chosen when the model was fitted.

From a split (leave-last-out by default), a seeded share of the items is made **new**:

* none of their interactions is in train or validation (those rows are removed, and counted);
* each new item's **earliest review** (time, then file order) stands for its product page: its
  text is what the catalogue knows about the item, and it is never a target;
* the test asks, for every user whose test item is a new item (other than its page's review),
  to rank it among **all** items, with the user's train and validation items masked as usual.

What a model may read, for a fit (``"train"`` or ``"train+validation"``): the interactions and
review texts of that fit (:meth:`NewItemSplit.fit_frame`) and, to describe items, the product
pages too (:meth:`NewItemSplit.item_text_frame`). A test review is never among them: the page of
a new item is a review, but the one review that is never predicted.

An id-only model learns nothing about a new item (no interaction), so it cannot rank one above
chance; a model that reads item text can. :func:`new_item_split` draws the new items
(:func:`split_new_items` makes given ones new);
:meth:`NewItemSplit.heldout` gives targets and exclusions for the score matrices, and
:func:`check_new_item_split` verifies the rules above.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec import config, ranking
from textrec.data import schema, splits
from textrec.evaluation import metrics

TARGETS = ("new", "old", "all")


@dataclasses.dataclass
class NewItemSplit:
    """A split whose new items were never interacted with in train or validation.

    ``split``: train and validation without the new items' rows; test without the product
    pages' rows (its other rows, old items and new, are the targets). ``new_items``: the new
    item ids (sorted); ``product_pages``: one review per new item, its earliest, whose text
    describes it; ``notes``: the share, the seed and the rows removed from each part.
    """

    split: splits.Split
    new_items: np.ndarray
    product_pages: pd.DataFrame
    notes: dict = dataclasses.field(default_factory=dict)

    def fit_frame(self, fit: str = "train") -> pd.DataFrame:
        """The interactions (and review texts) a model fitted on ``fit`` may read."""
        if fit == "train":
            return self.split.train
        if fit == "train+validation":
            return pd.concat([self.split.train, self.split.validation], ignore_index=True)
        raise ValueError(f"fit must be 'train' or 'train+validation', got {fit!r}")

    def item_text_frame(self, fit: str = "train") -> pd.DataFrame:
        """The reviews whose text may describe items: the fit's reviews and the new items'
        product pages (no user reads a page as their own history)."""
        return pd.concat([self.fit_frame(fit), self.product_pages], ignore_index=True)

    def heldout(self, user_ids, item_ids, targets: str = "new"
                ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(targets, exclude), binary CSR [n users, n items], for test scores over
        ``user_ids`` x ``item_ids``: ``targets`` "new" (test items that are new), "old"
        (the others) or "all"; exclude: each user's train and validation items."""
        if targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
        test = self.split.test
        is_new = test[schema.ITEM].astype(str).isin(set(self.new_items))
        chosen = {"new": test[is_new], "old": test[~is_new], "all": test}[targets]
        user_ids = np.asarray(list(user_ids), dtype=object)
        item_ids = np.asarray(list(item_ids), dtype=object)
        held = ranking.interaction_matrix(chosen, user_ids, item_ids)
        seen = ranking.interaction_matrix(self.fit_frame("train+validation"), user_ids, item_ids)
        return held, seen

    def interaction_data(self, user_ids, item_ids, targets: str = "new"):
        """An :class:`~textrec.evaluation.protocol.InteractionData` over ``user_ids`` x
        ``item_ids`` whose train and validation are this split's (no new item) and whose test
        holds only the chosen targets (see :meth:`heldout`), for the ``Evaluator``."""
        from textrec.evaluation.protocol import InteractionData

        data = InteractionData.from_split(self.split, item_ids=item_ids, user_ids=user_ids)
        data.test, _ = self.heldout(data.user_ids, data.item_ids, targets)
        data.protocol = f"{data.protocol} ({targets}-item targets)"
        return data

    def evaluate(self, scores, user_ids, item_ids, targets: str = "new", ks=(10,),
                 per_user: bool = False) -> dict:
        """:func:`textrec.evaluation.metrics.ranking_metrics` of ``scores`` [users, items]
        against the chosen test targets (see :meth:`heldout`)."""
        held, seen = self.heldout(user_ids, item_ids, targets)
        return metrics.ranking_metrics(scores, held, exclude=seen, ks=ks, per_user=per_user)

    def random_reference(self, user_ids, item_ids, targets: str = "new", ks=(10,),
                         per_user: bool = False) -> dict:
        """A uniformly random ranking's expected metrics on the same targets: means over the
        evaluated users, or per user (NaN without a target) with ``per_user``."""
        held, seen = self.heldout(user_ids, item_ids, targets)
        values = metrics.expected_random_metrics(held, seen, len(item_ids), ks)
        return values if per_user else {name: float(np.nanmean(v)) for name, v in values.items()}

    def summary(self) -> pd.DataFrame:
        """Reviews, users and items of each part, and its rows with a new item (only test
        has any)."""
        table = self.split.summary()
        is_new = self.split.test[schema.ITEM].astype(str).isin(set(self.new_items))
        table["new-item rows"] = [0, 0, int(is_new.sum())]
        table.attrs.update(self.notes, new_item_targets=int(is_new.sum()))
        return table


def _time_key(frame: pd.DataFrame) -> pd.Series:
    return frame[schema.TIMESTAMP].astype("int64") * 10**9 + frame[schema.ORDER].astype("int64")


def new_item_split(split: splits.Split, share: float = 0.1,
                   seed: int = config.SEED) -> NewItemSplit:
    """Make ``round(share * n items)`` items, drawn uniformly with ``seed``, new (see the
    module docstring and :func:`split_new_items`). The items are every item of the split, in
    sorted order, so the same split, share and seed give the same new items."""
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share}")
    every = pd.concat(split.frames().values(), ignore_index=True)
    items = np.array(sorted(every[schema.ITEM].astype(str).unique()), dtype=object)
    n_new = int(round(share * len(items)))
    if n_new < 1:
        raise ValueError(f"a share of {share} of {len(items)} items is no item: raise the share")
    rng = np.random.default_rng(seed)
    new = split_new_items(split, rng.choice(items, size=n_new, replace=False))
    new.notes.update(share=share, seed=seed, items=len(items))
    return new


def split_new_items(split: splits.Split, new_items) -> NewItemSplit:
    """``split`` with ``new_items`` made new: each one's earliest review (time, then file
    order, over every part) becomes its product page; its other train and validation rows are
    removed; its test rows stay, as targets (the page's row, if it was a test row, does not)."""
    frames = split.frames()
    every = pd.concat(frames.values(), ignore_index=True)
    new_items = np.array(sorted({str(item) for item in new_items}), dtype=object)
    unknown = set(new_items) - set(every[schema.ITEM].astype(str))
    if unknown:
        raise ValueError(f"new items not in the split: {sorted(unknown)[:5]}")
    is_new = every[schema.ITEM].astype(str).isin(set(new_items))
    of_new = every[is_new].assign(_key=_time_key(every[is_new]))
    pages = (of_new.sort_values([schema.ITEM, "_key"], kind="stable")
             .groupby(schema.ITEM, sort=True).head(1).drop(columns="_key")
             .reset_index(drop=True))
    page_orders = set(pages[schema.ORDER])
    kept, removed = {}, {}
    for name, frame in frames.items():
        drop = (frame[schema.ITEM].astype(str).isin(set(new_items)) if name != "test"
                else frame[schema.ORDER].isin(page_orders))
        kept[name] = frame[~drop].reset_index(drop=True)
        removed[name] = int(drop.sum())
    notes = {"new_items": len(new_items), "removed_rows": removed,
             "page_rule": "a new item's earliest review (time, then file order) is its product "
                          "page: its text describes the item, and it is never a target"}
    return NewItemSplit(splits.Split(**kept, protocol=f"{split.protocol}, new items",
                                     notes={**split.notes, "new_items": notes}),
                        new_items, pages, notes)


def check_new_item_split(new: NewItemSplit) -> list[str]:
    """Problems that would let a model learn a new item from what it must predict; [] when
    none: a new item in train or validation, a product page that is also a test row, a page
    that is not its item's earliest review, or a test review among the texts a model reads."""
    problems = []
    new_set = set(new.new_items)
    for name in ("train", "validation"):
        frame = getattr(new.split, name)
        count = int(frame[schema.ITEM].astype(str).isin(new_set).sum())
        if count:
            problems.append(f"{count} {name} rows have a new item")
    test_orders = set(new.split.test[schema.ORDER])
    pages_in_test = int(new.product_pages[schema.ORDER].isin(test_orders).sum())
    if pages_in_test:
        problems.append(f"{pages_in_test} product pages are also test targets")
    if set(new.product_pages[schema.ITEM].astype(str)) - new_set:
        problems.append("a product page describes an item that is not new")
    for fit in ("train", "train+validation"):
        readable = set(new.item_text_frame(fit)[schema.ORDER])
        leaked = len(readable & test_orders)
        if leaked:
            problems.append(f"{leaked} test reviews are readable by a model fitted on {fit}")
    test_of_new = new.split.test[new.split.test[schema.ITEM].astype(str).isin(new_set)]
    if len(test_of_new):
        page_key = dict(zip(new.product_pages[schema.ITEM].astype(str),
                            _time_key(new.product_pages)))
        later = _time_key(test_of_new).to_numpy() > np.array(
            [page_key.get(item, np.inf) for item in test_of_new[schema.ITEM].astype(str)])
        if not later.all():
            problems.append(f"{int((~later).sum())} new-item targets are not after their "
                            "item's product page")
    return problems
