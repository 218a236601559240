"""One recipe per model: the settings notebooks and the pipeline share, ReviewVectors, and the
one stars-to-sentiment rule."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from textrec import config, models
from textrec.data import schema
from textrec.data.cleaning import add_sentiment
from textrec.pipeline import joint_stage
from textrec.pipeline.state import PipelineState

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _code(name: str) -> str:
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_pipeline_reads_the_same_joint_settings_object_as_the_notebooks(profile):
    state = PipelineState(source="synthetic", profile=profile, seed=0, reports=Path("."))
    assert joint_stage.joint_settings(state) is models.JOINT_SETTINGS[profile]


@pytest.mark.parametrize("notebook", ["05_collaborative_filtering_joint_loss.ipynb",
                                      "08_deployment_export.ipynb"])
def test_notebooks_build_the_joint_model_with_the_recipe_and_its_settings(notebook):
    code = _code(notebook)
    assert "models.JOINT_SETTINGS[profile.name]" in code
    assert "joint_model_recipe(" in code
    # No second recipe in the page: the model class is only built by the package's recipe
    # (notebook 05 writes its own class only to compare it with the recipe's).
    assert "models.JointModel(" not in code


def test_settings_are_frozen_and_weights_are_named():
    settings = models.JOINT_SETTINGS["quick"]
    with pytest.raises(Exception):
        settings.w_U = 2.0
    changed = settings.with_weights(0, 1, 2)
    assert changed.weights == (0.0, 1.0, 2.0) and settings.weights == (settings.w_U, 1.0,
                                                                        settings.w_R)
    # The ranking term leads; the text and rating terms only shape the towers.
    assert settings.w_A == 1.0 and settings.w_U < 1.0 and settings.w_R < 1.0
    for table in (models.MF_SETTINGS, models.TWO_TOWER_SETTINGS, models.JOINT_SETTINGS):
        for profile in config.PROFILE_NAMES:
            chosen = table[profile]
            assert chosen.l2 > 0 and 1 <= chosen.epochs <= chosen.max_epochs
            assert chosen.patience < chosen.max_epochs


def test_the_penalty_is_given_per_average_item():
    train = pd.DataFrame({schema.ITEM: ["a", "a", "b", "c"]})     # 3 items, 4 interactions
    assert models.penalty_weight(2.0, train) == pytest.approx(2.0 * 3 / 4)
    with pytest.raises(ValueError, match="l2"):
        models.penalty_weight(-1.0, train)


def _reviews(n=6):
    return pd.DataFrame({schema.USER: [f"u{i % 3}" for i in range(n)],
                         schema.ITEM: [f"i{i}" for i in range(n)],
                         schema.RATING: [5.0, 4.0, 3.0, 1.0, 2.0, 5.0][:n],
                         schema.TEXT: ["text"] * n})


def test_review_vectors_check_the_alignment_once():
    frame = _reviews()
    with pytest.raises(ValueError, match="one row per review"):
        models.ReviewVectors(frame, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        models.ReviewVectors(frame, np.full((6, 3), np.nan))
    reviews = models.ReviewVectors(frame, np.arange(18, dtype=float).reshape(6, 3))
    assert models.ReviewVectors.of(reviews) is reviews
    part = reviews.take(reviews.column(schema.RATING) >= 4)
    # rows 0, 1, 5 keep their own vectors: [0 1 2], [3 4 5], [15 16 17]
    assert part.vectors[:, 0].tolist() == [0.0, 3.0, 15.0]
    assert part.column(schema.ITEM).tolist() == ["i0", "i1", "i5"]


def test_review_dataset_carries_the_data_layers_sentiment_codes():
    frame = _reviews()
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    batch = next(iter(models.review_dataset(frame, vectors, batch_size=6, shuffle=False)))
    expected = add_sentiment(frame)[schema.SENTIMENT].tolist()  # 1, 1, -1, 0, 0, 1
    assert batch[schema.SENTIMENT].numpy().tolist() == expected == [1, 1, -1, 0, 0, 1]
    np.testing.assert_array_equal(batch[models.REVIEW_VECTOR].numpy(), vectors)
    labels, weights = models.sentiment_labels(batch[schema.SENTIMENT])
    assert labels.numpy().tolist() == [1, 1, 0, 0, 0, 1]
    assert weights.numpy().tolist() == [1, 1, 0, 1, 1, 1]


def test_joint_recipe_builds_the_settings_model():
    frame = _reviews()
    rng = np.random.default_rng(0)
    user_text = ({f"u{i}": rng.normal(size=4) for i in range(3)})
    item_text = ({f"i{i}": rng.normal(size=4) for i in range(6)})
    settings = models.JOINT_SETTINGS["quick"].with_weights(0.5, 1.0, 2.0)
    recipe = models.joint_model_recipe(
        user_text, item_text, frame, rng.normal(size=(6, 4)), settings=settings,
        user_ids=list(user_text), item_ids=list(item_text), embedding_dim=8)
    model = recipe.build()
    assert recipe.settings.embedding_dim == 8 and recipe.settings.w_R == 2.0
    assert (model.text_weight, model.retrieval_weight, model.rating_weight) == (0.5, 1.0, 2.0)
    batch = next(iter(recipe.train_dataset(batch_size=6)))
    assert np.isfinite(float(model.compute_loss(batch, training=True)))
    width = 8 + recipe.settings.text_projection_units + 1   # [id embedding, projected text, 1]
    assert model.query_model(batch).shape == (6, width)
    assert tf.reduce_all(tf.math.is_finite(model.predict_rating(batch)))


# --- the pipeline and the benchmark train the same recipes --------------------------------------

def test_the_benchmark_searches_start_from_the_recipes_settings():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import neural_search

    defaults = {"mf": models.MF_SETTINGS["quick"], "id": models.TWO_TOWER_SETTINGS["quick"],
                "text": models.TWO_TOWER_SETTINGS["quick"], "joint": models.JOINT_SETTINGS["quick"]}
    budgets = {"mf": 3, "id": 3, "text": 3, "joint": 3}
    for search in neural_search.searches(budgets):
        configurations = neural_search.configurations(search, defaults[search.kind])
        assert len(configurations) == 3 and len({str(c) for c in configurations}) == 3
        # The recipe's current settings are on the grid and tried first.
        assert configurations[0] == {name: getattr(defaults[search.kind], name)
                                     for name in search.space}


def test_the_benchmark_and_the_pipeline_build_models_with_the_recipes(monkeypatch):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import neural_search

    from textrec.pipeline import course_models

    calls = []
    for name in ("matrix_factorization_recipe", "two_tower_recipe", "joint_model_recipe"):
        original = getattr(models, name)

        def recording(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(models, name, recording)
    frame = _reviews()
    rng = np.random.default_rng(0)
    users, items = ["u0", "u1", "u2"], [f"i{i}" for i in range(6)]
    world = neural_search.World(None, "validation", frame, rng.normal(size=(6, 4)),
                                np.array(users, object), np.array(items, object),
                                ({u: rng.normal(size=4) for u in users}),
                                ({i: rng.normal(size=4) for i in items}))
    for kind in ("mf", "id", "text", "joint"):
        assert neural_search.recipe(kind, world, {}).settings.l2 > 0
    assert calls == ["matrix_factorization_recipe", "two_tower_recipe", "two_tower_recipe",
                     "joint_model_recipe"]
    assert "models.two_tower_recipe(" in Path(course_models.__file__).read_text()
