"""Lesson 10's sequence model: sequences in time order, the causal mask, the text adaptor, the
loss over the trained items, its recipe, and epochs chosen on validation."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from textrec import models
from textrec.data import schema
from textrec.data import sequences as sequence_data
from textrec.models import sequence

ITEMS = ["a", "b", "c", "d", "e"]


def _frame(rows):
    """rows: (user, item, timestamp, order)."""
    frame = pd.DataFrame(rows, columns=[schema.USER, schema.ITEM, schema.TIMESTAMP, schema.ORDER])
    frame[schema.RATING] = 5.0
    frame[schema.TEXT] = "t"
    return frame


def test_user_sequences_follow_time_then_file_order_and_count_what_they_drop():
    frame = _frame([("u2", "c", 10, 5), ("u1", "b", 20, 1), ("u1", "a", 10, 2),
                    ("u1", "d", 20, 0), ("u2", "zz", 5, 3), ("u3", "a", 1, 4)])
    # u1: a (t=10), then the two at t=20 by file order: d (order 0) before b (order 1).
    # u2: its unknown item zz is dropped and counted; u3 is not asked for; u0 has no row.
    found = sequence_data.user_sequences(frame, ["u2", "u1", "u0"], ITEMS)
    assert [s.tolist() for s in found] == [[3], [1, 4, 2], []]
    assert found.dropped == 2


def test_left_padding_and_next_item_pairs_by_hand():
    sequences = [np.array([1, 2, 3, 4]), np.array([5]), np.array([2, 3])]
    assert sequence_data.left_padded(sequences, 3).tolist() == [[2, 3, 4], [0, 0, 5], [0, 2, 3]]
    history, following = sequence_data.next_item_arrays(sequences, 2)
    # The user with one item has no "next"; the first keeps its last 3 items: 2 -> 3 -> 4.
    assert history.tolist() == [[2, 3], [0, 2]] and following.tolist() == [[3, 4], [0, 3]]
    with pytest.raises(ValueError, match="two items"):
        sequence_data.next_item_arrays([np.array([1])], 2)


def test_the_causal_mask_reads_the_past_and_never_padding():
    mask = models.causal_attention_mask(tf.constant([[0, 7, 9]])).numpy()[0]
    # Position 0 is padding: no item reads it, it reads only itself. Position 2 reads 1 and 2.
    assert mask.tolist() == [[True, False, False], [False, True, False], [False, True, True]]


def _model(representation="text+ids", trained=None, seed=0):
    tf.keras.utils.set_random_seed(seed)
    text = np.random.default_rng(1).normal(size=(len(ITEMS), 6)).astype(np.float32)
    return models.SequenceModel(ITEMS, text, representation, trained, max_length=4,
                                embedding_dim=8, n_layers=2, n_heads=2, dropout=0.0,
                                n_experts=2, l2=0.01)


@pytest.mark.parametrize("representation", sequence.REPRESENTATIONS)
def test_a_later_item_never_changes_an_earlier_position(representation):
    model = _model(representation)
    table = model.items.table()
    before = model.encode(tf.constant([[0, 1, 2, 3]]), table).numpy()
    after = model.encode(tf.constant([[0, 1, 2, 5]]), table).numpy()
    assert np.allclose(before[:, :3], after[:, :3], atol=1e-6)       # padding included
    assert not np.allclose(before[:, 3], after[:, 3])


def test_the_adaptor_is_a_gated_mixture_of_whitenings():
    adaptor = models.TextAdaptor(3, n_experts=2)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    adaptor(x)
    adaptor.biases.assign(np.random.default_rng(1).normal(size=(2, 5)))
    gate, biases, kernels = (adaptor.gate.kernel.numpy(), adaptor.biases.numpy(),
                             adaptor.kernels.numpy())
    g = np.exp(x @ gate)
    g /= g.sum(1, keepdims=True)
    expected = sum(g[:, [k]] * ((x - biases[k]) @ kernels[k]) for k in range(2))
    assert np.allclose(adaptor(x).numpy(), expected, atol=1e-5)
    one = models.TextAdaptor(3, n_experts=1)
    one(x)
    assert np.allclose(one(x).numpy(), (x - one.biases.numpy()[0]) @ one.kernels.numpy()[0],
                       atol=1e-5)


def test_the_loss_is_the_softmax_over_trained_items_per_user_plus_l2():
    trained = np.array([True, True, True, False, True])
    model = _model("text+ids", trained)
    batch = {sequence_data.HISTORY: tf.constant([[0, 1, 2, 3], [0, 0, 0, 2]]),
             sequence_data.NEXT: tf.constant([[0, 2, 3, 5], [0, 0, 0, 1]])}
    loss = float(model.compute_loss(batch))
    logits = model.logits(batch[sequence_data.HISTORY]).numpy()
    logits[..., ~trained] = -np.inf                             # item d (4) is not trained on
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    first = -(log_p[0, 1, 1] + log_p[0, 2, 2] + log_p[0, 3, 4]) / 3
    second = -log_p[1, 3, 0]
    rows = model.items.table().numpy()[1:][trained]
    expected = (first + second) / 2 + 0.01 * np.mean((rows ** 2).sum(1))
    assert loss == pytest.approx(expected, rel=1e-5)


def test_ids_start_random_text_plus_ids_start_as_the_text():
    text_only, both = _model("text"), _model("text+ids")
    text_only.items.table(), both.items.table()                       # build the layers
    both.items.adaptor.set_weights(text_only.items.adaptor.get_weights())
    assert np.allclose(both.items.table().numpy(), text_only.items.table().numpy())
    ids = _model("ids").items.table().numpy()
    assert np.all(ids[0] == 0) and ids[1:].std() > 0
    with pytest.raises(ValueError, match="needs text_vectors"):
        models.SequenceModel(ITEMS, None, "text")
    with pytest.raises(ValueError, match="representation"):
        models.SequenceModel(ITEMS, None, "words")


def test_the_recipe_trains_on_the_fit_items_and_scores_every_item():
    frame = _frame([("u1", "a", 1, 0), ("u1", "b", 2, 1), ("u1", "c", 3, 2),
                    ("u2", "b", 1, 3), ("u2", "c", 2, 4)])
    text = (np.array(ITEMS, object), np.eye(5, 6, dtype=np.float32))
    settings = models.SequenceSettings(max_length=3, embedding_dim=4, n_layers=1, n_heads=1,
                                       n_experts=1, batch_size=2)
    recipe = models.sequence_model_recipe(frame, ITEMS, text, settings=settings)
    model = recipe.fit(epochs=2).model
    assert model.trained_items.numpy().tolist() == [True, True, True, False, False]
    scores = model.score_users(frame, ["u1", "u2", "nobody"])
    assert scores.shape == (3, 5) and np.isfinite(scores).all()
    with pytest.raises(ValueError, match="needs item_text"):
        models.sequence_model_recipe(frame, ITEMS, None, settings=settings)


class _Fixed(tf.keras.Model):
    """A 'model' with one weight, set to the epoch number."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(0.0)


def test_best_epoch_stops_after_patience_and_restores_the_best_weights():
    # The measure follows a script, epoch by epoch: best at epoch 2, then two worse epochs.
    script = {1: 0.1, 2: 0.5, 3: 0.2, 4: 0.5, 5: 0.9}
    model = _Fixed()
    stopper = models.BestEpoch(lambda m: script[int(m.w.numpy())], patience=2)
    stopper.set_model(model)
    stopper.on_train_begin()
    logs = {}
    for epoch in range(5):
        model.w.assign(epoch + 1.0)
        stopper.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    stopper.on_train_end()
    # Epoch 4 only ties the best: not better, so training stops there.
    assert stopper.curve == [0.1, 0.5, 0.2, 0.5] and stopper.best_epoch == 2
    assert float(model.w.numpy()) == 2.0 and logs["val_ndcg@10"] == 0.5
