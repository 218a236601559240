"""Every course model, fitted on what one fit may read and scored over the same users and items:
what lesson 10, its benchmark (``benchmarks/sequence_benchmark.py``) and the leak tests share.

A fit is described by :class:`FitText`: the reviews a model may learn from (their interactions
and texts) and, for item text, possibly more reviews (the product pages of new items, see
:mod:`textrec.evaluation.new_items`); both are embedded here with the frozen encoder, and
nothing else is. The models:

* closed form, from the fit's interaction matrix: :data:`CLOSED_FORM` (most popular,
  item-kNN, EASE; hyper-parameters chosen on validation by ``textrec.evaluation.tune``);
* trained, each through its one recipe: :data:`NEURAL`, lesson 04's two-tower
  (``models.two_tower_recipe``), lesson 05's joint model (``models.joint_model_recipe``) and
  lesson 10's sequence model in its three item representations
  (``models.sequence_model_recipe``). Their epochs are chosen on validation NDCG@10
  (:func:`select_epochs`, with ``models.BestEpoch``) and reused for the refit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from textrec import config
from textrec.data import schema

TWO_TOWER, JOINT = "two-tower (lesson 04)", "joint model (lesson 05)"
SEQUENCE = {"ids": "sequence: ids", "text": "sequence: text",
            "text+ids": "sequence: text + ids"}
NEURAL = (TWO_TOWER, JOINT, *SEQUENCE.values())
CLOSED_FORM = ("most popular", "item-kNN", "EASE")
TEXT_AWARE = {"most popular": False, "item-kNN": False, "EASE": False, TWO_TOWER: True,
              JOINT: True, SEQUENCE["ids"]: False, SEQUENCE["text"]: True,
              SEQUENCE["text+ids"]: True}


@dataclasses.dataclass
class FitText:
    """What a model fitted on one fit may read, embedded once.

    ``reviews``: the fit's reviews with their vectors (``models.ReviewVectors``), the
    interactions every model learns from; ``user_text``: interest vectors of ``user_ids``
    from those reviews; ``item_text``: text vectors of ``item_ids`` from the item-text reviews.
    """

    reviews: object
    user_text: object
    item_text: object
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def frame(self) -> pd.DataFrame:
        return self.reviews.frame


def fit_text(fit_frame: pd.DataFrame, embedder, user_ids, item_ids,
             item_text_frame: pd.DataFrame | None = None) -> FitText:
    """Embed the reviews of ``fit_frame`` (and of ``item_text_frame``, default the same) with
    ``embedder`` and build the users' and items' text vectors from them alone."""
    from textrec import interests, models

    item_text_frame = fit_frame if item_text_frame is None else item_text_frame
    user_ids = np.asarray([str(u) for u in user_ids], dtype=object)
    item_ids = np.asarray([str(i) for i in item_ids], dtype=object)
    reviews = models.ReviewVectors(fit_frame, interests.embed_texts(
        embedder, fit_frame[schema.TEXT].tolist()))
    item_reviews = models.ReviewVectors(item_text_frame, interests.embed_texts(
        embedder, item_text_frame[schema.TEXT].tolist()))
    items = pd.DataFrame({schema.ITEM: item_ids, schema.DESCRIPTION: ""})
    return FitText(reviews, interests.interest_vectors(reviews, user_ids=user_ids),
                   interests.item_text_vectors(items, item_reviews, item_ids=item_ids),
                   user_ids, item_ids)


def recipe(name: str, text: FitText, **changes):
    """The recipe of course model ``name`` (one of :data:`NEURAL`) on ``text``'s fit;
    ``changes`` replace single settings."""
    from textrec import models

    users, items = list(text.user_ids), list(text.item_ids)
    if name == TWO_TOWER:
        return models.two_tower_recipe(text.user_text, text.item_text, text.frame,
                                       user_ids=users, item_ids=items, **changes)
    if name == JOINT:
        return models.joint_model_recipe(text.user_text, text.item_text, text.reviews,
                                         user_ids=users, item_ids=items, **changes)
    for representation, sequence_name in SEQUENCE.items():
        if name == sequence_name:
            return models.sequence_model_recipe(text.frame, items, text.item_text,
                                                user_ids=users,
                                                **{"representation": representation, **changes})
    raise ValueError(f"unknown course model {name!r}; use one of {NEURAL}")


def scorer(name: str, text: FitText):
    """model -> its scores [n users, n items] of ``text``'s users and items, reading each
    user's fit interactions as their history."""
    from textrec import models

    if name in SEQUENCE.values():
        return lambda model: model.score_users(text.frame, text.user_ids)
    if name in (TWO_TOWER, JOINT):
        return lambda model: models.score_matrix(model.query_model, model.candidate_model,
                                                 text.user_ids, text.item_ids)
    raise ValueError(f"unknown course model {name!r}; use one of {NEURAL}")


def max_epochs(recipe_) -> int:
    """The most epochs a selection runs: the sequence model's ``epochs()`` (its ``max_epochs``
    scaled with the profile); lessons 04-05's ``max_epochs`` (the cap of their early stopping;
    their ``epochs`` is the count trained when nothing is selected)."""
    settings = recipe_.settings
    return int(settings.epochs() if callable(settings.epochs) else settings.max_epochs)


def select_epochs(name: str, text: FitText, targets, exclude, seed: int = config.SEED,
                  patience: int | None = None, **changes):
    """Train course model ``name`` on ``text``'s fit (train), scoring the validation
    ``targets`` (``exclude``: the fit's items) after every epoch; returns the model at its best
    epoch and the ``models.BestEpoch`` that chose it (``best_epoch``, ``curve``)."""
    from textrec import models

    from textrec import evaluation

    recipe_ = recipe(name, text, **changes)
    patience = patience or getattr(recipe_.settings, "patience", None) or 3
    score = scorer(name, text)
    stopper = models.BestEpoch(
        lambda model: evaluation.ranking_metrics(score(model), targets, exclude)["ndcg@10"],
        patience=patience)
    history = recipe_.fit(epochs=max_epochs(recipe_), seed=seed, callbacks=[stopper])
    return history.model, stopper


def refit_scores(name: str, text: FitText, epochs: int, seed: int = config.SEED,
                 **changes) -> np.ndarray:
    """Train course model ``name`` on ``text``'s fit for ``epochs`` and score every user
    against every item: float32 [n users, n items]."""
    model = recipe(name, text, **changes).fit(epochs=int(epochs), seed=seed).model
    return np.asarray(scorer(name, text)(model), np.float32)


def closed_form_factories() -> dict:
    """Closed-form model name -> (factory, validation grid), as lesson 06 and the pipeline's
    evaluation stage tune them."""
    from textrec.pipeline.evaluation_stage import baseline_factories

    return baseline_factories()


def closed_form_scores(name: str, fit_matrix, params: dict | None = None) -> np.ndarray:
    """Closed-form model ``name`` with ``params`` fitted on ``fit_matrix`` [users, items],
    scoring the same users from the same matrix: float [n users, n items]."""
    factory, _ = closed_form_factories()[name]
    return np.asarray(factory(**(params or {})).fit(fit_matrix).score(fit_matrix))


def every_model_scores(text: FitText, fit_matrix, epochs: dict, params: dict | None = None,
                       seed: int = config.SEED, names=None, progress=None) -> dict:
    """Scores [n users, n items] of every course model (``names``, default all) fitted on one
    fit: the closed-form ones on ``fit_matrix`` (interactions of ``text``'s fit, same users and
    items), the trained ones on ``text`` for ``epochs[name]`` epochs; ``params[name]``: the
    model's chosen hyper-parameters (constructor arguments, or its recipe's setting changes).
    ``progress(name)`` is called before each."""
    params = params or {}
    scores = {}
    for name in names or (*CLOSED_FORM, *NEURAL):
        if progress is not None:
            progress(name)
        if name in CLOSED_FORM:
            scores[name] = closed_form_scores(name, fit_matrix, params.get(name))
        else:
            scores[name] = refit_scores(name, text, epochs[name], seed, **params.get(name, {}))
    return scores
