"""The course's models trained to rank: implicit matrix factorisation, the towers' item bias,
text dropout and exact catalogue softmax, the recipes' penalty on the embeddings' norm, and
early stopping on validation NDCG@10 rather than on the training loss.

Every expected value is worked out by hand (NumPy) from the model's own weights.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from textrec import evaluation, models
from textrec.data import schema, splits
from textrec.evaluation import evaluate_scores

USERS = [f"u{i}" for i in range(5)]
ITEMS = [f"i{i}" for i in range(6)]


def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _batch(users=("u0", "u1", "u2", "u3"), items=("i0", "i1", "i1", "i4")):
    return {schema.USER: tf.constant(list(users)), schema.ITEM: tf.constant(list(items)),
            schema.RATING: tf.constant([5.0, 4.0, 2.0, 5.0][:len(users)])}


def _train_frame():
    rows = [("u0", "i0"), ("u0", "i1"), ("u1", "i1"), ("u1", "i2"), ("u2", "i1"), ("u2", "i3"),
            ("u3", "i4"), ("u3", "i0"), ("u4", "i5"), ("u4", "i1")]
    frame = pd.DataFrame(rows, columns=[schema.USER, schema.ITEM])
    frame[schema.RATING] = 5.0
    frame[schema.TEXT] = "text"
    return frame


# --- matrix factorisation on implicit feedback -------------------------------------------------

def test_implicit_mf_loss_is_the_catalogue_softmax_plus_its_penalty():
    tf.keras.utils.set_random_seed(0)
    model = models.ImplicitMatrixFactorization(USERS, ITEMS, embedding_dim=3, l2=0.2)
    batch = _batch()
    model.compute_loss(batch)                                     # build the layers
    rng = np.random.default_rng(1)
    for table in (model.query_model.factors, model.candidate_model.factors,
                  model.candidate_model.bias):
        table.set_weights([rng.normal(size=w.shape).astype("float32")
                           for w in table.get_weights()])
    P = model.query_model.factors.get_weights()[0][1:]            # row 0: unknown ids
    Q = model.candidate_model.factors.get_weights()[0][1:]
    b = model.candidate_model.bias.get_weights()[0][1:, 0]
    users, items = [0, 1, 2, 3], [0, 1, 1, 4]
    logits = P[users] @ Q.T + b                                   # [4 pairs, 6 items]
    cross_entropy = -_log_softmax(logits)[np.arange(4), items]
    penalty = (P[users] ** 2).sum(1) + (Q[items] ** 2).sum(1) + b[items] ** 2
    expected = np.mean(cross_entropy + 0.2 * penalty)
    assert float(model.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)
    # Scores are p_u . q_i + b_i, through the towers as through the index.
    scores = models.score_matrix(model.query_model, model.candidate_model, USERS[:4], ITEMS)
    np.testing.assert_allclose(scores, P[:4] @ Q.T + b, rtol=1e-5, atol=1e-6)


def test_implicit_mf_samples_its_softmax_when_the_catalogue_is_large():
    features = {schema.USER: np.array(USERS * 8), schema.ITEM: np.array(ITEMS[:5] * 8)}
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(8)
    history = models.fit_model(
        lambda: models.ImplicitMatrixFactorization(USERS, ITEMS, 4, l2=0.01,
                                                   item_counts={i: 2 for i in ITEMS},
                                                   full_softmax_max_items=3, num_sampled=3),
        dataset, epochs=8, learning_rate=0.05, seed=0)
    assert not history.model.full_softmax
    losses = history.history["retrieval_loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


# --- towers: item bias, text dropout, the catalogue softmax -------------------------------------

def _text(ids, seed, dim=4):
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=dim).astype("float32") for key in ids}


def test_the_bias_coordinate_adds_a_per_item_bias_to_the_dot_product():
    query = models.QueryTower(USERS, 3, _text(USERS, 1), hidden_units=(),
                              text_projection_units=2, bias="one")
    candidate = models.CandidateTower(ITEMS, 3, _text(ITEMS, 2), hidden_units=(),
                                      text_projection_units=2, bias="learned")
    q, c = query(tf.constant(["u0", "u1"])).numpy(), candidate(tf.constant(["i2", "i3"])).numpy()
    assert q.shape == c.shape == (2, 3 + 2 + 1)                   # [id, projected text, bias]
    np.testing.assert_array_equal(q[:, -1], 1.0)
    candidate.id_bias.set_weights([np.arange(7, dtype="float32")[:, None]])   # row r + 1: item r
    c = candidate(tf.constant(["i2", "i3"])).numpy()
    np.testing.assert_array_equal(c[:, -1], [3.0, 4.0])
    # No hidden layers: the output is the id embedding beside the linearly projected text.
    text = np.stack([_text(USERS, 1)[u] for u in ("u0", "u1")])
    kernel, bias = query.text_projection.get_weights()
    np.testing.assert_allclose(q[:, 3:5], text @ kernel + bias, rtol=1e-5, atol=1e-6)
    assert query.output_layer is None and query.text_projection.activation.__name__ == "linear"


def test_text_dropout_acts_in_training_only():
    tower = models.QueryTower(USERS, 3, _text(USERS, 1, dim=64), hidden_units=(),
                              text_projection_units=8, text_dropout=0.5)
    ids = tf.constant(USERS)
    served = tower(ids).numpy()
    np.testing.assert_array_equal(served, tower(ids).numpy())     # deterministic at serving
    assert not np.allclose(served, tower(ids, training=True).numpy())
    with pytest.raises(ValueError, match="text_dropout"):
        models.QueryTower(USERS, 3, _text(USERS, 1), text_dropout=1.0)


def test_the_catalogue_softmax_runs_over_every_item():
    tf.keras.utils.set_random_seed(0)
    query = models.QueryTower(USERS, 3, hidden_units=(), use_text=False)
    candidate = models.CandidateTower(ITEMS, 3, hidden_units=(), use_text=False)
    model = models.TwoTowerModel(query, candidate, temperature=0.5, catalogue=ITEMS)
    batch = _batch()
    Q = query(batch).numpy()
    C = candidate(tf.constant(ITEMS)).numpy()
    expected = -_log_softmax(Q @ C.T / 0.5)[np.arange(4), [0, 1, 1, 4]].mean()
    assert float(model.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)


# --- the recipes regularise: a loss term that grows with the embeddings' norm ------------------

def _recipes():
    train = _train_frame()
    user_text, item_text = _text(USERS, 1), _text(ITEMS, 2)
    vectors = np.random.default_rng(3).normal(size=(len(train), 4)).astype("float32")
    ids = dict(user_ids=USERS, item_ids=ITEMS)
    return train, {
        "matrix factorisation": models.matrix_factorization_recipe(train, **ids),
        "two-tower": models.two_tower_recipe(user_text, item_text, train, **ids),
        "joint model": models.joint_model_recipe(user_text, item_text, train, vectors, **ids),
    }


def _id_tables(model):
    query, candidate = model.query_model, model.candidate_model
    return [getattr(query, "factors", None) or query.id_embedding,
            getattr(candidate, "factors", None) or candidate.id_embedding]


@pytest.mark.parametrize("name", ["matrix factorisation", "two-tower", "joint model"])
def test_each_recipe_penalises_the_norm_of_its_embeddings(name):
    train, recipes = _recipes()
    recipe = recipes[name]
    model = recipe.build()
    batch = next(iter(recipe.train_dataset(batch_size=len(train), seed=0)))
    model.compute_loss(batch)                                     # build the layers
    # l2 per average item: 10 pairs over 6 items -> the weight on |q|^2 + |c|^2 is l2 * 0.6.
    assert recipe.settings.l2 > 0
    assert model.l2 == pytest.approx(recipe.settings.l2 * 6 / 10)

    def penalty_term():
        model.penalty_tracker.reset_state()
        model.retrieval_loss_tracker.reset_state()
        total = float(model.compute_loss(batch))
        others = float(model.retrieval_loss_tracker.result())
        if name == "joint model":
            terms = model.loss_terms(batch)
            others = sum(weight * float(tf.reduce_mean(terms[term])) for term, weight in
                         (("text", model.text_weight), ("retrieval", model.retrieval_weight),
                          ("rating", model.rating_weight)))
        return total - others, float(model.penalty_tracker.result())

    term, norm = penalty_term()
    assert term == pytest.approx(model.l2 * norm, rel=1e-4) and term > 0
    for table in _id_tables(model):                              # three times larger embeddings
        table.set_weights([3.0 * w for w in table.get_weights()])
    bigger_term, bigger_norm = penalty_term()
    assert bigger_norm > norm and bigger_term > term
    assert bigger_term == pytest.approx(model.l2 * bigger_norm, rel=1e-4)


# --- early stopping reads validation NDCG@10, not the training loss ----------------------------

def _split():
    train = _train_frame()
    validation = pd.DataFrame({schema.USER: USERS, schema.ITEM: ["i2", "i3", "i4", "i5", "i0"],
                               schema.RATING: 5.0, schema.TEXT: "text"})
    return splits.Split(train=train, validation=validation, test=validation.iloc[:0],
                        protocol="leave-last-out")


class _Planned:
    """Scores whose validation NDCG@1 follows a plan, epoch by epoch: the item a user is
    waiting for is ranked first (NDCG@1 = 1) for the first ``hits[epoch]`` users, below every
    other item (0) for the rest."""

    def __init__(self, split, hits):
        self.split, self.hits, self.calls = split, hits, 0

    def __call__(self, model):
        targets = self.split.validation[schema.ITEM].map(ITEMS.index).to_numpy()
        scores = np.zeros((len(USERS), len(ITEMS)), np.float32)
        hit = np.arange(len(USERS)) < self.hits[self.calls]
        scores[np.arange(len(USERS)), targets] = np.where(hit, 1.0, -1.0)
        self.calls += 1
        return scores


def test_early_stopping_follows_validation_ndcg_while_the_training_loss_keeps_falling():
    split = _split()
    plan = [1, 4, 3, 2, 2, 1, 0, 0]            # NDCG@1 peaks at epoch 2, then falls
    measure = evaluation.validation_ndcg(split, USERS, ITEMS, _Planned(split, plan), k=1)
    stopping = models.BestEpoch(measure, patience=3, name="val_ndcg@1")
    weights = []
    remember = tf.keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(history_model[0].get_weights()))
    history_model = []
    recipe = models.matrix_factorization_recipe(split.train, user_ids=USERS, item_ids=ITEMS,
                                                l2=0.0, learning_rate=0.05)

    def build():
        history_model.append(recipe.build())
        return history_model[0]

    history = models.fit_model(build, recipe.train_dataset(batch_size=10, seed=0), epochs=8,
                               learning_rate=0.05, seed=0, callbacks=[stopping, remember])
    losses = history.history["retrieval_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))      # the training loss keeps falling
    ndcg = history.history["val_ndcg@1"]
    # 4 of 5 users hit at rank 1 at epoch 2: NDCG 0.8, the best; three worse epochs stop it.
    assert ndcg[:5] == pytest.approx([0.2, 0.8, 0.6, 0.4, 0.4])
    assert stopping.best_epoch == 2 and stopping.stopped_epoch == 5 and len(ndcg) == 5
    assert stopping.best == pytest.approx(0.8) and stopping.curve == pytest.approx(ndcg)
    assert stopping.summary() == "val_ndcg@1 best at epoch 2 of 5 (0.8000)"
    # The model keeps epoch 2's weights, not the last epoch's (whose training loss is lowest).
    for kept, remembered in zip(history.model.get_weights(), weights[1]):
        np.testing.assert_array_equal(kept, remembered)
    assert not all(np.array_equal(a, b) for a, b in zip(weights[1], weights[-1]))


def test_validation_ndcg_is_the_one_evaluation_path():
    split = _split()
    recipe = models.matrix_factorization_recipe(split.train, user_ids=USERS, item_ids=ITEMS)
    model = recipe.build()
    measure = evaluation.validation_ndcg(split, USERS, ITEMS, models.tower_scores(USERS, ITEMS))
    scores = models.score_matrix(model.query_model, model.candidate_model, USERS, ITEMS)
    expected = evaluate_scores(scores, split, USERS, ITEMS, "validation")["ndcg@10"]
    assert measure(model) == pytest.approx(expected)


def test_a_recording_best_epoch_keeps_the_last_weights():
    split = _split()
    recipe = models.matrix_factorization_recipe(split.train, user_ids=USERS, item_ids=ITEMS,
                                                l2=0.0, learning_rate=0.05)
    plan = [4, 1, 0]                            # best at epoch 1, never stops early
    recording = models.BestEpoch(
        evaluation.validation_ndcg(split, USERS, ITEMS, _Planned(split, plan), k=1),
        patience=None, restore_best_weights=False)
    weights = []
    remember = tf.keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(recording.model.get_weights()))
    history = recipe.fit(epochs=3, seed=0, callbacks=[recording, remember])
    assert recording.best_epoch == 1 and recording.stopped_epoch == 3
    assert recording.curve == pytest.approx([0.8, 0.2, 0.0])
    for kept, remembered in zip(history.model.get_weights(), weights[-1]):   # the last epoch's
        np.testing.assert_array_equal(kept, remembered)
    assert not all(np.array_equal(a, b) for a, b in zip(weights[0], weights[-1]))


def test_a_recipe_stopped_on_validation_reports_the_chosen_epoch():
    split = _split()
    recipe = models.matrix_factorization_recipe(split.train, user_ids=USERS, item_ids=ITEMS,
                                                max_epochs=6, patience=2)
    measure = evaluation.validation_ndcg(split, USERS, ITEMS, models.tower_scores(USERS, ITEMS))
    history = recipe.fit(stop_on=measure, seed=0)
    curve = history.history["val_ndcg@10"]
    assert history.best_epoch == history.stopping.best_epoch == int(np.argmax(curve)) + 1
    assert len(curve) <= 6 and len(curve) - history.best_epoch <= 2
    with pytest.raises(TypeError, match="measure"):
        recipe.fit(stop_on=split)
    # Without a split the recipe trains the epochs it is told.
    assert recipe.fit(epochs=2, seed=0).best_epoch == 2


def test_the_lesson_10_comparison_caps_each_model_at_its_own_most_epochs():
    from types import SimpleNamespace

    from textrec.pipeline import comparison

    recipe = models.matrix_factorization_recipe(_train_frame(), user_ids=USERS, item_ids=ITEMS,
                                                max_epochs=7, epochs=3)
    assert comparison.max_epochs(recipe) == 7           # lessons 04-05: the early stopping's cap
    sequence = models.SequenceSettings(max_epochs=40)
    assert comparison.max_epochs(SimpleNamespace(settings=sequence)) == sequence.epochs()
