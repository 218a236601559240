"""Stage ``joint``: train notebook 05's joint model (``models.joint_model_recipe`` with the
profile's ``models.JOINT_SETTINGS``: text, retrieval and rating terms weighted equally) on the
train reviews, and score it on validation."""

from __future__ import annotations

import numpy as np

from textrec.data import schema
from textrec.pipeline.report import markdown_table, save_figure
from textrec.pipeline.state import PipelineState

LOSS_TERMS = ("text_loss", "retrieval_loss", "rating_loss")


def joint_settings(state: PipelineState):
    """The settings notebook 05 reads: ``models.JOINT_SETTINGS[profile]`` (the same object)."""
    from textrec import models

    return models.JOINT_SETTINGS[state.settings.name]


def joint_stage(state: PipelineState) -> str:
    """Train and score; puts ``joint_model`` (the trained ``JointModel``), ``joint_history``
    (per-epoch logs), ``user_ids`` and ``item_ids`` (the towers' vocabularies), and
    validation NDCG@10, HR@10 and RMSE in ``state.metrics``."""
    from textrec import models
    from textrec.data import tfdata

    split = state.need("prepared", "joint").split
    user_text, item_text = state.need("user_text", "joint"), state.need("item_text", "joint")
    review_vectors = state.need("review_vectors", "joint")
    profile, seed = state.settings, state.seed
    settings = joint_settings(state)
    epochs = settings.epochs(profile.name)
    mean_rating = float(split.train[schema.RATING].mean())
    recipe = models.joint_model_recipe(user_text, item_text, split.train, review_vectors,
                                       settings=settings)
    history = recipe.fit(tfdata.interactions_dataset(split.validation,
                                                     batch_size=profile.batch_size),
                         epochs=epochs, batch_size=profile.batch_size, seed=seed)
    model = history.model
    state.put("joint", joint_model=model, joint_history=history.history, user_ids=user_text.ids,
              item_ids=item_text.ids)
    table = validation_scores(model, split, user_text.ids, item_text.ids, mean_rating)
    state.metrics.update({"validation ndcg@10": table["joint model"]["NDCG@10"],
                          "validation hr@10": table["joint model"]["HR@10"],
                          "validation rmse": table["joint model"]["RMSE"]})
    image = save_figure(_loss_figure(history.history), state, "joint_losses",
                        "the joint model's three loss terms per epoch")
    return "\n".join(_section(history.history, epochs, profile.batch_size, table, settings)
                     + ["", image])


def validation_scores(model, split, user_ids, item_ids, mean_rating: float) -> dict:
    """Validation HR@10 and NDCG@10 (full ranking, train items masked) and RMSE of the clipped
    predicted ratings, with "predict the train mean" as the RMSE reference."""
    import tensorflow as tf

    from textrec import models
    from textrec.evaluation import RANDOM, evaluate_scores, random_reference, rmse

    scores = models.score_matrix(model.query_model, model.candidate_model, user_ids, item_ids)
    ranking = evaluate_scores(scores, split, user_ids, item_ids, "validation")
    chance = random_reference(split, "validation", user_ids, item_ids)
    validation = split.validation
    predicted = model.predict_rating({
        schema.USER: tf.constant(validation[schema.USER].astype(str).tolist()),
        schema.ITEM: tf.constant(validation[schema.ITEM].astype(str).tolist())}).numpy()
    true_ratings = validation[schema.RATING].to_numpy(float)
    return {
        "joint model": {"HR@10": ranking["hr@10"], "NDCG@10": ranking["ndcg@10"],
                        "RMSE": rmse(true_ratings, np.clip(predicted, 1, 5))},
        "predict the train mean": {"HR@10": float("nan"), "NDCG@10": float("nan"),
                                   "RMSE": rmse(true_ratings,
                                                np.full(len(true_ratings), mean_rating))},
        RANDOM: {"HR@10": chance["hr@10"], "NDCG@10": chance["ndcg@10"], "RMSE": float("nan")},
    }


def _section(logs: dict, epochs: int, batch_size: int, table: dict, settings) -> list[str]:
    last = ", ".join(f"{term} {logs[term][-1]:.3f}" for term in LOSS_TERMS)
    seconds = sum(logs.get("epoch_seconds", []))
    return [
        "## The joint model",
        f"Notebook 05's joint model (`models.joint_model_recipe`, {settings}): query tower (user "
        "id embedding + interest vector through a projection), candidate tower (item id + "
        f"item text vector), loss `L = {settings.w_U:g} L_U + {settings.w_A:g} L_A + "
        f"{settings.w_R:g} L_R` (review sentiment, in-batch softmax retrieval with the log-Q "
        "correction, rating MSE). Trained on the train "
        f"reviews for {epochs} epochs, batches of {batch_size}, Adam {settings.learning_rate:g}, "
        f"{seconds:.0f} s. Last epoch (unweighted terms): {last}.",
        "",
        "Validation (full ranking, train items masked; RMSE of predicted ratings clipped to "
        "1-5):",
        "",
        markdown_table(table, ["HR@10", "NDCG@10", "RMSE"], first_column="model"),
        "",
        overfitting_note(logs),
    ]


def overfitting_note(logs: dict) -> str:
    """A sentence on whether the validation retrieval loss rose before training ended."""
    validation = logs.get("val_retrieval_loss", [])
    if not validation:
        return "No validation losses were logged."
    best = int(np.argmin(validation)) + 1
    if best == len(validation):
        return "The validation retrieval loss was still falling at the last epoch."
    return (f"The validation retrieval loss was lowest after epoch {best} of {len(validation)} "
            f"({validation[best - 1]:.3f}, against {validation[-1]:.3f} at the end): by the "
            "end the model fits the train pairs better than it generalises. Notebook 05's epoch "
            "count is kept as it is; the membership audit below measures the same gap.")


def _loss_figure(logs: dict):
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    epochs = np.arange(1, len(logs["loss"]) + 1)
    for axis, term in zip(axes, LOSS_TERMS):
        axis.plot(epochs, logs[term], "o-", label="train")
        if f"val_{term}" in logs and term != "text_loss":  # validation has no review vectors
            axis.plot(epochs, logs[f"val_{term}"], "o--", label="validation")
        axis.set(title=term, xlabel="epoch", ylabel=f"{term.replace('_', ' ')} (mean per review)")
        axis.legend(fontsize=8)
    return figure
