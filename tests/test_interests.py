"""Interest vectors, semantic signals and the text-only recommender (textrec.interests).

The arithmetic tests use hand-made 3-D vectors; the rest embed a small synthetic world once
(module-scoped fixtures with their own TEXTREC_HOME, so the embedding cache is shared).
"""

import numpy as np
import pandas as pd
import pytest

from tests.helpers import reviews
from textrec import interests
from textrec.data import schema, splits
from textrec.data.cleaning import add_sentiment, clean_reviews
from textrec.data.synthetic import generate_world
from textrec.evaluation.metrics import random_scores
from textrec.models.popularity import most_popular_scores
from textrec.evaluation import evaluate_scores, heldout
from textrec.evaluation.metrics import ranking_metrics


def _frame(rows):
    """(user, item, day) rows as a train frame (text and rating do not matter here)."""
    return reviews([(user, item, 5, f"text {k}", day) for k, (user, item, day) in enumerate(rows)])


# ---------------------------------------------------------------- weighting, by hand

X, Y, Z = np.eye(3, dtype=np.float32)
TRAIN = _frame([("A", "i1", 0), ("A", "i2", 10), ("B", "i1", 3), ("C", "i3", 5)])
VECTORS = np.stack([X, Y, np.zeros(3), Z])  # B's only review has no text: a zero row


def test_mean_interest_vector():
    users = interests.interest_vectors(TRAIN, VECTORS, method="mean")
    # A: (x + y) / |x + y| = (0.7071, 0.7071, 0); B: no usable text -> zero, flagged; C: z.
    assert list(users.ids) == ["A", "B", "C"]
    np.testing.assert_allclose(users.vectors[0], [2**-0.5, 2**-0.5, 0], atol=1e-6)
    np.testing.assert_array_equal(users.vectors[1], 0)
    np.testing.assert_allclose(users.vectors[2], Z)
    assert users.empty.tolist() == [False, True, False] and users.n_empty == 1


def test_recency_interest_vector_with_known_half_life():
    weights = interests.review_weights(TRAIN, "recency", half_life_days=10)
    # A's reviews are 10 and 0 days before A's last one: 0.5 ** (10/10) = 0.5 and 1.
    # B and C each have one review, at their own latest day: weight 1.
    np.testing.assert_allclose(weights, [0.5, 1.0, 1.0, 1.0])
    users = interests.interest_vectors(TRAIN, VECTORS, method="recency", half_life_days=10)
    # A: (0.5 x + 1 y) / sqrt(0.25 + 1) = (0.4472, 0.8944, 0)
    np.testing.assert_allclose(users.vectors[0], [0.5 / 1.25**0.5, 1 / 1.25**0.5, 0], atol=1e-6)


def test_sentiment_weighting_ignores_or_penalises_negatives():
    probability = np.array([0.9, 0.1, 0.5, 0.2])
    # confidence c = 2p - 1 = [0.8, -0.8, 0, -0.6]
    np.testing.assert_allclose(interests.sentiment_weights(probability), [0.8, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(interests.sentiment_weights(probability, negative_weight=-0.5),
                               [0.8, -0.4, 0, -0.3], atol=1e-12)

    ignored = interests.interest_vectors(TRAIN, VECTORS, "sentiment",
                                         positive_probability=probability)
    # A: 0.8 x + 0 y -> x: the disliked review (y) does not pull A toward it.
    np.testing.assert_allclose(ignored.vectors[0], X, atol=1e-6)
    # C wrote only a negative review: no liked text, so no vector (flagged, not "the opposite").
    assert ignored.empty.tolist() == [False, True, True]

    pushed = interests.interest_vectors(TRAIN, VECTORS, "sentiment",
                                        positive_probability=probability, negative_weight=-0.5)
    # A: 0.8 x - 0.4 y, divided by sqrt(0.64 + 0.16) = 0.8944 -> (0.8944, -0.4472, 0)
    np.testing.assert_allclose(pushed.vectors[0], [0.8 / 0.8**0.5, -0.4 / 0.8**0.5, 0], atol=1e-6)
    assert pushed.vectors[0] @ Y < 0  # scores for items like the disliked one go down


def test_weighting_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        interests.review_weights(TRAIN, "median")
    with pytest.raises(ValueError, match="half_life_days"):
        interests.review_weights(TRAIN, "recency", half_life_days=0)
    with pytest.raises(ValueError, match="positive_probability"):
        interests.review_weights(TRAIN, "sentiment")
    with pytest.raises(ValueError, match="negative_weight"):
        interests.sentiment_weights([0.3], negative_weight=0.5)


def test_item_text_vectors_mix_description_and_train_reviews():
    items = pd.DataFrame({schema.ITEM: ["i1", "i2", "i9"], schema.DESCRIPTION: ["d", "", ""]})
    description_vectors = np.stack([Z, np.zeros(3), np.zeros(3)])
    vectors = interests.item_text_vectors(items, TRAIN, VECTORS, description_vectors)
    # i1: description z and train reviews (x, and B's empty one, which counts nothing): z + x.
    # i2: reviews only -> y. i9: no text at all -> flagged zero. i3: a train-only item -> z.
    assert list(vectors.ids) == ["i1", "i2", "i9", "i3"]
    np.testing.assert_allclose(vectors.vectors[0], [2**-0.5, 0, 2**-0.5], atol=1e-6)
    np.testing.assert_allclose(vectors.vectors[1], Y)
    assert vectors.empty.tolist() == [False, False, True, False]
    weighted = interests.item_text_vectors(items, TRAIN, VECTORS, description_vectors,
                                           description_weight=3.0, review_weight=1.0)
    # i1: (1 x + 3 z) / sqrt(10)
    np.testing.assert_allclose(weighted.vectors[0], [10**-0.5, 0, 3 * 10**-0.5], atol=1e-6)


def test_most_popular_and_heldout_targets():
    train = _frame([("A", "i1", 0), ("A", "i2", 1), ("B", "i1", 0), ("B", "i3", 1)])
    validation = _frame([("A", "i3", 2), ("B", "i2", 2)])
    test = _frame([("A", "i4", 3), ("B", "i4", 3)])
    split = splits.Split(train, validation, test, "hand-made")
    item_ids = ["i1", "i2", "i3", "i4"]
    scores = most_popular_scores(train, item_ids, n_users=2)
    # counts i1 2, i2 1, i3 1, i4 0; ties broken by position (i2 before i3)
    assert list(np.argsort(-scores[0])) == [0, 1, 2, 3]
    targets, exclude = heldout(split, "test", ["A", "B"], item_ids)
    assert [row.indices.tolist() for row in targets] == [[3], [3]]
    assert [row.indices.tolist() for row in exclude] == [[0, 1, 2], [0, 1, 2]]  # train + valid.
    _, exclude = heldout(split, "validation", ["A", "B"], item_ids)
    assert [row.indices.tolist() for row in exclude] == [[0, 1], [0, 2]]  # train only


def test_candidate_phrases_come_from_the_text():
    text = "Great condenser microphone for recording vocals at home. Shipping was fast!"
    phrases = interests.candidate_phrases(text, max_words=3)
    assert "condenser microphone" in phrases and "recording vocals" in phrases
    assert all(p in text.lower() for p in phrases)
    # no phrase runs across the full stop, none starts or ends with a stop/filler word
    assert ("home shipping" not in phrases
            and not any(p.startswith(("great ", "for ")) for p in phrases))


def test_rank_phrases_diversity_by_hand():
    phrases = ["a", "a-ish", "c"]
    vectors = np.array([[1, 0], [0.99, 0.141], [0.6, 0.8]], np.float32)
    target = np.array([1, 0], np.float32)
    # similarity to target: a 1.0, a-ish 0.99, c 0.6 -> by similarity alone: a, a-ish
    assert [p for p, _ in interests.rank_phrases(target, phrases, vectors, 2)] == ["a", "a-ish"]
    # with diversity 0.7, after a: a-ish 0.3*0.99 - 0.7*0.99 = -0.40; c 0.3*0.6 - 0.7*0.6 = -0.24
    assert [p for p, _ in interests.rank_phrases(target, phrases, vectors, 2, 0.7)] == ["a", "c"]


# ---------------------------------------------------------------- with the encoder

@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from textrec.text import TextEmbedder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTREC_HOME", str(tmp_path_factory.mktemp("interests_home")))
        yield TextEmbedder()


@pytest.fixture(scope="module")
def world():
    """A small synthetic world (80 users, 160 items, ~640 reviews), cleaned and split
    leave-last-out."""
    generated = generate_world(n_users=80, n_items=160, n_reviews=480, seed=7)
    clean, _ = clean_reviews(generated.reviews, k=3)
    return generated, clean, splits.leave_last_out(clean)


@pytest.fixture(scope="module")
def fitted(embedder, world):
    generated, _, split = world
    return interests.text_recommender_from_split(split, generated.items, embedder, "mean")


def test_key_phrases_on_topic_above_off_topic(embedder):
    text = "I record vocals at home and this condenser microphone sounds clear. The box was blue."
    [ranked] = interests.key_phrases([text], embedder, top_n=5)
    phrases = [p for p, _ in ranked]
    assert phrases and all(p in text.lower() for p in phrases)
    assert any("microphone" in p or "vocals" in p for p in phrases[:2]), phrases
    on_topic, off_topic = "condenser microphone", "blue"
    assert phrases.index(on_topic) < (phrases.index(off_topic) if off_topic in phrases else 99)
    vectors = embedder.embed([text, on_topic, "lawn mower"])
    ranked = interests.rank_phrases(vectors[0], [on_topic, "lawn mower"], vectors[1:], 2)
    assert ranked[0][0] == on_topic and ranked[0][1] > ranked[1][1]


def test_interest_vectors_use_train_data_only(embedder, world):
    generated, _, split = world
    original = interests.text_recommender_from_split(split, generated.items, embedder, "sentiment")
    held_out_changed = splits.Split(
        split.train,
        split.validation.assign(**{schema.TEXT: "I only want a banjo. Worst purchase ever.",
                                   schema.RATING: 1.0}),
        split.test.assign(**{schema.TEXT: "Banjo strings, banjo picks, banjo everything."}),
        split.protocol)
    changed = interests.text_recommender_from_split(held_out_changed, generated.items, embedder,
                                                    "sentiment")
    np.testing.assert_array_equal(original.users.vectors, changed.users.vectors)
    np.testing.assert_array_equal(original.items.vectors, changed.items.vectors)
    # The check can fail: changing one TRAIN review does move its user's vector.
    train = split.train.copy()
    train.loc[train.index[0], schema.TEXT] = "I only want a banjo."
    moved = interests.text_recommender_from_split(
        splits.Split(train, split.validation, split.test, split.protocol), generated.items,
        embedder, "sentiment")
    row = original.users.position()[train[schema.USER].iloc[0]]
    assert not np.allclose(original.users.vectors[row], moved.users.vectors[row])


@pytest.mark.parametrize("query, category", [
    ("a condenser microphone for recording vocals", "Microphones"),  # 12 microphones here
    ("an electronic drum kit for practicing drums", "Drums & Percussion"),  # only 8 drum items
])
def test_query_ranks_the_category_first(embedder, world, fitted, query, category):
    generated = world[0]
    k = min(10, int((generated.items[schema.CATEGORY] == category).sum()))
    top = interests.recommend_for_text(query, embedder, fitted.items, k=k,
                                       item_frame=generated.items)
    precision = (top[schema.CATEGORY] == category).mean()
    assert precision >= 0.7, top[[schema.TITLE, schema.CATEGORY]]
    with pytest.raises(ValueError, match="query"):
        interests.recommend_for_text("  ", embedder, fitted.items)


def test_text_only_beats_random_and_popularity_on_validation(world, fitted):
    _, _, split = world
    metrics = evaluate_scores(fitted.scores(), split, fitted.users.ids, fitted.items.ids,
                              "validation", ks=(10,))
    n_users, n_items = len(fitted.users), len(fitted.items)
    targets, exclude = heldout(split, "validation", fitted.users.ids, fitted.items.ids)
    chance = ranking_metrics(random_scores(n_users, n_items), targets, exclude)["hr@10"]
    popular = ranking_metrics(most_popular_scores(split.train, fitted.items.ids, n_users),
                              targets, exclude)["hr@10"]
    assert metrics["n_users_evaluated"] == split.validation[schema.USER].nunique()
    # chance is about 10 / 157 = 0.064 here; the text knows what users want next
    assert metrics["hr@10"] > max(2 * chance, 0.15, popular), (metrics["hr@10"], chance, popular)
    assert 0 < metrics["ndcg@10"] <= metrics["hr@10"]
    assert fitted.items.n_empty == 0  # every synthetic item has a description


def test_frozen_sentiment_fallback_learns_from_train_only(embedder, world):
    _, _, split = world
    scorer = interests.fit_frozen_sentiment(split.train, embedder)
    assert scorer.kind == interests.sentiment.FROZEN
    texts, labels = interests.sentiment_training_data(split.train)
    assert scorer.model.n_train == len(labels) and set(labels) == {0, 1}
    held_out = add_sentiment(pd.concat([split.validation, split.test]))
    held_out = held_out[(held_out[schema.SENTIMENT] >= 0) & (held_out[schema.TEXT] != "")]
    probability = scorer.predict_proba(held_out[schema.TEXT].tolist())
    assert probability.shape == (len(held_out),) and ((0 <= probability) & (probability <= 1)).all()
    assert ((probability >= 0.5) == held_out[schema.SENTIMENT].to_numpy()).mean() >= 0.8
    assert scorer.predict_proba(["", "  "]).tolist() == [0.5, 0.5]  # blank: no opinion


def test_user_profiles_are_readable(embedder, world, fitted):
    generated, _, split = world
    users = split.train[schema.USER].value_counts().index[:3]
    profiles = interests.user_profiles(users, split.train, fitted.users, embedder,
                                       items=generated.items)
    assert list(profiles.index) == list(users)
    assert set(profiles.columns) >= {"reviews", "key_phrases", "top_aspect", "favourite_categories"}
    for user, row in profiles.iterrows():
        text = " ".join(split.train.loc[split.train[schema.USER] == user, schema.TEXT]).lower()
        assert row["key_phrases"] and all(p in text for p in row["key_phrases"])
        assert row["favourite_categories"] and row["top_aspect"] in interests.DEFAULT_ASPECTS
