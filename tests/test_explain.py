"""Explanations and their faithfulness (textrec.feedback.explain, .faithfulness)."""

import numpy as np
import pandas as pd
import pytest

from textrec import feedback
from textrec.data import schema
from textrec.models import EASE
from textrec.interests import TextVectors, weighted_mean_vectors


def test_cited_review_is_the_largest_weighted_contribution():
    # target (1, 0): contributions w * r . t = 1*0.6, 1*1.0, 2*0.8 -> the third (1.6) wins
    vectors = np.array([[0.6, 0.8], [1.0, 0.0], [0.8, 0.6]])
    assert feedback.cited_review(vectors, [1, 1, 2], [1, 0]) == 2
    assert feedback.cited_review(vectors, [1, 1, 1], [1, 0]) == 1
    # zero vectors and zero weights are never cited; nothing usable gives -1
    assert feedback.cited_review([[0.0, 0.0], [0.6, 0.8]], [1, 1], [1, 0]) == 1
    assert feedback.cited_review([[1.0, 0.0]], [0], [1, 0]) == -1
    with pytest.raises(ValueError, match="one weight each"):
        feedback.cited_review(vectors, [1, 1], [1, 0])


def test_removal_drops_recompute_the_unit_interest_vector():
    # reviews (1, 0) and (0, 1), target (1, 0): u = (1, 1)/sqrt2, cos = 0.7071.
    # without the first: u = (0, 1), cos 0 -> drop 0.7071; without the second: cos 1 -> -0.2929
    drops = feedback.removal_drops([[1.0, 0.0], [0.0, 1.0]], [1, 1], [1.0, 0.0])
    np.testing.assert_allclose(drops, [np.sqrt(0.5), np.sqrt(0.5) - 1], atol=1e-6)
    # a single review: removing it leaves nothing, which scores 0
    np.testing.assert_allclose(feedback.removal_drops([[1.0, 0.0]], [1], [1.0, 0.0]), [1.0])


def test_history_contributions_and_the_collaborative_explainer():
    weights = np.array([[0.0, 0.5, -0.2], [0.4, 0.0, 0.4], [-0.2, 0.5, 0.0]])
    # a user with items 0 and 2 scores item 1 at 0.5 + 0.5; each contributes W[j, 1]
    np.testing.assert_allclose(feedback.history_contributions([0, 2], weights, 1), [0.5, 0.5])
    explainer = feedback.CollaborativeExplainer(weights, ["a", "b", "c"])
    assert explainer.explain([0, 1], 2) == [("b", pytest.approx(0.4))]  # W[0, 2] < 0 is dropped
    with pytest.raises(ValueError, match="items x items"):
        feedback.CollaborativeExplainer(weights, ["a", "b"])


def test_shared_phrases_are_in_both_texts_and_ranked_by_count():
    user = ["The tuner clip holds well.", "A clip-on tuner for my bass."]
    item = ["Great tuner, the clip is strong.", "This clip-on tuner is bright."]
    phrases = feedback.shared_phrases(user, item, top_n=5)
    assert phrases[0] == "tuner" and "clip-on tuner" in phrases
    assert all(p in " ".join(user).lower() and p in " ".join(item).lower() for p in phrases)
    assert feedback.shared_phrases(["drum sticks"], ["guitar strings"]) == []


def _world():
    reviews = pd.DataFrame({
        schema.USER: ["u1", "u1", "u1", "u2", "u2"],
        schema.ITEM: ["a", "b", "c", "a", "c"],
        schema.TEXT: ["bright strings sound great", "sturdy stand", "warm tone pedal",
                      "strings stay bright", "my pedal tone"],
    })
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.8, 0.6, 0], [0, 0.6, 0.8]],
                       np.float32)
    index = feedback.ReviewIndex.build(reviews, vectors)
    users = weighted_mean_vectors(reviews[schema.USER], vectors, np.ones(5))
    items = TextVectors(np.array(["a", "b", "c", "d"], object),
                        np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], np.float32),
                        np.array([False, False, False, True]), "item")
    return index, users, items


def test_text_explanation_cites_the_user_review_and_another_users_review():
    index, users, items = _world()
    explanation = feedback.TextExplainer(index, users, items).explain("u1", "a")
    assert explanation.user_review == "bright strings sound great"
    assert explanation.item_review == "strings stay bright"  # u2's review of a, not u1's own
    assert "strings" in explanation.phrases and "bright" in explanation.phrases
    assert explanation.score == pytest.approx(1 / np.sqrt(3), abs=1e-6)
    sentence = explanation.sentence()
    assert sentence.startswith("a, because you wrote") and "'strings'" in sentence
    with pytest.raises(ValueError, match="not among the model's items"):
        feedback.TextExplainer(index, users, items).explain("u1", "zzz")
    # an unknown user has no evidence, and says so
    unknown = feedback.TextExplainer(index, users, items).explain("u9", "b")
    assert "no evidence" in unknown.sentence()


def test_text_faithfulness_counts_skips_and_beats_random_on_a_clear_case():
    index, users, items = _world()
    # u1 -> a: drops are (1/sqrt3 - 0, 1/sqrt3 - 1/sqrt2, same) = (0.577, -0.130, -0.130);
    # cited 0.577, random (mean) 0.106 -> ratio 5.46. u2 has 2 reviews too; "d" is unknown.
    result = feedback.text_faithfulness(index, items, [("u1", "a"), ("u9", "a")])
    assert result.skipped == 1 and len(result.cited) == 1
    assert result.ratio == pytest.approx((1 / np.sqrt(3)) / ((1 / np.sqrt(3) + 2 * (
        1 / np.sqrt(3) - np.sqrt(0.5))) / 3), rel=1e-5)
    summary = result.summary()
    assert summary["pairs"] == 1 and summary["cited beats random"] == 1.0


def test_collaborative_faithfulness_on_ease():
    rng = np.random.default_rng(0)
    x = (rng.random((60, 12)) < 0.3).astype(float)
    weights = EASE(10.0).fit(x).weights
    history = [np.flatnonzero(row) for row in x]
    scores = x @ weights
    scores[x > 0] = -np.inf
    pairs = [(u, int(np.argmax(scores[u]))) for u in range(60)]
    result = feedback.collaborative_faithfulness(weights, history, pairs)
    assert len(result.cited) + result.skipped == 60
    # the cited item is the largest contribution, so it never loses to the mean
    assert np.all(result.cited >= result.random - 1e-9) and result.ratio > 1
    low, high = result.interval()
    assert low <= result.ratio <= high
