"""Tests of the synthetic review world: determinism, shape, noise, Amazon JSON and text signal."""

import gzip
import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import normalize

from textrec.data import schema
from textrec.data import synthetic
from textrec.data import synthetic_text

# Sizes of the signal test: more users than the quick profile, so that about 400 of them have
# at most three earlier reviews and the accuracies are stable (generation takes under a second).
SIGNAL_SIZES = {"n_users": 1000, "n_items": 200, "n_reviews": 8000}


@pytest.fixture(scope="module")
def world():
    return synthetic.generate_world(profile="quick", seed=0)


def deduplicated(reviews):
    """Reviews without the injected copies: one row per (user, item) and per (user, text)."""
    reviews = reviews.sort_values([schema.TIMESTAMP, schema.ORDER])
    reviews = reviews.drop_duplicates([schema.USER, schema.ITEM])
    copied = reviews.duplicated([schema.USER, schema.TEXT]) & (reviews[schema.TEXT] != "")
    return reviews[~copied]


def test_same_seed_same_world_and_other_seed_differs():
    sizes = {"n_users": 120, "n_items": 40, "n_reviews": 1000}
    first = synthetic.generate_world(**sizes, seed=3)
    again = synthetic.generate_world(**sizes, seed=3)
    other = synthetic.generate_world(**sizes, seed=4)
    pd.testing.assert_frame_equal(first.reviews, again.reviews)
    pd.testing.assert_frame_equal(first.items, again.items)
    pd.testing.assert_frame_equal(first.users, again.users)
    pd.testing.assert_frame_equal(first.item_facts, again.item_facts)
    assert first.injected == again.injected
    assert not set(first.reviews[schema.USER]) & set(other.reviews[schema.USER])
    shared_texts = set(first.reviews[schema.TEXT]) & set(other.reviews[schema.TEXT])
    assert len(shared_texts) < 0.05 * len(first.reviews)


def test_sizes_follow_the_profile_and_targets(world):
    # The quick profile: 400 users, 160 items, 4,000 reviews (a target, within 10%).
    assert len(world.users) == world.reviews[schema.USER].nunique() == 400
    assert len(world.items) == world.reviews[schema.ITEM].nunique() == 160
    assert 3_600 <= len(world.reviews) <= 4_400
    small = synthetic.generate_world(n_users=200, n_items=60, n_reviews=1500, seed=1)
    assert (small.reviews[schema.USER].nunique(), len(small.items)) == (200, 60)
    assert 1_350 <= len(small.reviews) <= 1_650


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="too small"):
        synthetic.generate_world(n_users=100, n_items=40, n_reviews=200)
    with pytest.raises(ValueError, match="at least"):
        synthetic.generate_world(n_users=100, n_items=5, n_reviews=1000)


def test_columns_types_and_order(world):
    reviews = world.reviews
    assert tuple(reviews.columns) == schema.REVIEW_COLUMNS
    assert tuple(world.items.columns) == schema.ITEM_COLUMNS
    assert list(reviews[schema.ORDER]) == list(range(len(reviews)))
    assert reviews[schema.RATING].dtype == float
    assert set(reviews[schema.RATING]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert (reviews[schema.TIMESTAMP] % 86_400 == 0).all()  # midnight UTC, like Amazon's
    days = pd.to_datetime(reviews[schema.TIMESTAMP], unit="s")
    assert days.min() >= pd.Timestamp("2010-01-01") and days.max() <= pd.Timestamp("2014-12-31")
    in_order = (np.diff(reviews[schema.TIMESTAMP].to_numpy()) >= 0).mean()
    assert 0.9 < in_order < 1.0  # sorted by time mostly, not perfectly
    assert (world.items[schema.DESCRIPTION].str.len() > 50).all()
    assert world.items[schema.TITLE].is_unique


def test_ids_are_unique_and_amazon_like(world):
    assert world.users[schema.USER].is_unique and world.items[schema.ITEM].is_unique
    assert world.users[schema.USER].str.fullmatch(r"A[0-9A-Z]{13}").all()
    assert world.items[schema.ITEM].str.fullmatch(r"B00[0-9A-Z]{7}").all()


def test_every_user_and_item_has_three_reviews_even_without_copies(world):
    for reviews in (world.reviews, deduplicated(world.reviews)):
        assert reviews.groupby(schema.USER).size().min() >= 3
        assert reviews.groupby(schema.ITEM).size().min() >= 3
    counts = world.reviews.groupby(schema.USER).size()
    assert (counts <= 5).mean() > 0.3 and counts.max() >= 30  # a long tail of activity
    n_reviews = world.users.set_index(schema.USER)["n_reviews"]
    assert (n_reviews == counts.reindex(n_reviews.index)).all()


def test_users_frame_describes_tastes(world):
    users = world.users
    assert list(users.columns) == [schema.USER, "favourite_category", "taste", "aspects",
                                   "n_reviews"]
    names = {c.name for c in synthetic_text.CATEGORIES}
    assert set(users["favourite_category"]) <= names
    totals = users["taste"].map(lambda taste: sum(taste.values()))
    assert np.allclose(totals, 1.0, atol=0.01)
    top = users["taste"].map(lambda taste: max(taste, key=taste.get))
    assert (top == users["favourite_category"]).all()
    assert users["aspects"].map(len).between(2, 3).all()


def test_ratings_are_skewed_positive_like_amazon(world):
    shares = world.reviews[schema.RATING].value_counts(normalize=True)
    assert 0.5 <= shares[5.0] <= 0.8
    assert 0.02 <= shares[1.0] + shares[2.0] <= 0.1


def test_reviews_mention_their_item_and_vary(world):
    reviews = world.reviews[world.reviews[schema.TEXT] != ""]
    nouns = world.item_facts.set_index(schema.ITEM)["noun"]
    short = dict(zip(world.item_facts[schema.ITEM], world.item_facts["noun"].map(
        {noun: short for c in synthetic_text.CATEGORIES for noun, short in c.nouns})))
    mentions = [short[item].lower() in text.lower() or nouns[item].lower() in text.lower()
                for item, text in zip(reviews[schema.ITEM], reviews[schema.TEXT])]
    assert np.mean(mentions) > 0.9
    openers = reviews[schema.TEXT].str.split(".").str[0].str.replace(r"\b[A-Z]\w+", "X",
                                                                     regex=True)
    assert openers.nunique() > 30  # dozens of sentence patterns, not one template


def test_injected_noise_is_counted_and_present(world):
    reviews, injected = world.reviews, world.injected
    assert set(injected) == set(synthetic.NOISE_RATES) and min(injected.values()) > 0
    ordered = reviews.sort_values([schema.TIMESTAMP, schema.ORDER])
    repeated = ordered.duplicated([schema.USER, schema.ITEM])
    assert repeated.sum() == injected["duplicates"]
    first = ordered[~repeated].set_index([schema.USER, schema.ITEM])[schema.TIMESTAMP]
    later = ordered[repeated].set_index([schema.USER, schema.ITEM])[schema.TIMESTAMP]
    assert (later > first.reindex(later.index)).all()
    copies = deduplicated(reviews)
    assert len(ordered[~repeated]) - len(copies) == injected["multi_item"]
    assert (reviews[schema.TEXT] == "").sum() == injected["empty"]
    assert (reviews[schema.TEXT].str.split().str.len() > 600).sum() == injected["long"]
    assert reviews[schema.TEXT].str.contains("http").sum() == injected["urls"]
    html = reviews[schema.TEXT].str.contains(r"<br />|&amp;|<b>", regex=True).sum()
    assert 0.8 * injected["html"] <= html <= injected["html"]
    emoji = reviews[schema.TEXT].map(lambda text: any(ord(ch) > 0x2000 for ch in text)).sum()
    assert emoji == injected["emoji"]


def test_copied_reviews_share_user_text_and_day(world):
    reviews = world.reviews[world.reviews[schema.TEXT] != ""]
    reviews = reviews.sort_values([schema.TIMESTAMP, schema.ORDER])
    reviews = reviews.drop_duplicates([schema.USER, schema.ITEM])
    groups = reviews[reviews.duplicated([schema.USER, schema.TEXT], keep=False)]
    categories = dict(zip(world.items[schema.ITEM], world.items[schema.CATEGORY]))
    for _, group in groups.groupby([schema.USER, schema.TEXT]):
        assert group[schema.TIMESTAMP].nunique() == 1 and group[schema.ITEM].is_unique
        assert group[schema.ITEM].map(categories).nunique() == 1  # sibling items


def test_same_day_ties(world):
    reviews = deduplicated(world.reviews)
    last_two = reviews.groupby(schema.USER)[schema.TIMESTAMP].agg(lambda t: t.iloc[-1] ==
                                                                   t.iloc[-2])
    assert 0.25 <= last_two.mean() <= 0.6  # the real Musical Instruments file: 44%
    span = reviews.groupby(schema.USER)[schema.TIMESTAMP].agg(lambda t: t.max() - t.min())
    assert (span > 0).mean() > 0.9  # each user's reviews are spread in time


@pytest.mark.parametrize(("fmt", "name"), [("2014", "reviews.json.gz"),
                                           ("2018", "reviews.json")])
def test_write_amazon_json_round_trip(world, tmp_path, fmt, name):
    path = world.write_amazon_json(tmp_path / name, fmt=fmt)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    assert len(records) == len(world.reviews)
    always = {"reviewerID", "asin", "reviewerName", "reviewText", "overall", "summary",
              "unixReviewTime", "reviewTime"}
    for record, row in zip(records, world.reviews.itertuples(index=False)):
        assert always <= set(record)
        assert record["reviewerID"] == getattr(row, schema.USER)
        assert record["reviewText"] == getattr(row, schema.TEXT)
        assert isinstance(record["overall"], float) and isinstance(record["unixReviewTime"], int)
        assert re.fullmatch(r"\d\d \d{1,2}, 20\d\d", record["reviewTime"])
    if fmt == "2014":
        assert all(r["helpful"][0] <= r["helpful"][1] for r in records)
        assert not any("vote" in r or "verified" in r for r in records)
    else:
        assert all(isinstance(r["verified"], bool) for r in records)
        votes = [r["vote"] for r in records if "vote" in r]
        assert 0 < len(votes) < len(records) and all(isinstance(v, str) for v in votes)
        styles = [r["style"] for r in records if "style" in r]
        assert 0 < len(styles) < len(records) and all(isinstance(s, dict) for s in styles)


def next_category_accuracy(world, max_earlier=3, decay=0.3):
    """Accuracy of guessing the held-out item's category, for users with few earlier reviews.

    Each user's last review (by time, then file order) is held out. Three guesses:
    ``popular``, the most reviewed category; ``user_history``, the user's most frequent
    earlier category (ties: the most recent); ``text``, the category whose item-description
    centroid is closest (TF-IDF cosine) to the user's earlier reviews, weighted by recency
    (the last one 1, the one before ``decay``, then ``decay ** 2``).
    """
    categories = dict(zip(world.items[schema.ITEM], world.items[schema.CATEGORY]))
    reviews = deduplicated(world.reviews).assign(
        category=lambda frame: frame[schema.ITEM].map(categories))
    held_out = reviews.groupby(schema.USER).tail(1).set_index(schema.USER)["category"]
    earlier = reviews.drop(reviews.groupby(schema.USER).tail(1).index)
    earlier = earlier.assign(back=earlier.groupby(schema.USER).cumcount(ascending=False))
    users = pd.Index(sorted(earlier[schema.USER].unique()))
    truth = held_out.loc[users].to_numpy()

    popular = earlier["category"].value_counts().idxmax()

    def most_frequent_then_latest(history):
        counts = history["category"].value_counts()
        return history["category"][history["category"].isin(counts.index[counts == counts.max()])
                                   ].iloc[-1]

    user_history = earlier.groupby(schema.USER)[["category"]].apply(most_frequent_then_latest)

    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english")
    vectorizer.fit(list(earlier[schema.TEXT]) + list(world.items[schema.DESCRIPTION]))
    item_vectors = vectorizer.transform(world.items[schema.DESCRIPTION])
    names = np.array(sorted(set(categories.values())))
    item_category = world.items[schema.CATEGORY].to_numpy()
    centroids = normalize(np.vstack([np.asarray(item_vectors[item_category == name].mean(axis=0))
                                     for name in names]))
    weights = scipy.sparse.csr_matrix(
        (decay ** earlier["back"].to_numpy(), (users.get_indexer(earlier[schema.USER]),
                                               np.arange(len(earlier)))),
        shape=(len(users), len(earlier)))
    user_vectors = weights @ vectorizer.transform(earlier[schema.TEXT])
    text_guess = names[np.asarray(user_vectors @ centroids.T).argmax(axis=1)]

    few = (earlier.groupby(schema.USER).size().loc[users] <= max_earlier).to_numpy()
    guesses = {"popular": np.full(len(users), popular),
               "user_history": user_history.loc[users].to_numpy(), "text": text_guess}
    accuracy = {name: float((guess[few] == truth[few]).mean()) for name, guess in guesses.items()}
    return accuracy, int(few.sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_text_predicts_the_next_category_better_than_ids(seed):
    # Users say what they want next ("I record vocals at home, so a decent condenser mic is my
    # next buy"); for users with at most three earlier reviews, that beats their history.
    world = synthetic.generate_world(**SIGNAL_SIZES, seed=seed)
    accuracy, n_users = next_category_accuracy(world)
    assert n_users > 300
    best_id_guess = max(accuracy["popular"], accuracy["user_history"])
    assert accuracy["text"] >= best_id_guess + 0.10, accuracy


def test_text_sentiment_agrees_with_ratings(world):
    reviews = world.reviews[(world.reviews[schema.TEXT] != "")
                            & (world.reviews[schema.RATING] != 3.0)]
    positive = (reviews[schema.RATING] >= 4).to_numpy()
    train = np.arange(len(reviews)) % 2 == 0
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    features = vectorizer.fit_transform(reviews[schema.TEXT])
    model = LogisticRegression(max_iter=1000, class_weight="balanced")
    model.fit(features[train], positive[train])
    predicted = model.predict(features[~train])
    assert balanced_accuracy_score(positive[~train], predicted) > 0.8
