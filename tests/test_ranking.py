"""The one top-k and the one seen-items type (textrec.ranking), worked by hand."""

import numpy as np
import pandas as pd
import pytest

from textrec import ranking
from textrec.data import schema

SCORES = np.array([[0.9, 0.1, 0.8, 0.5, 0.2],
                   [0.3, 0.9, 0.1, 0.7, 0.6]])


def _frame(pairs):
    return pd.DataFrame(pairs, columns=[schema.USER, schema.ITEM])


def test_seen_items_from_a_frame_and_a_mapping_agree():
    frame = _frame([("u1", "b"), ("u1", "a"), ("u2", "c"), ("u1", "a")])
    from_frame = ranking.SeenItems.from_frame(frame)
    from_mapping = ranking.SeenItems.from_mapping({"u1": {"a", "b"}, "u2": ["c"]})
    # ids sorted: users [u1, u2], items [a, b, c]; u1 saw a and b (once each), u2 saw c
    assert from_frame.lists()[0].tolist() == [0, 1] and from_frame.lists()[1].tolist() == [2]
    assert (from_frame.matrix != from_mapping.matrix).nnz == 0
    assert from_frame.items_of("u1") == {"a", "b"} and from_frame.items_of("nobody") == set()
    assert from_frame.pairs() == 3


def test_rows_for_raw_users_in_another_item_order():
    seen = ranking.SeenItems.from_frame(_frame([("u1", "a"), ("u2", "c")]))
    rows = ranking.SeenItems.rows_for(seen, ["u2", "stranger", "u1"], ["c", "b", "a"])
    # u2 saw c (column 0 here), the stranger nothing, u1 saw a (column 2 here)
    assert rows.toarray().tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]


def test_unknown_pairs_are_counted():
    frame = _frame([("u1", "a"), ("u1", "zzz"), ("ghost", "a")])
    assert ranking.unknown_pairs(frame, ["u1"], ["a"]) == 2


def test_topk_masks_seen_items_and_pads_with_minus_one():
    seen = ranking.SeenItems.from_frame(_frame([("u0", "i0"), ("u1", "i1")]),
                                        ["u0", "u1"], [f"i{j}" for j in range(5)])
    top = ranking.topk_items(SCORES, 2, exclude=seen)
    # row 0 without item 0: 0.8 (2), 0.5 (3); row 1 without item 1: 0.7 (3), 0.6 (4)
    assert top.tolist() == [[2, 3], [3, 4]]
    only_one = ranking.topk_items(SCORES[:1], 3, exclude=[[0, 1, 2, 3]])
    assert only_one.tolist() == [[4, -1, -1]]


def test_seen_items_shape_is_checked():
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="user_ids x item_ids"):
        ranking.SeenItems(sp.csr_matrix((2, 3)), np.array(["u"], object), np.array(["a"], object))
