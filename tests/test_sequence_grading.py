"""Lesson 10's checks: each passes the reference and fails the usual mistakes with its hint."""

import numpy as np
import pytest

from textrec import grading
from textrec.grading import sequence_lesson


def fails_with(check, function, hint):
    with pytest.raises(grading.CheckFailed) as failure:
        check(function)
    assert hint in str(failure.value), str(failure.value)


def _mask(history, future=False, padding=False, itself=True):
    length = history.shape[1]
    square = np.ones((length, length), bool)
    allowed = square if future else np.tril(square)
    mask = allowed[None] & (True if padding else (history[:, None, :] != 0))
    return mask | (np.eye(length, dtype=bool)[None] if itself else False)


def test_causal_mask_check():
    grading.check_causal_mask(sequence_lesson.reference_causal_mask)
    grading.check_causal_mask(_mask)
    fails_with(grading.check_causal_mask, lambda h: _mask(h, future=True), "the future")
    fails_with(grading.check_causal_mask, lambda h: _mask(h, padding=True),
               "padding (item 0) may not be read")
    fails_with(grading.check_causal_mask, lambda h: _mask(h, itself=False), "reads only itself")
    fails_with(grading.check_causal_mask, lambda h: np.swapaxes(_mask(h), 1, 2), "the future")
    fails_with(grading.check_causal_mask, lambda h: _mask(h)[0], "expected shape")


def _adaptor(text, gate, biases, kernels, mistake=None):
    logits = text @ gate
    axis = 0 if mistake == "axis" else 1
    g = np.exp(logits - logits.max(axis, keepdims=True))
    g /= g.sum(axis, keepdims=True)
    if mistake == "raw":
        g = logits
    if mistake == "equal":
        g = np.full_like(logits, 1 / logits.shape[1])
    centred = text[:, None, :] - (0 if mistake == "bias" else biases[None])
    return np.einsum("nk,nko->no", g, np.einsum("nkd,kdo->nko", centred, kernels))


def test_text_adaptor_check():
    grading.check_text_adaptor(sequence_lesson.reference_text_adaptor)
    grading.check_text_adaptor(_adaptor)
    fails_with(grading.check_text_adaptor, lambda *a: _adaptor(*a, mistake="bias"),
               "subtract each expert's bias")
    fails_with(grading.check_text_adaptor, lambda *a: _adaptor(*a, mistake="raw"),
               "the gate is a softmax")
    fails_with(grading.check_text_adaptor, lambda *a: _adaptor(*a, mistake="axis"),
               "over the experts (axis 1)")
    fails_with(grading.check_text_adaptor, lambda *a: _adaptor(*a, mistake="equal"),
               "weigh the experts by the gate")


def _parts(reviews, new_items, mistake=None):
    parts = reviews["part"].to_numpy(dtype=object).copy()
    is_new = reviews["item_id"].isin(set(new_items)).to_numpy()
    parts[is_new & ((parts != "test") | (mistake == "drop test"))] = "removed"
    keys = ["timestamp"] if mistake == "ties" else ["timestamp", "order"]
    if mistake == "ties":
        ordered = reviews[is_new].sort_values(keys, kind="stable", ascending=True)
        ordered = ordered.iloc[::-1].sort_values(keys, kind="stable")   # last line first on ties
    else:
        ordered = reviews[is_new].sort_values(keys)
    earliest = ordered.groupby("item_id").head(1).index
    parts[reviews.index.get_indexer(earliest)] = "page"
    if mistake == "everything":
        parts[~is_new] = "removed"
    return parts


def test_new_item_parts_check():
    grading.check_new_item_parts(sequence_lesson.reference_new_item_parts)
    grading.check_new_item_parts(_parts)
    fails_with(grading.check_new_item_parts, lambda r, n: _parts(r, n, "drop test"),
               "test rows are the targets")
    fails_with(grading.check_new_item_parts, lambda r, n: _parts(r, n, "ties"),
               "smaller 'order'")
    fails_with(grading.check_new_item_parts, lambda r, n: _parts(r, n, "everything"),
               "only rows of the new items change")
    fails_with(grading.check_new_item_parts, lambda r, n: list(_parts(r, n))[:-1],
               "one part per review")

