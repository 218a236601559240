"""Stage ``joint``: train notebook 05's joint model (``models.joint_model_recipe`` with the
profile's ``models.JOINT_SETTINGS``: the retrieval term with small text and rating terms) on
the train reviews, its epochs chosen by early stopping on the validation NDCG@10, and score it
on validation."""

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
    from textrec import evaluation, models
    from textrec.data import tfdata

    split = state.need("prepared", "joint").split
    user_text, item_text = state.need("user_text", "joint"), state.need("item_text", "joint")
    review_vectors = state.need("review_vectors", "joint")
    seed = state.seed
    settings = joint_settings(state)
    mean_rating = float(split.train[schema.RATING].mean())
    recipe = models.joint_model_recipe(user_text, item_text, split.train, review_vectors,
                                       settings=settings)
    validation_ndcg = evaluation.validation_ndcg(split, user_text.ids, item_text.ids,
                                                 models.tower_scores(user_text.ids, item_text.ids))
    history = recipe.fit(tfdata.interactions_dataset(split.validation,
                                                     batch_size=settings.batch_size),
                         seed=seed, stop_on=validation_ndcg)
    model = history.model
    state.put("joint", joint_model=model, joint_history=history.history, user_ids=user_text.ids,
              item_ids=item_text.ids)
    table = validation_scores(model, split, user_text.ids, item_text.ids, mean_rating)
    state.metrics.update({"validation ndcg@10": table["joint model"]["NDCG@10"],
                          "validation hr@10": table["joint model"]["HR@10"],
                          "validation rmse": table["joint model"]["RMSE"]})
    image = save_figure(_loss_figure(history.history), state, "joint_losses",
                        "the joint model's three loss terms per epoch")
    return "\n".join(_section(history, table, settings) + ["", image])


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


def _section(history, table: dict, settings) -> list[str]:
    logs = history.history
    last = ", ".join(f"{term} {logs[term][-1]:.3f}" for term in LOSS_TERMS)
    seconds = sum(logs.get("epoch_seconds", []))
    return [
        "## The joint model",
        f"Notebook 05's joint model (`models.joint_model_recipe`, {settings}): query tower (user "
        "id embedding + interest vector through a linear projection), candidate tower (item id "
        "+ item text vector, item bias), loss `L = "
        f"{settings.w_U:g} L_U + {settings.w_A:g} L_A + {settings.w_R:g} L_R` (review "
        "sentiment, in-batch softmax retrieval with the log-Q correction, rating MSE) plus an "
        f"L2 penalty on the towers' outputs. Trained on the train reviews for {len(history.epoch)} "
        f"epochs, batches of {settings.batch_size}, Adam {settings.learning_rate:g}, "
        f"{seconds:.0f} s. Last epoch (unweighted terms): {last}.",
        "",
        "Validation (full ranking, train items masked; RMSE of predicted ratings clipped to "
        "1-5). The epochs were chosen on this validation NDCG@10, so it flatters the model a "
        "little; the evaluation stage scores it on test:",
        "",
        markdown_table(table, ["HR@10", "NDCG@10", "RMSE"], first_column="model"),
        "",
        stopping_note(history),
    ]


def stopping_note(history) -> str:
    """A sentence on where early stopping put the model, and what the loss did meanwhile."""
    stopping = history.stopping
    note = (f"Validation NDCG@10 was best after epoch {stopping.best_epoch} of "
            f"{stopping.stopped_epoch} ({stopping.best:.4f}); the model keeps that "
            "epoch's weights")
    validation = history.history.get("val_retrieval_loss", [])
    if not validation:
        return note + "."
    lowest = int(np.argmin(validation)) + 1
    if lowest == stopping.best_epoch:
        return note + ", where the validation retrieval loss was lowest too."
    return (note + f", while the validation retrieval loss was lowest after epoch {lowest}: "
            "the loss and the ranking disagree about when to stop, and the ranking is what is "
            "reported.")


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
