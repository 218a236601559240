"""The joint model that trains the encoder: its frozen start is the sentence encoder, and the
gradients of the text and retrieval terms reach the transformer's trainable layers only.

Uses the offline MiniLM (converted once per module); six reviews of at most 16 tokens.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from textrec import models
from textrec.data import schema
from textrec.models import encoder_joint

TEXTS = ["great strings, bright tone", "broke after a day", "a solid stand",
         "the pedal hums", "lovely warm sound", "cheap and noisy cable"]
MAX_LENGTH = 16


@pytest.fixture(scope="module")
def encoder(resolved):
    from textrec import text

    return text.load_encoder(resolved)


def test_the_untrained_top_equals_the_sentence_encoder(resolved, encoder):
    from textrec import text

    tokenizer, model = encoder
    states, mask = encoder_joint.review_states(model, tokenizer, TEXTS, 1, MAX_LENGTH)
    longest = max(len(t) for t in tokenizer(TEXTS)["input_ids"])  # padded to the longest text
    assert states.shape == (6, longest, 384) and states.dtype == np.float16
    top = encoder_joint.ReviewEncoder(model, n_trainable=1)
    ours = encoder_joint.encode_reviews(top, states, mask)
    embedder = text.TextEmbedder(resolved, max_length=MAX_LENGTH, use_cache=False)
    # float16 states: agreement to about 3 decimals of the cosine
    np.testing.assert_allclose(ours, embedder.embed(TEXTS), atol=5e-3)
    assert len(top.trainable_variables) == 16  # one BERT layer: attention + FFN + 2 LayerNorms


def _data():
    frame = pd.DataFrame({schema.USER: ["u0", "u1", "u2", "u0", "u1", "u2"],
                          schema.ITEM: [f"i{i}" for i in range(6)],
                          schema.RATING: [5.0, 1.0, 4.0, 2.0, 5.0, 3.0],
                          schema.TEXT: TEXTS})
    return frame


def test_text_and_retrieval_gradients_reach_the_trainable_layers_only(encoder):
    tokenizer, model = encoder
    frame = _data()
    states, mask = encoder_joint.review_states(model, tokenizer, TEXTS, 1, MAX_LENGTH)
    start = encoder_joint.encode_reviews(encoder_joint.ReviewEncoder(model, 1), states, mask)
    reviews = models.ReviewVectors(frame, start)
    users = encoder_joint.user_vector_sums(frame[schema.USER], start, ["u0", "u1", "u2"])

    class Text:  # unit means of each id's review vectors
        def __init__(self, keys, ids):
            self.ids = np.array(ids, object)
            rows = [start[np.asarray(keys) == key].sum(0) for key in ids]
            self.vectors = np.stack(rows) / np.linalg.norm(rows, axis=1, keepdims=True)

    user_text = Text(frame[schema.USER], ["u0", "u1", "u2"])
    item_text = Text(frame[schema.ITEM], [f"i{i}" for i in range(6)])
    assert np.allclose(users[1][0] / np.linalg.norm(users[1][0]), user_text.vectors[0])
    settings = models.JointSettings(embedding_dim=4, hidden_units=(4,), text_projection_units=4,
                                    sentiment_hidden_units=(3,), rating_hidden_units=(3,))
    recipe = models.encoder_joint_recipe(
        user_text, item_text, reviews, states, mask, model, settings=settings,
        encoder_settings=models.EncoderSettings(n_trainable=1, max_length=MAX_LENGTH))
    joint = recipe.build()
    batch = next(iter(recipe.train_dataset(batch_size=6, seed=0)))
    bottom = model.bert.encoder.layer[0].trainable_variables
    for term, weights in [("text", (1.0, 0.0, 0.0)), ("retrieval", (0.0, 1.0, 0.0))]:
        joint.text_weight, joint.retrieval_weight, joint.rating_weight = weights
        with tf.GradientTape() as tape:
            loss = joint.compute_loss(batch, training=False)
        top = joint.review_encoder.trainable_variables
        gradients = tape.gradient(loss, top + bottom)
        top_norm = sum(float(tf.norm(g)) for g in gradients[:len(top)] if g is not None)
        assert top_norm > 0, f"L_{term} does not reach the encoder"
        assert all(g is None for g in gradients[len(top):]), "frozen layers got gradients"
    with pytest.raises(RuntimeError, match="fresh copy"):
        recipe.build()


def test_one_training_step_moves_the_encoder_and_the_towers(resolved):
    from textrec import text

    tokenizer, model = text.load_encoder(resolved)  # a copy of its own: this test trains it
    frame = _data()
    states, mask = encoder_joint.review_states(model, tokenizer, TEXTS, 1, MAX_LENGTH)
    start = encoder_joint.encode_reviews(encoder_joint.ReviewEncoder(model, 1), states, mask)
    vectors = {f"u{i}": start[i] for i in range(3)}
    items = {f"i{i}": start[i] for i in range(6)}

    class Text:
        def __init__(self, table):
            self.ids = np.array(list(table), object)
            self.vectors = np.stack(list(table.values()))

    recipe = models.encoder_joint_recipe(
        Text(vectors), Text(items), models.ReviewVectors(frame, start), states, mask, model,
        settings=models.JointSettings(embedding_dim=4, hidden_units=(4,)),
        encoder_settings=models.EncoderSettings(n_trainable=1, max_length=MAX_LENGTH,
                                                learning_rate=1e-3, epochs=1))
    history = recipe.fit(batch_size=6, seed=0)
    joint = history.model
    after = encoder_joint.encode_reviews(joint.review_encoder, states, mask)
    assert np.abs(after - start).max() > 1e-4
    assert np.isfinite(history.history["loss"]).all()
    assert set(history.history) >= {"text_loss", "retrieval_loss", "rating_loss"}
