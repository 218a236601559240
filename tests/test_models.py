"""Tests of textrec.models: towers, two-tower retrieval, CF, the joint loss, the index, training.

Tiny vocabularies and embeddings keep them fast; the one training run on the quick synthetic
world uses cheap TF-IDF + SVD text vectors instead of the BERT encoder.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from textrec import models
from textrec.data import schema, tfdata
from textrec.evaluation import heldout, ranking_metrics, topk_items
from textrec.evaluation.metrics import random_scores
from textrec.models.popularity import most_popular_scores

USERS = [f"u{i}" for i in range(6)]
ITEMS = [f"i{i}" for i in range(8)]
TEXT_DIM = 4


def _vectors(ids, seed):
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=TEXT_DIM).astype("float32") for key in ids}


def _towers(embedding_dim=8, text_projection_units=None):
    query = models.QueryTower(USERS, embedding_dim, _vectors(USERS, 1), hidden_units=(8,),
                              text_projection_units=text_projection_units)
    candidate = models.CandidateTower(ITEMS, embedding_dim, _vectors(ITEMS, 2), hidden_units=(8,))
    return query, candidate


def _batch():
    """Six train reviews: distinct items, one neutral (3-star) review."""
    ratings = np.array([5.0, 4.0, 3.0, 1.0, 2.0, 5.0], np.float32)
    return {
        schema.USER: tf.constant(USERS),
        schema.ITEM: tf.constant(ITEMS[:6]),
        schema.RATING: tf.constant(ratings),
        schema.SENTIMENT: tf.constant([1, 1, -1, 0, 0, 1]),  # add_sentiment's codes
        models.REVIEW_VECTOR: tf.constant(
            np.random.default_rng(3).normal(size=(6, TEXT_DIM)).astype("float32")),
    }


def _joint(text_weight=0.3, retrieval_weight=1.5, rating_weight=2.0):
    tf.keras.utils.set_random_seed(0)
    query, candidate = _towers(text_projection_units=6)
    return models.JointModel(query, candidate, text_weight=text_weight,
                             retrieval_weight=retrieval_weight, rating_weight=rating_weight,
                             temperature=0.5, sentiment_hidden_units=(4,),
                             rating_hidden_units=(4,))


# --- the joint loss ---------------------------------------------------------------------------

def test_joint_loss_is_the_weighted_sum_of_its_terms():
    model = _joint()
    batch = _batch()
    total = float(model.compute_loss(batch, training=True))

    # Each term by hand from the model's parts.
    q = model.query_model(batch).numpy()
    c = model.candidate_model(batch).numpy()
    logits = q @ c.T / 0.5  # in-batch softmax: row i's target is column i
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1,
                                  keepdims=True)) - logits.max(1, keepdims=True)
    retrieval = -np.mean(np.diag(log_softmax))
    ratings = batch[schema.RATING].numpy()
    predicted = model.rating_head(np.concatenate([q, c], axis=1)).numpy()[:, 0]
    rating = np.mean((ratings - predicted) ** 2)
    x = model.sentiment_head(model.query_model.text_projection(batch[models.REVIEW_VECTOR]))
    x = x.numpy()[:, 0]
    labels = (ratings >= 4).astype(float)  # 1, 1, -, 0, 0, 1
    weights = np.array([1, 1, 0, 1, 1, 1.0])  # the 3-star review is masked
    bce = np.maximum(x, 0) - x * labels + np.log1p(np.exp(-np.abs(x)))
    text = np.sum(weights * bce) / len(bce)  # neutral rows count in the denominator

    assert min(text, retrieval, rating) > 0
    assert total == pytest.approx(0.3 * text + 1.5 * retrieval + 2.0 * rating, rel=1e-5)
    # Each term is reported, unweighted, by its own tracker.
    assert float(model.text_loss_tracker.result()) == pytest.approx(text, rel=1e-5)
    assert float(model.retrieval_loss_tracker.result()) == pytest.approx(retrieval, rel=1e-5)
    assert float(model.rating_loss_tracker.result()) == pytest.approx(rating, rel=1e-5)


def _head_gradients(model, head):
    batch = _batch()
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=True)
    return tape.gradient(loss, head.trainable_variables)


def _all_zero(gradients):
    return all(g is None or not np.any(g.numpy()) for g in gradients)


def test_a_zero_weight_removes_that_terms_gradient():
    on = _joint(text_weight=1.0, rating_weight=1.0)
    assert not _all_zero(_head_gradients(on, on.sentiment_head))
    assert not _all_zero(_head_gradients(on, on.rating_head))
    no_text = _joint(text_weight=0.0)
    assert _all_zero(_head_gradients(no_text, no_text.sentiment_head))
    assert not _all_zero(_head_gradients(no_text, no_text.rating_head))
    no_rating = _joint(rating_weight=0.0)
    assert _all_zero(_head_gradients(no_rating, no_rating.rating_head))


def test_joint_model_trains_and_logs_each_term():
    batch = {key: value.numpy() for key, value in _batch().items()}
    dataset = tf.data.Dataset.from_tensor_slices(batch).repeat(4).batch(6)
    validation = tf.data.Dataset.from_tensor_slices(
        {key: batch[key] for key in (schema.USER, schema.ITEM, schema.RATING)}).batch(6)
    history = models.fit_model(lambda: _joint(), dataset, validation, epochs=2,
                               learning_rate=0.02)
    logs = history.history
    for name in ("text_loss", "retrieval_loss", "rating_loss", "epoch_seconds",
                 "val_retrieval_loss", "val_rating_loss"):
        assert name in logs and np.all(np.isfinite(logs[name])), name
    assert logs["rating_loss"][-1] < logs["rating_loss"][0]
    # Serving needs no review vector.
    predicted = history.model.predict_rating({schema.USER: tf.constant(["u0"]),
                                              schema.ITEM: tf.constant(["i7"])})
    assert predicted.shape == (1,) and np.isfinite(predicted.numpy()).all()


# --- two-tower retrieval ----------------------------------------------------------------------

def test_retrieval_options_match_the_hand_computed_loss():
    """Temperature, log-Q and accidental-hit removal on a batch where item i0 appears twice."""
    tf.keras.utils.set_random_seed(0)
    query, candidate = _towers()
    probabilities = {"i0": 0.5, "i1": 0.25, "i2": 0.25}
    model = models.TwoTowerModel(query, candidate, temperature=0.5, remove_accidental_hits=True,
                                 candidate_probabilities=probabilities)
    batch = {schema.USER: tf.constant(USERS[:4]),
             schema.ITEM: tf.constant(["i0", "i1", "i0", "i2"])}
    logits = query(batch).numpy() @ candidate(batch).numpy().T / 0.5
    logits -= np.log([0.5, 0.25, 0.5, 0.25])  # log-Q: popular items are sampled more often
    logits[0, 2] = logits[2, 0] = -np.inf  # i0 is not a negative for the users who chose i0
    losses = [np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(logits)]
    assert float(model.compute_loss(batch)) == pytest.approx(np.mean(losses), rel=1e-5)
    plain = models.TwoTowerModel(query, candidate)
    assert float(plain.compute_loss(batch)) != pytest.approx(np.mean(losses), rel=1e-3)


def test_top_k_metrics_only_when_evaluating():
    rng = np.random.default_rng(0)
    features = {schema.USER: rng.choice(USERS, 48), schema.ITEM: rng.choice(ITEMS, 48)}
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(16)
    history = models.fit_model(
        lambda: models.TwoTowerModel(
            models.QueryTower(USERS, 8, hidden_units=(), use_text=False),
            models.CandidateTower(ITEMS, 8, hidden_units=(), use_text=False),
            candidates=ITEMS, metrics_ks=(5,)),
        dataset, epochs=1, learning_rate=0.05)
    key = "factorized_top_k/top_5_categorical_accuracy"
    assert history.history[key] == [0.0]  # not computed on training batches
    assert history.model.evaluate(dataset, return_dict=True, verbose=0)[key] > 0


# --- towers, unknown ids and the index ---------------------------------------------------------

def test_unknown_users_and_items_get_recommendations():
    query, candidate = _towers()
    catalogue = ITEMS + ["brand-new-item"]
    index = models.build_index(query, catalogue, models.candidate_embeddings(candidate, catalogue),
                               k=3)
    scores, ids = models.recommend(index, ["u0", "never-seen-user"], k=3)
    assert ids.shape == (2, 3) and all(i in catalogue for i in ids.ravel())
    assert np.isfinite(scores).all()
    # A brand-new user served from a free-text query vector.
    vector = np.ones((1, TEXT_DIM), np.float32)
    _, from_text = models.recommend(
        index, {schema.USER: np.array(["nobody"]), models.QUERY_VECTOR: vector}, k=2)
    assert from_text.shape == (1, 2) and all(i in catalogue for i in from_text.ravel())
    # The query vector replaces the (zero) interest vector of the unknown user.
    plain = query(tf.constant(["nobody"])).numpy()
    assert not np.allclose(plain, query({schema.USER: tf.constant(["nobody"]),
                                         models.QUERY_VECTOR: tf.constant(vector)}).numpy())
    rating_model = models.MatrixFactorization(USERS, ITEMS, embedding_dim=4, global_mean=4.0)
    predicted = rating_model({schema.USER: tf.constant(["never-seen-user"]),
                              schema.ITEM: tf.constant(["brand-new-item"])})
    assert np.isfinite(predicted.numpy()).all()


def test_index_never_returns_a_seen_item():
    query, candidate = _towers()
    embeddings = models.candidate_embeddings(candidate, ITEMS)
    index = models.build_index(query, ITEMS, embeddings, k=3)
    seen = {"u0": set(ITEMS[:5]), "u1": set(ITEMS[1:8]), "u2": set()}
    scores, ids = models.recommend(index, ["u0", "u1", "u2"], k=3, exclude_seen=seen)
    assert set(ids[0]) == set(ITEMS[5:])  # exactly k unseen items were left
    assert list(ids[1]) == ["i0", "", ""] and np.isneginf(scores[1, 1:]).all()
    assert len(set(ids[2])) == 3
    for user, row in zip(["u0", "u1", "u2"], ids):
        assert not seen[user] & set(row)
    # The same items as the full score matrix ranked with the seen items masked.
    full = models.score_matrix(query, candidate, ["u0", "u2"], ITEMS)
    expected = topk_items(full, 3, exclude=[list(range(5)), []])
    assert [list(r) for r in ids[[0, 2]]] == [[ITEMS[j] for j in r] for r in expected]


# --- user-based CF -----------------------------------------------------------------------------

def _cf_world():
    """Four users with 2-d interest vectors and five items.

    Cosines: A=(1,0), B=(.8,.6), C=(.6,.8), D=(0,1) give sim(A,B)=.8, sim(A,C)=.6, sim(A,D)=0,
    sim(B,C)=.96, sim(B,D)=.6, sim(C,D)=.8. Liked (rating >= 4): A {0}, B {1, 2}, C {2}
    (C rated item 3 with 2 stars), D {4}.
    """
    rows = [("A", "i0", 5), ("B", "i1", 5), ("B", "i2", 4), ("C", "i2", 5), ("C", "i3", 2),
            ("D", "i4", 5)]
    train = pd.DataFrame(rows, columns=[schema.USER, schema.ITEM, schema.RATING])
    vectors = {"A": [1.0, 0.0], "B": [0.8, 0.6], "C": [0.6, 0.8], "D": [0.0, 1.0]}
    return train, vectors, ["A", "B", "C", "D"], ["i0", "i1", "i2", "i3", "i4"]


def test_text_neighbour_cf_matches_the_hand_computed_scores():
    train, vectors, users, items = _cf_world()
    scores = models.text_neighbour_scores(vectors, train, users, items, n_neighbours=2)
    # Two neighbours each: A {B .8, C .6}, B {C .96, A .8}, C {B .96, D .8}, D {C .8, B .6}.
    expected = np.array([
        [0.0, 0.8, 0.8 + 0.6, 0.0, 0.0],  # A: i2 (liked by B and C), then i1 (B)
        [0.8, 0.0, 0.96, 0.0, 0.0],  # B: its own i2 keeps its score: nothing is excluded here
        [0.0, 0.96, 0.96, 0.0, 0.8],
        [0.0, 0.6, 0.8 + 0.6, 0.0, 0.0],
    ])
    assert scores.shape == (4, 5)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    top = topk_items(scores, 2, exclude=[[0], [1, 2], [2, 3], [4]])
    assert top.tolist() == [[2, 1], [0, 3], [1, 4], [2, 1]]
    # From history alone A shares no item with anyone: no neighbours, no signal.
    history = models.history_neighbour_scores(train, users, items, n_neighbours=2)
    assert history.shape == (4, 5) and not history[0].any()
    np.testing.assert_allclose(history[1], [0, 0, 0.5, 0, 0], atol=1e-6)  # B~C: cos = 1/2


def test_neighbour_scores_exclude_nothing_and_have_the_right_shape():
    rng = np.random.default_rng(0)
    users, items = [f"u{i}" for i in range(30)], [f"i{i}" for i in range(12)]
    train = pd.DataFrame({schema.USER: rng.choice(users, 200), schema.ITEM: rng.choice(items, 200),
                          schema.RATING: rng.integers(1, 6, 200).astype(float)})
    vectors = rng.normal(size=(30, 5))
    scores = models.text_neighbour_scores(vectors, train, users, items, n_neighbours=29,
                                          min_similarity=-1.0)
    assert scores.shape == (30, 12) and np.isfinite(scores).all()
    # With every other user as a neighbour, every item liked by someone else is scored.
    liked = models.user_item_matrix(train, users, items, min_rating=4).toarray()
    liked_by_others = (liked.sum(0, keepdims=True) - liked) > 0
    assert np.all((scores != 0) == liked_by_others)


# --- training ----------------------------------------------------------------------------------

def test_matrix_factorization_learns_ratings():
    rng = np.random.default_rng(0)
    users, items = rng.choice(USERS, 300), rng.choice(ITEMS, 300)
    ratings = np.clip(3 + np.array([int(u[1]) % 3 - 1 for u in users]) + rng.normal(0, .3, 300),
                      1, 5).astype("float32")
    frame = pd.DataFrame({schema.USER: users, schema.ITEM: items, schema.RATING: ratings})
    dataset = tfdata.interactions_dataset(frame, batch_size=32, shuffle=True)
    history = models.fit_model(
        lambda: models.MatrixFactorization(USERS, ITEMS, 4, global_mean=float(ratings.mean())),
        dataset, epochs=3, learning_rate=0.05)
    assert history.history["rmse"][-1] < history.history["rmse"][0]
    matrix = history.model.rating_matrix(USERS, ITEMS)
    assert matrix.shape == (6, 8) and np.isfinite(matrix).all()


def _text_vectors(train, item_ids, descriptions, dim=48):
    """Cheap text vectors: TF-IDF + SVD of the train reviews and the item descriptions; a user's
    is the mean of their train reviews', an item's that of its description."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = list(train[schema.TEXT]) + list(descriptions)
    matrix = TfidfVectorizer(min_df=2, sublinear_tf=True, ngram_range=(1, 2)).fit_transform(texts)
    reduced = TruncatedSVD(dim, random_state=0).fit_transform(matrix)
    reduced /= np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-9)
    users = pd.DataFrame(reduced[:len(train)]).groupby(train[schema.USER].to_numpy()).mean()
    return (users.index.to_numpy(), users.to_numpy()), (np.asarray(item_ids), reduced[len(train):])


def test_text_two_tower_beats_baselines_on_the_synthetic_world():
    from textrec.data.prepare import prepare_data

    data = prepare_data("synthetic", profile="quick")
    train = data.split.train
    users = tfdata.vocabulary(train[schema.USER])
    items = tfdata.vocabulary(data.reviews[schema.ITEM])
    descriptions = data.items.set_index(schema.ITEM)[schema.DESCRIPTION].reindex(items).fillna("")
    user_vectors, item_vectors = _text_vectors(train, items, descriptions)
    targets, seen = heldout(data.split, "validation", users, items)  # the one evaluation path
    dataset = tfdata.interactions_dataset(train, batch_size=128, shuffle=True)
    probabilities = models.candidate_sampling_probabilities(train)

    def two_tower(use_text):
        def build():
            return models.TwoTowerModel(
                models.QueryTower(users, 16, user_vectors, hidden_units=(32,), use_text=use_text),
                models.CandidateTower(items, 16, item_vectors, hidden_units=(32,),
                                      use_text=use_text),
                remove_accidental_hits=True, candidate_probabilities=probabilities)
        return build

    results = {}
    for name, use_text in [("text", True), ("ids", False)]:
        history = models.fit_model(two_tower(use_text), dataset, epochs=10, learning_rate=0.01)
        model = history.model
        scores = models.score_matrix(model.query_model, model.candidate_model, users, items)
        results[name] = ranking_metrics(scores, targets, seen, ks=(10,))
        results[name]["epoch_seconds"] = float(np.median(history.history["epoch_seconds"]))
    results["popular"] = ranking_metrics(most_popular_scores(train, items, len(users)), targets,
                                         seen, ks=(10,))
    results["random"] = ranking_metrics(random_scores(len(users), len(items)), targets, seen,
                                        ks=(10,))
    print(json.dumps({name: {k: round(v, 4) for k, v in r.items() if "@" in k or "sec" in k}
                      for name, r in results.items()}))
    for metric in ("hr@10", "ndcg@10"):
        assert results["text"][metric] > results["random"][metric] + 0.1
        assert results["text"][metric] > results["popular"][metric] + 0.05
        assert results["ids"][metric] > results["random"][metric]
    assert results["text"]["ndcg@10"] > results["ids"]["ndcg@10"]


MIRRORED = textwrap.dedent("""
    import json
    import textrec
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from textrec import models
    from textrec.data import schema

    users, items = [f"u{i}" for i in range(8)], [f"i{i}" for i in range(10)]
    rng = np.random.default_rng(0)
    n = 96
    features = {schema.USER: rng.choice(users, n), schema.ITEM: rng.choice(items, n),
                schema.RATING: rng.integers(1, 6, n).astype("float32"),
                schema.SENTIMENT: rng.integers(-1, 2, n),
                models.REVIEW_VECTOR: rng.normal(size=(n, 4)).astype("float32")}
    dataset = tf.data.Dataset.from_tensor_slices(features).shuffle(n, seed=0).batch(16)
    text = {u: rng.normal(size=4) for u in users}
    def build():
        return models.JointModel(
            models.QueryTower(users, 8, text, hidden_units=(8,), text_projection_units=4),
            models.CandidateTower(items, 8, hidden_units=()), sentiment_hidden_units=(4,),
            rating_hidden_units=(4,), remove_accidental_hits=True)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    history = models.fit_model(build, dataset, epochs=3, strategy=strategy, learning_rate=0.05)
    print("RESULT", json.dumps({"replicas": strategy.num_replicas_in_sync,
                                "history": {k: [float(x) for x in v]
                                            for k, v in history.history.items()}}))
""")


def test_fit_model_trains_under_mirrored_strategy_on_two_cpus():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1")
    run = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                         timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    line = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    assert result["replicas"] == 2
    history = result["history"]
    for name in ("loss", "text_loss", "retrieval_loss", "rating_loss"):
        assert np.all(np.isfinite(history[name])), name
    assert history["rating_loss"][-1] < history["rating_loss"][0]
