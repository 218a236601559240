"""Stopping training where the ranking on validation is best, not where the loss is lowest.

A recommender is judged by how it ranks the whole catalogue for each user, and its training
loss says little about that: the loss keeps falling while the model learns the train pairs by
heart and its full-ranking NDCG@10 on held-out interactions has long peaked. So the course's
models pick their number of epochs with :class:`ValidationNDCG`, a Keras callback that after
every epoch

1. scores every user against every item (``score_fn(model)``, by default the towers' dot
   product, :func:`textrec.models.score_matrix`),
2. computes NDCG@k on the validation part through the course's one evaluation path
   (:func:`textrec.evaluation.heldout` for the targets and the masked train items, then
   :func:`textrec.evaluation.ranking_metrics`), logged as ``val_ndcg@10``,
3. keeps the weights of the best epoch so far, and stops after ``patience`` epochs without a
   better one.

When training ends it restores the best epoch's weights and records ``best_epoch`` (counted
from 1) and ``best_value``: the model is the one validation chose, and a refit on train +
validation trains for ``best_epoch`` epochs (:meth:`textrec.models.Recipe.refit`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf


def tower_scores(user_ids, item_ids) -> Callable:
    """A ``score_fn`` for two-tower models: ``model -> score_matrix(query, candidate)``."""
    from textrec.models.index import score_matrix

    return lambda model: score_matrix(model.query_model, model.candidate_model, user_ids,
                                      item_ids)


class ValidationNDCG(tf.keras.callbacks.Callback):
    """Full-ranking validation NDCG@k after every epoch; early stopping on it.

    Args:
      split: the :class:`textrec.data.splits.Split` whose ``part`` holds the targets.
      user_ids, item_ids: the score matrix's rows and columns (the towers' vocabularies).
      part: "validation" (never "test": epochs are a hyper-parameter).
      k: the cut-off of NDCG.
      patience: stop after this many epochs without a better NDCG (None: never stop early).
      restore_best_weights: put the best epoch's weights back when training ends.
      min_delta: an epoch counts as better only if it beats the best by more than this.
      score_fn: ``model -> scores`` float [len(user_ids), len(item_ids)]; default: the dot
        product of ``model.query_model`` and ``model.candidate_model``.

    After training: ``best_epoch`` (1-based), ``best_value``, ``values`` (one per epoch) and
    ``stopped_epoch`` (the last epoch trained).
    """

    def __init__(self, split, user_ids, item_ids, part: str = "validation", k: int = 10,
                 patience: int | None = 3, restore_best_weights: bool = True,
                 min_delta: float = 0.0, score_fn: Callable | None = None):
        super().__init__()
        from textrec.evaluation import heldout

        if part != "validation":
            raise ValueError(f"epochs are chosen on validation, not on {part!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 (or None), got {patience}")
        self.k = int(k)
        self.name = f"val_ndcg@{self.k}"
        self.targets, self.exclude = heldout(split, part, user_ids, item_ids)
        self.user_ids, self.item_ids = user_ids, item_ids
        self.patience, self.restore_best_weights = patience, restore_best_weights
        self.min_delta = float(min_delta)
        self.score_fn = score_fn or tower_scores(user_ids, item_ids)
        self.values, self.best_epoch, self.best_value = [], 0, -np.inf
        self.best_weights, self.stopped_epoch = None, 0

    def on_train_begin(self, logs=None):
        self.values, self.best_epoch, self.best_value = [], 0, -np.inf
        self.best_weights, self.stopped_epoch = None, 0

    def score(self, model) -> float:
        """NDCG@k of ``model`` on the validation targets (train items masked)."""
        from textrec.evaluation import ranking_metrics

        scores = self.score_fn(model)
        return float(ranking_metrics(scores, self.targets, exclude=self.exclude,
                                     ks=(self.k,))[f"ndcg@{self.k}"])

    def on_epoch_end(self, epoch, logs=None):
        value = self.score(self.model)
        self.values.append(value)
        self.stopped_epoch = epoch + 1
        if logs is not None:
            logs[self.name] = value
        if value > self.best_value + self.min_delta:
            self.best_epoch, self.best_value = epoch + 1, value
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        elif self.patience is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None \
                and self.best_epoch != self.stopped_epoch:
            self.model.set_weights(self.best_weights)

    def summary(self) -> str:
        """One line: the chosen epoch, its NDCG and how many epochs ran."""
        return (f"validation NDCG@{self.k} best at epoch {self.best_epoch} of "
                f"{self.stopped_epoch} ({self.best_value:.4f})")
