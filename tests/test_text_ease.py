"""EASE with side information from text (textrec.models.text_ease): hand-worked cases."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from textrec.data import schema
from textrec.models import EASE, ease_weights, text_ease

USERS = np.array(["u0", "u1", "u2", "u3", "u4"], dtype=object)
ITEMS = np.array(["guitar", "drum", "cable"], dtype=object)


def _frame(rows):
    return pd.DataFrame(rows, columns=[schema.USER, schema.ITEM, schema.TEXT])


def _world(u4_text="guitar cable"):
    """Guitar players (u0, u1) bought the guitar and a cable, drummers (u2, u3) the drum and a
    cable; u4 has only the cable, and the words of u4's review. By interactions alone guitar
    and drum tie for u4 (each co-occurs twice with the cable)."""
    rows = [("u0", "guitar", "guitar strings"), ("u0", "cable", "guitar cable"),
            ("u1", "guitar", "guitar strings"), ("u1", "cable", "guitar cable"),
            ("u2", "drum", "drum sticks"), ("u2", "cable", "drum cable"),
            ("u3", "drum", "drum sticks"), ("u3", "cable", "drum cable"),
            ("u4", "cable", u4_text)]
    frame = _frame(rows)
    users = pd.Index(USERS).get_indexer(frame[schema.USER])
    items = pd.Index(ITEMS).get_indexer(frame[schema.ITEM])
    x = sp.csr_matrix((np.ones(len(frame)), (users, items)), shape=(len(USERS), len(ITEMS)))
    return frame, x


def test_tokenize_lowercases_and_drops_stop_words_and_numbers():
    assert text_ease.tokenize("The Guitar's strings, 2 NEW!") == ["guitar's", "strings", "new"]
    assert text_ease.tokenize(None) == []


def test_fit_vocabulary_keeps_frequent_words_alphabetically():
    # document frequencies: b 3, a 2, c 2, d 1. min_df 2 drops d; max_words 2 keeps b and the
    # tie a/c broken by the word (a); columns in alphabetical order.
    tokens = [["a", "b"], ["b", "c", "c"], ["a", "b", "c", "d"]]
    assert text_ease.fit_vocabulary(tokens, max_words=2, min_df=2) == {"a": 0, "b": 1}
    counts = text_ease.count_matrix(tokens, {"a": 0, "b": 1}).toarray()
    np.testing.assert_array_equal(counts, [[1, 1], [0, 1], [1, 1]])


def test_standardize_rows_by_hand():
    # [1, 2, 3]: mean 2, population std sqrt(2/3); a constant row becomes 0.
    out = text_ease.standardize_rows(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(out[0], np.array([-1, 0, 1]) / np.sqrt(2 / 3))
    np.testing.assert_array_equal(out[1], 0.0)


def test_item_similarity_in_the_gram_matrix_by_hand():
    # X = [[1, 1], [1, 0]], l2 = 1: G = [[3, 1], [1, 2]], P = [[2, -1], [-1, 3]] / 5,
    # B[0, 1] = -P[0, 1] / P[1, 1] = 1/3 and B[1, 0] = -P[1, 0] / P[0, 0] = 1/2 (plain EASE).
    x = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 0.0]]))
    plain = text_ease.side_information_weights(x, 1.0)
    np.testing.assert_allclose(plain, [[0, 1 / 3], [1 / 2, 0]])
    # Unrelated texts V = I add beta I: G = [[4, 1], [1, 3]], P = [[3, -1], [-1, 4]] / 11,
    # B[0, 1] = 1/4, B[1, 0] = 1/3 (only more shrinkage).
    apart = text_ease.side_information_weights(x, 1.0, item_text=np.eye(2), similarity_weight=1)
    np.testing.assert_allclose(apart, [[0, 1 / 4], [1 / 3, 0]])
    # Identical texts V = [[1], [1]] add [[1, 1], [1, 1]]: G = [[4, 2], [2, 3]],
    # P = [[3, -2], [-2, 4]] / 8, B[0, 1] = 2/4, B[1, 0] = 2/3: the items pull each other up.
    same = text_ease.side_information_weights(x, 1.0, item_text=np.ones((2, 1)),
                                              similarity_weight=1)
    np.testing.assert_allclose(same, [[0, 1 / 2], [2 / 3, 0]])


def test_stacked_matrix_closed_form():
    # The function equals EASE's closed form on Z = [[X, alpha U], [sqrt(beta) V^T, 0]].
    rng = np.random.default_rng(0)
    x = (rng.random((6, 4)) < 0.5).astype(float)
    u, v = rng.random((6, 3)), rng.random((4, 2))
    alpha, beta, l2 = 0.7, 2.0, 1.5
    z = np.block([[x, alpha * u], [np.sqrt(beta) * v.T, np.zeros((2, 3))]])
    p = np.linalg.inv(z.T @ z + l2 * np.eye(7))
    b = np.eye(7) - p / np.diag(p)[None, :]
    got = text_ease.side_information_weights(sp.csr_matrix(x), l2, u, v, alpha, beta)
    np.testing.assert_allclose(got, b[:, :4], atol=1e-10)
    # Sparse text (TF-IDF) gives the same weights as dense.
    sparse = text_ease.side_information_weights(sp.csr_matrix(x), l2, sp.csr_matrix(u),
                                                sp.csr_matrix(v), alpha, beta)
    np.testing.assert_allclose(sparse, b[:, :4], atol=1e-10)


def test_a_ridge_of_its_own_on_the_words_is_a_rescaled_word_weight():
    # A ridge l2_w on the word columns (weight alpha) gives the same item weights as the shared
    # ridge l2 with weight alpha sqrt(l2 / l2_w): the word block needs no ridge of its own.
    rng = np.random.default_rng(1)
    x = (rng.random((7, 4)) < 0.5).astype(float)
    u = rng.random((7, 3))
    alpha, l2, l2_words = 0.7, 1.5, 6.0
    z = np.hstack([x, alpha * u])
    p = np.linalg.inv(z.T @ z + np.diag([l2] * 4 + [l2_words] * 3))
    b = np.eye(7) - p / np.diag(p)[None, :]
    got = text_ease.side_information_weights(sp.csr_matrix(x), l2, u, None,
                                             alpha * np.sqrt(l2 / l2_words))
    np.testing.assert_allclose(got[:4], b[:4, :4], atol=1e-10)
    np.testing.assert_allclose(x @ got[:4] + alpha * np.sqrt(l2 / l2_words) * u @ got[4:],
                               z @ b[:, :4], atol=1e-10)


def test_without_text_it_is_ease():
    frame, x = _world()
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS)
    model = text_ease.TextEASE(reviews, l2=2.0).fit(x)
    np.testing.assert_allclose(model.weights, ease_weights(x, 2.0), atol=1e-12)
    np.testing.assert_allclose(model.score(x), EASE(l2=2.0).fit(x).score(x), atol=1e-6)


@pytest.mark.parametrize("word", ["guitar", "drum"])
def test_user_words_break_the_tie_towards_the_matching_item(word):
    frame, x = _world(u4_text=f"{word} cable")
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS)
    plain = text_ease.TextEASE(reviews, l2=1.0).fit(x).score(x)[4]
    assert plain[0] == pytest.approx(plain[1])          # interactions alone: a tie
    scores = text_ease.TextEASE(reviews, l2=1.0, word_weight=1.0, min_df=1).fit(x).score(x)[4]
    other = "drum" if word == "guitar" else "guitar"
    position = {name: column for column, name in enumerate(ITEMS)}
    assert scores[position[word]] > scores[position[other]] + 1e-3


def test_blend_prefers_the_item_whose_reviews_match_the_users_words():
    frame, x = _world(u4_text="guitar cable")
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS)
    scores = text_ease.TextEASE(reviews, l2=1.0, blend_weight=1.0, min_df=1).fit(x).score(x)[4]
    assert scores[0] > scores[1]


@pytest.mark.parametrize("options", [dict(word_weight=1.0, similarity_weight=1.0),
                                     dict(blend_weight=1.0, similarity_weight=1.0),
                                     dict(blend_weight=1.0, blend_activity=3.0, word_weight=0.5),
                                     dict(text="lm", word_weight=1.0, similarity_weight=1.0,
                                          blend_weight=0.5)])
def test_held_out_review_text_does_not_change_scores(options):
    # u4's held-out review of the guitar is in the frame, but not in the matrix the model is
    # fitted on and scores from: rewriting its text (and its encoder vector) changes nothing.
    frame, x = _world()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(frame) + 1, 4))
    outputs = []
    for held_out_text, held_out_vector in (("guitar guitar love", vectors[-1]),
                                           ("drum sticks drum", -5 * vectors[-1])):
        full = pd.concat([frame, _frame([("u4", "guitar", held_out_text)])], ignore_index=True)
        review_vectors = np.vstack([vectors[:-1], held_out_vector])
        reviews = text_ease.ReviewText.from_frame(full, USERS, ITEMS, vectors=review_vectors)
        model = text_ease.TextEASE(reviews, l2=1.0, min_df=1, **options).fit(x)
        outputs.append(model.score(x))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    # ... while the same change to a review inside the matrix does change them.
    changed = frame.copy()
    changed.loc[8, schema.TEXT] = "drum cable"
    reviews = text_ease.ReviewText.from_frame(changed, USERS, ITEMS)
    assert text_ease.TextEASE(reviews, l2=1.0, min_df=1, word_weight=1.0).fit(x).score(x)[4, 0] \
        != pytest.approx(outputs[0][4, 0])


def test_review_vectors_are_unit_rows_when_normalised():
    frame, x = _world()
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS)
    model = text_ease.TextEASE(reviews, l2=1.0, min_df=1, similarity_weight=1.0).fit(x)
    vectors = model.review_vectors(np.arange(len(frame)))
    np.testing.assert_allclose(np.sqrt(vectors.multiply(vectors).sum(axis=1)), 1.0)
    raw = text_ease.TextEASE(reviews, l2=1.0, min_df=1, similarity_weight=1.0,
                             normalize_reviews=False).fit(x)
    lengths = np.sqrt(raw.review_vectors(np.arange(len(frame))).multiply(
        raw.review_vectors(np.arange(len(frame)))).sum(axis=1))
    assert not np.allclose(lengths, 1.0)


def test_activity_blend_weighs_text_less_for_users_with_more_history():
    # gamma c / (c + n): with c = 1, u4 (1 interaction) gets gamma / 2, the others (2) gamma / 3.
    frame, x = _world(u4_text="guitar cable")
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS)
    ease = text_ease.TextEASE(reviews, l2=1.0, min_df=1).fit(x).score(x).astype(float)
    text = text_ease.TextOnly(reviews, text="tfidf", min_df=1).fit(x)
    text_scores = text_ease._dense(text.user_vectors(x) @ text.item_vectors.T)
    adaptive = text_ease.TextEASE(reviews, l2=1.0, min_df=1, blend_weight=2.0,
                                  blend_activity=1.0).fit(x).score(x)
    weight = 2.0 * 1.0 / (1.0 + np.array([[2], [2], [2], [2], [1]]))
    expected = (text_ease.standardize_rows(ease)
                + weight * text_ease.standardize_rows(text_scores))
    np.testing.assert_allclose(adaptive, expected, atol=1e-5)


def test_text_only_ranks_by_text_and_falls_back_to_popularity():
    frame, x = _world(u4_text="guitar cable")
    vectors = np.array([[1.0, 0.0] if "guitar" in t else [0.0, 1.0] for t in frame[schema.TEXT]])
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS, vectors=vectors)
    scores = text_ease.TextOnly(reviews, text="lm").fit(x).score(x)
    assert scores[4, 0] > scores[4, 1]                 # u4 writes like the guitar players
    empty = text_ease.TextOnly(reviews).fit(x).score(sp.csr_matrix(x.shape))
    assert empty[0, 2] > empty[0, 0]                   # no text: the cable (4 users) first


def test_bad_input_is_named():
    frame, x = _world()
    reviews = text_ease.ReviewText.from_frame(frame, USERS, ITEMS)
    with pytest.raises(ValueError, match="encoder vectors"):
        text_ease.TextEASE(reviews, text="lm")
    with pytest.raises(ValueError, match="blend_activity"):
        text_ease.TextEASE(reviews, blend_weight=1.0, blend_activity=0.0)
    with pytest.raises(ValueError, match="text must be one of"):
        text_ease.TextEASE(reviews, text="bert")
    with pytest.raises(ValueError, match="keyed by"):
        text_ease.TextEASE(reviews, blend_weight=1.0).fit(sp.csr_matrix((2, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        text_ease.TextEASE(reviews).score(x)
    with pytest.raises(ValueError, match="one per row"):
        text_ease.ReviewText.from_frame(frame, USERS, ITEMS, vectors=np.ones((2, 3)))
    unknown = _frame([("nobody", "guitar", "hello")])
    assert text_ease.ReviewText.from_frame(unknown, USERS, ITEMS).n_dropped == 1
