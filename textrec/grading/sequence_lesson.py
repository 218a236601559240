"""Checks for the exercises of lesson 10, sequences and new items.

Task 1 ``causal_mask(history)``: item numbers [B, L] (0 = padding on the left) -> bool
[B, L, L], true where position t may read position s: ``s <= t`` and s holds an item; a
padding position reads only itself.
Task 2 ``text_adaptor(text, gate, biases, kernels)``: the mixture of parametric whitenings
``sum_k softmax(x W_g)_k (x - b_k) W_k`` of each row x of ``text`` [N, D], with ``gate`` W_g
[D, K], ``biases`` b [K, D], ``kernels`` W [K, D, d] -> [N, d].
Task 3 ``new_item_parts(reviews, new_items)``: each review's part (column ``part`` of a frame
with ``user_id``, ``item_id``, ``timestamp``, ``order``) once ``new_items`` are made new: a
new item's earliest review (time, then ``order``) is its "page"; its other train and
validation rows are "removed"; every other row keeps its part (a new item's test rows stay
"test": they are the targets).

References: :func:`textrec.models.sequence.causal_attention_mask`,
:func:`textrec.models.sequence.mixture_of_whitenings` and
:func:`textrec.evaluation.new_items.split_new_items`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec.grading.checking import Cases, as_array, check, describe, hidden_rng

LESSON = "10_sequences_and_new_items"
PARTS = ("train", "validation", "test")


def reference_causal_mask(history) -> np.ndarray:
    import tensorflow as tf

    from textrec.models import sequence

    return sequence.causal_attention_mask(tf.constant(np.asarray(history, np.int32))).numpy()


def reference_text_adaptor(text, gate, biases, kernels) -> np.ndarray:
    import tensorflow as tf

    from textrec.models import sequence

    return sequence.mixture_of_whitenings(
        tf.constant(np.asarray(text, np.float32)), tf.constant(np.asarray(gate, np.float32)),
        tf.constant(np.asarray(biases, np.float32)),
        tf.constant(np.asarray(kernels, np.float32))).numpy()


def reference_new_item_parts(reviews: pd.DataFrame, new_items) -> np.ndarray:
    from textrec.data import splits
    from textrec.evaluation import new_items as new_items_module

    frame = reviews.reset_index(drop=True)
    split = splits.Split(**{part: frame[frame["part"] == part] for part in PARTS},
                         protocol="given")
    made = new_items_module.split_new_items(split, new_items)
    parts = frame["part"].to_numpy(dtype=object).copy()
    kept = set().union(*(set(f["order"]) for f in made.split.frames().values()))
    parts[~frame["order"].isin(kept).to_numpy()] = "removed"
    parts[frame["order"].isin(set(made.product_pages["order"])).to_numpy()] = "page"
    return parts


# ------------------------------------------------------------------- task 1: causal_mask

# History (0, 5, 2): position 0 is padding, it reads only itself; position 1 reads itself;
# position 2 reads positions 1 and 2, never 0. Without padding, (3, 1): the lower triangle.
MASK_CASES = [
    ([[0, 5, 2]], [[[1, 0, 0], [0, 1, 0], [0, 1, 1]]]),
    ([[3, 1]], [[[1, 0], [1, 1]]]),
]


def _mask_hint(history: np.ndarray, got: np.ndarray) -> str:
    expected = reference_causal_mask(history)
    length = history.shape[1]
    if np.triu(got, 1).any():
        return "a position may not read a later one (the future): mask[t, s] needs s <= t"
    if np.array_equal(got, np.broadcast_to(np.tril(np.ones((length, length), bool)), got.shape)):
        return "padding (item 0) may not be read by an item: also require history[s] != 0"
    pad = history == 0
    if pad.any() and not got[:, np.arange(length), np.arange(length)][pad].all():
        return "a padding position reads only itself: mask[t, t] is true even for padding"
    if np.array_equal(got, np.swapaxes(expected, 1, 2)):
        return "rows are the reading position t, columns the position s read: transpose"
    return f"expected {expected.astype(int).tolist()}, got {got.astype(int).tolist()}"


@check(LESSON, 1, "causal_mask", "the causal mask: the past and never padding")
def check_causal_mask(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", np.array(h), np.array(m, bool))
             for n, (h, m) in enumerate(MASK_CASES)]
    rng = hidden_rng(1010)
    for number in range(6):
        batch, length = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        history = rng.integers(1, 50, (batch, length))
        for row in range(batch):
            history[row, :int(rng.integers(0, length + 1))] = 0
        given.append((f"hidden case {number + 1} ({batch} x {length})", history,
                      reference_causal_mask(history)))
    for case, history, expected in given:
        result = cases.call(history.copy(), case=case)
        got = as_array(cases, case, result, expected.shape)
        if not set(np.unique(got)) <= {0.0, 1.0}:
            raise cases.fail(f"{case}: return booleans (True / False), got other values")
        got = got.astype(bool)
        if not np.array_equal(got, expected):
            raise cases.fail(f"{case}: " + _mask_hint(history, got))
        cases.passed()


# ------------------------------------------------------------------ task 2: text_adaptor

# Text (1, 0) and (0, 1); gate W_g = [[ln 3, 0], [0, 0]]; biases b_0 = (0, 0), b_1 = (1, 0);
# kernels W_0 = [[1], [0]], W_1 = [[2], [1]]. Row (1, 0): gate logits (ln 3, 0) -> g = (3/4,
# 1/4); experts (1, 0) W_0 = 1 and (0, 0) W_1 = 0: output 0.75. Row (0, 1): logits (0, 0) ->
# g = (1/2, 1/2); experts (0, 1) W_0 = 0 and (-1, 1) W_1 = -1: output -0.5.
ADAPTOR_CASES = [
    ([[1.0, 0.0], [0.0, 1.0]], [[np.log(3.0), 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]],
     [[[1.0], [0.0]], [[2.0], [1.0]]], [[0.75], [-0.5]]),
]


def _adaptor_hint(text, gate, biases, kernels, got) -> str:
    logits = text @ gate
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    experts = np.einsum("nkd,kdo->nko", text[:, None, :] - biases[None], kernels)
    no_bias = np.einsum("nd,kdo->nko", text, kernels)
    if np.allclose(got, np.einsum("nk,nko->no", softmax, no_bias), atol=1e-4):
        return "subtract each expert's bias b_k from x before its W_k: (x - b_k) W_k"
    if np.allclose(got, np.einsum("nk,nko->no", logits, experts), atol=1e-4):
        return "the gate is a softmax over the experts: softmax(x W_g), each row summing to 1"
    column = np.exp(logits - logits.max(0, keepdims=True))
    column /= column.sum(0, keepdims=True)
    if np.allclose(got, np.einsum("nk,nko->no", column, experts), atol=1e-4):
        return "take the softmax over the experts (axis 1), not over the rows"
    if np.allclose(got, experts.mean(1), atol=1e-4):
        return "weigh the experts by the gate softmax(x W_g), not equally"
    expected = np.einsum("nk,nko->no", softmax, experts)
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 2, "text_adaptor", "a gated mixture of parametric whitenings")
def check_text_adaptor(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(ADAPTOR_CASES)]
    rng = hidden_rng(1020)
    for number in range(5):
        n, dim, k, out = (int(rng.integers(1, 12)), int(rng.integers(2, 10)),
                          int(rng.integers(1, 5)), int(rng.integers(1, 6)))
        text, gate = rng.normal(size=(n, dim)), rng.normal(size=(dim, k))
        biases, kernels = rng.normal(size=(k, dim)), rng.normal(size=(k, dim, out))
        given.append((f"hidden case {number + 1} ({n} items, {k} experts)", text, gate, biases,
                      kernels, reference_text_adaptor(text, gate, biases, kernels)))
    for case, text, gate, biases, kernels, expected in given:
        text, gate, biases, kernels, expected = (np.asarray(a, float) for a in
                                                 (text, gate, biases, kernels, expected))
        result = cases.call(text.copy(), gate.copy(), biases.copy(), kernels.copy(), case=case)
        got = as_array(cases, case, result, expected.shape)
        if not np.allclose(got, expected, atol=1e-4):
            raise cases.fail(f"{case}: " + _adaptor_hint(text, gate, biases, kernels, got))
        cases.passed()


# ---------------------------------------------------------------- task 3: new_item_parts

# Item "b" is new. Its reviews: order 1 (train, day 2), 3 (validation, day 1) and 4 (test,
# day 5). The earliest is order 3 (day 1): the page; order 1 is removed; order 4 stays a test
# target. Item "a" is not new: its rows keep their parts. With "c" new too, its two reviews on
# the same day (orders 5 and 2) are ordered by file order: order 2 is its page, and order 5, a
# test row, stays a target.
PARTS_FRAME = pd.DataFrame({
    "user_id": ["u1", "u1", "u2", "u2", "u3", "u3"],
    "item_id": ["a", "b", "c", "b", "b", "c"],
    "timestamp": [1, 2, 3, 1, 5, 3],
    "order": [0, 1, 2, 3, 4, 5],
    "part": ["train", "train", "train", "validation", "test", "test"],
})
PARTS_CASES = [
    (["b"], ["train", "removed", "train", "page", "test", "test"]),
    (["b", "c"], ["train", "removed", "page", "page", "test", "test"]),
]


def _parts_hint(reviews: pd.DataFrame, new_items, got: np.ndarray) -> str:
    expected = reference_new_item_parts(reviews, new_items)
    is_new = reviews["item_id"].isin(set(new_items)).to_numpy()
    if (got[~is_new] != expected[~is_new]).any():
        return "only rows of the new items change; every other row keeps its part"
    pages = got == "page"
    if pages.sum() != len(set(new_items)):
        return "each new item has exactly one page, its earliest review"
    if ((reviews["part"].to_numpy() == "test") & is_new & (got == "removed")).any():
        return ("a new item's test rows are the targets: keep them as 'test' (only its page, "
                "if it was a test row, becomes 'page')")
    if (got == expected).sum() >= len(got) - 2 * len(set(new_items)):
        return ("the page is the earliest review by timestamp, and for equal timestamps the "
                "smaller 'order' (file order) comes first")
    return f"expected {list(expected)}, got {list(got)}"


@check(LESSON, 3, "new_item_parts", "the new-item split: pages, removed rows and targets")
def check_new_item_parts(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", PARTS_FRAME, items, np.array(parts, object))
             for n, (items, parts) in enumerate(PARTS_CASES)]
    rng = hidden_rng(1030)
    for number in range(5):
        n, n_items = int(rng.integers(6, 60)), int(rng.integers(3, 12))
        frame = pd.DataFrame({
            "user_id": [f"u{u}" for u in rng.integers(0, 10, n)],
            "item_id": [f"i{i}" for i in rng.integers(0, n_items, n)],
            "timestamp": rng.integers(0, 6, n),            # coarse days: ties happen
            "order": rng.permutation(n),
            "part": rng.choice(PARTS, n, p=[0.6, 0.2, 0.2])})
        present = sorted(frame["item_id"].unique())
        new_items = list(rng.choice(present, size=max(1, len(present) // 3), replace=False))
        given.append((f"hidden case {number + 1} ({n} reviews, {len(new_items)} new items)",
                      frame, new_items, reference_new_item_parts(frame, new_items)))
    for case, frame, new_items, expected in given:
        result = cases.call(frame.copy(), list(new_items), case=case)
        try:
            got = np.asarray(result, dtype=object).ravel()
        except (TypeError, ValueError):
            got = np.array([])
        if got.shape != expected.shape:
            raise cases.fail(f"{case}: return one part per review ({len(expected)} strings), "
                             f"got {describe(result, 80)}")
        got = np.array([str(v) for v in got], dtype=object)
        if not (got == expected).all():
            raise cases.fail(f"{case}: " + _parts_hint(frame, new_items, got))
        cases.passed()
