"""The models written in lessons 04 and 05 give the same loss as the package's recipes.

The lesson cells tagged ``model`` (class definitions only) are executed here on tiny data, the
page's model gets the recipe model's weights, and the two losses are compared on one batch.
If either side changes, the lesson and the package no longer teach the same model, and this
fails.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec import models
from textrec.data import schema

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
USERS = [f"u{i}" for i in range(5)]
ITEMS = [f"i{i}" for i in range(7)]
DIM = 6


def model_cells(name: str) -> dict:
    """Run the notebook's ``model`` cells; returns the names they define."""
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells
               if c["cell_type"] == "code" and "model" in c["metadata"].get("tags", [])]
    assert sources, f"{name} has no cell tagged 'model'"
    namespace = {"tf": tf, "tfrs": tfrs, "np": np, "models": models, "schema": schema}
    for source in sources:
        exec(compile(source, f"{name}:model", "exec"), namespace)
    return namespace


class _Vectors:
    """Text vectors by id, the form interests.TextVectors has."""

    def __init__(self, ids, vectors):
        self.ids, self.vectors = ids, vectors


def _reviews():
    """Eight train reviews; item i1 twice (an accidental hit), one 3-star review."""
    return pd.DataFrame({
        schema.USER: ["u0", "u1", "u2", "u3", "u4", "u0", "u1", "u2"],
        schema.ITEM: ["i0", "i1", "i2", "i1", "i3", "i4", "i5", "i6"],
        schema.RATING: [5.0, 4.0, 3.0, 1.0, 2.0, 5.0, 4.0, 5.0],
        schema.TEXT: ["t"] * 8,
    })


def test_lesson_04_two_tower_equals_the_recipe():
    page = model_cells("04_two_tower_retrieval.ipynb")
    tf.keras.utils.set_random_seed(0)
    user_text, item_text = _Vectors(np.array(USERS, object), np.random.default_rng(1).normal(
        size=(5, DIM))), _Vectors(np.array(ITEMS, object), np.random.default_rng(2).normal(
            size=(7, DIM)))
    train = _reviews()
    settings = models.TwoTowerSettings(embedding_dim=4, text_projection_units=3, temperature=0.5)
    recipe = models.two_tower_recipe(user_text, item_text, train, settings=settings)
    package = recipe.build()
    batch = next(iter(recipe.train_dataset(batch_size=8)))
    ours = page["TwoTower"](
        page["Tower"](USERS, user_text, 4, 3, schema.USER, False, True, settings.text_dropout),
        page["Tower"](ITEMS, item_text, 4, 3, schema.ITEM, True, True, settings.text_dropout),
        temperature=0.5, remove_accidental_hits=True,
        probabilities=models.candidate_sampling_probabilities(train), l2=package.l2)
    ours.compute_loss(batch), package.compute_loss(batch)
    page["copy_tower"](ours.query_tower, package.query_model)
    page["copy_tower"](ours.candidate_tower, package.candidate_model)
    # A non-zero item bias, so that copying it is checked too.
    package.candidate_model.id_bias.set_weights(
        [np.linspace(-1, 1, len(ITEMS) + 1, dtype="float32")[:, None]])
    page["copy_tower"](ours.candidate_tower, package.candidate_model)
    expected = float(package.compute_loss(batch))
    assert expected > 0 and package.l2 > 0
    assert float(ours.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)


def test_lesson_05_models_equal_the_package():
    page = model_cells("05_collaborative_filtering_joint_loss.ipynb")
    tf.keras.utils.set_random_seed(0)
    train = _reviews()
    rng = np.random.default_rng(3)
    user_text = _Vectors(np.array(USERS, object), rng.normal(size=(5, DIM)))
    item_text = _Vectors(np.array(ITEMS, object), rng.normal(size=(7, DIM)))
    settings = models.JointSettings(embedding_dim=4, hidden_units=(5,), text_projection_units=3,
                                    sentiment_hidden_units=(4,), rating_hidden_units=(4,),
                                    w_U=0.5, w_A=1.5, w_R=2.0)
    recipe = models.joint_model_recipe(user_text, item_text, train, rng.normal(size=(8, DIM)),
                                       settings=settings)
    package = recipe.build()
    batch = next(iter(recipe.train_dataset(batch_size=8)))
    ours = page["JointModel"](package.query_model, package.candidate_model, 0.5, 1.5, 2.0,
                              float(train[schema.RATING].mean()),
                              models.candidate_sampling_probabilities(train), hidden_units=4,
                              l2=package.l2)
    ours.compute_loss(batch), package.compute_loss(batch)
    ours.sentiment_head.set_weights(package.sentiment_head.get_weights())
    ours.rating_head.set_weights(package.rating_head.get_weights())
    expected = float(package.compute_loss(batch))
    terms = package.loss_terms(batch)
    assert package.l2 > 0
    assert all(float(tf.reduce_mean(terms[t])) > 0
               for t in ("text", "retrieval", "rating", "penalty"))
    assert float(ours.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)

    mf = page["MatrixFactorization"](USERS, ITEMS, 3, 4.0, 0.01)
    package_mf = models.MatrixFactorization(USERS, ITEMS, 3, global_mean=4.0, l2=0.01)
    mf.compute_loss(batch), package_mf.compute_loss(batch)
    for layer, other in [(mf.p, package_mf.user_factors), (mf.q, package_mf.item_factors),
                         (mf.b_u, package_mf.user_bias), (mf.b_i, package_mf.item_bias)]:
        layer.set_weights([w + 0.1 for w in other.get_weights()])  # non-zero biases too
        other.set_weights(layer.get_weights())
    assert float(mf.compute_loss(batch)) == pytest.approx(
        float(package_mf.compute_loss(batch)), rel=1e-5)


@pytest.mark.parametrize("representation", ["ids", "text", "text+ids"])
def test_lesson_10_sequence_model_equals_the_recipe(representation):
    page = model_cells("10_sequences_and_new_items.ipynb")
    tf.keras.utils.set_random_seed(0)
    # Two users in time order: u0 i0 -> i2 -> i1 -> i3, u1 i4 -> i2; i5 and i6 never chosen.
    reviews = pd.DataFrame({
        schema.USER: ["u0", "u0", "u0", "u0", "u1", "u1"],
        schema.ITEM: ["i0", "i2", "i1", "i3", "i4", "i2"],
        schema.TIMESTAMP: [1, 2, 3, 4, 1, 2], schema.ORDER: range(6),
        schema.RATING: 5.0, schema.TEXT: "t"})
    text = _Vectors(np.array(ITEMS, object), np.random.default_rng(4).normal(size=(7, DIM)))
    settings = models.SequenceSettings(representation=representation, max_length=4,
                                       embedding_dim=8, n_layers=2, n_heads=2, n_experts=3,
                                       dropout=0.2, l2=0.05)
    recipe = models.sequence_model_recipe(reviews, ITEMS, text, settings=settings)
    package = recipe.build()
    batch = next(iter(recipe.train_dataset(batch_size=2)))
    ours = page["NextItem"](len(ITEMS), text.vectors, representation,
                            package.trained_items.numpy(), 4, 8, 2, 2, 0.2, 3, 0.05)
    package.compute_loss(batch), ours.compute_loss(batch)
    rng = np.random.default_rng(5)    # non-zero biases and id rows, so that they are compared too
    if "text" in representation:
        package.items.adaptor.biases.assign(rng.normal(size=(3, DIM)))
    if "ids" in representation:
        package.items.id_embedding.set_weights([rng.normal(size=(8, 8)).astype(np.float32)])
    page["copy_weights"](ours, package)
    expected = float(package.compute_loss(batch))
    assert package.trained_items.numpy().tolist() == [True] * 5 + [False] * 2
    assert expected > 0
    assert float(ours.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)
    history = batch["history"]
    assert np.array_equal(page["causal_mask"](history).numpy(),
                          models.causal_attention_mask(history).numpy())
