"""The course's own models as score matrices over an :class:`InteractionData`'s users and items,
so they can be evaluated beside the baselines.

* :func:`text_only_model`: lesson 03's text-only recommender (interest vectors . item text
  vectors) fitted on the TRAIN reviews, or on train + validation for the refit;
* :func:`text_only_scores`: its scores, users without usable text falling back to popularity;
* :func:`two_tower_fit` / :func:`two_tower_scores`: lesson 04's text-aware two-tower
  (``models.two_tower_recipe``: id embeddings and text vectors in both towers, in-batch softmax
  with the log-Q correction, epochs chosen on validation NDCG@10);
* :func:`matrix_factorization_fit`: lesson 05's matrix factorisation trained to rank, the same way.

They import TensorFlow (through the encoder and the towers); the rest of
``textrec.evaluation`` does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec import config
from textrec.evaluation.protocol import InteractionData


def fit_frame(data: InteractionData, fit: str = "train") -> pd.DataFrame:
    """The reviews a model may read for ``fit``: train, or train + validation."""
    if data.split is None:
        raise ValueError("this InteractionData has no split frames; build it with from_split")
    if fit == "train":
        return data.split.train
    if fit == "train+validation":
        return pd.concat([data.split.train, data.split.validation], ignore_index=True)
    raise ValueError(f"fit must be 'train' or 'train+validation', got {fit!r}")


def text_only_model(data: InteractionData, items: pd.DataFrame, embedder, fit: str = "train",
                    method: str = "mean", **options):
    """A :class:`textrec.interests.TextOnlyRecommender` over ``data``'s users and items, from
    the reviews of ``fit`` only (``options`` go to ``fit_text_recommender``)."""
    from textrec import interests

    frame = fit_frame(data, fit)
    review_vectors, description_vectors = interests.embed_train_and_items(frame, items, embedder)
    return interests.fit_text_recommender(frame, items, review_vectors, description_vectors,
                                          method=method, user_ids=data.user_ids,
                                          item_ids=data.item_ids, **options)


def text_only_scores(model, data: InteractionData, fit: str = "train") -> np.ndarray:
    """Cosine scores [n users, n items]; users without usable text get the items' popularity
    (scaled below the smallest cosine gap, so it only orders them)."""
    popularity = data.item_popularity(fit)
    return model.scores(fallback=popularity / max(popularity.max(), 1.0))


def _fit_and_score(make_recipe, data: InteractionData, fit: str, epochs: int | None,
                   seed: int) -> tuple[np.ndarray, int]:
    """Build ``make_recipe(frame, user_ids, item_ids)`` on the reviews of ``fit``, train it
    (early stopping on the validation NDCG@10 when fitted on train without ``epochs``) and
    score every user of ``data`` against every item."""
    from textrec import evaluation, models

    users, items = [str(u) for u in data.user_ids], [str(i) for i in data.item_ids]
    recipe = make_recipe(fit_frame(data, fit), users, items)
    stop_on = None
    if fit == "train" and epochs is None:
        stop_on = evaluation.validation_ndcg(data.split, users, items,
                                             models.tower_scores(users, items))
    history = recipe.fit(epochs=epochs, seed=seed, stop_on=stop_on)
    model = history.model
    return (models.score_matrix(model.query_model, model.candidate_model, users, items),
            history.best_epoch)


def two_tower_fit(data: InteractionData, user_vectors, item_vectors, fit: str = "train",
                  epochs: int | None = None, seed: int = config.SEED,
                  **changes) -> tuple[np.ndarray, int]:
    """Train lesson 04's text-aware two-tower (``models.two_tower_recipe`` with the profile's
    ``models.TWO_TOWER_SETTINGS``) on the interactions of ``fit`` and score every user against
    every item: ``(scores float32 [n users, n items], epochs trained)``.

    ``user_vectors`` / ``item_vectors``: text vectors by id (e.g. the text-only model's
    ``users`` and ``items``, any form of :mod:`textrec.models.text_table`). Epochs: ``epochs``
    when given; else, fitted on train, early stopping on the validation NDCG@10
    (``recipe.fit(stop_on=evaluation.validation_ndcg(...))``); refitted on train + validation,
    the settings' ``epochs`` (pass the epochs the train fit chose instead, as lesson 06 does).
    ``changes`` replace single settings (e.g. ``use_text=False``).
    """
    from textrec import models

    return _fit_and_score(
        lambda frame, users, items: models.two_tower_recipe(
            user_vectors, item_vectors, frame, user_ids=users, item_ids=items, **changes),
        data, fit, epochs, seed)


def matrix_factorization_fit(data: InteractionData, fit: str = "train",
                             epochs: int | None = None, seed: int = config.SEED,
                             **changes) -> tuple[np.ndarray, int]:
    """Lesson 05's matrix factorisation trained to rank (``models.matrix_factorization_recipe``
    with the profile's ``models.MF_SETTINGS``: a softmax over the catalogue, item bias, L2) on
    the interactions of ``fit``, scored like :func:`two_tower_fit` (the same epoch rule):
    ``(scores float32 [n users, n items], epochs trained)``."""
    from textrec import models

    return _fit_and_score(
        lambda frame, users, items: models.matrix_factorization_recipe(
            frame, user_ids=users, item_ids=items, **changes),
        data, fit, epochs, seed)


def two_tower_scores(data: InteractionData, user_vectors, item_vectors, fit: str = "train",
                     epochs: int | None = None, seed: int = config.SEED,
                     **changes) -> np.ndarray:
    """The scores of :func:`two_tower_fit`: float32 [n users, n items]."""
    return two_tower_fit(data, user_vectors, item_vectors, fit, epochs, seed, **changes)[0]
