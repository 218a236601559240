"""Epochs chosen on validation: score the validation users after every epoch, keep the weights
of the best epoch, stop when ``patience`` epochs have not beaten it.

The measure is the course's: NDCG@k by full ranking over every item, each user's fit items
masked (:func:`textrec.evaluation.metrics.ranking_metrics`). A model is scored by a function
``score(model) -> float [n users, n items]`` (the same users and items as the targets), so any
model of the course can be stopped this way::

    stopper = BestEpoch(lambda m: m.score_users(train, user_ids), targets, seen, patience=5)
    model = recipe.fit(epochs=100, callbacks=[stopper]).model     # the best epoch's weights
    stopper.best_epoch, stopper.curve                              # 1-based; NDCG@k per epoch

The refit on train + validation then trains for ``stopper.best_epoch`` epochs: test is never
read to choose.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from textrec.evaluation import metrics


class BestEpoch(tf.keras.callbacks.Callback):
    """Validation NDCG@k after each epoch; the best epoch's weights restored at the end.

    Args:
      score: model -> float [n users, n items], the scores of the validation users.
      targets, exclude: binary [n users, n items], the validation items and the items not to
        rank (the fit items), as :func:`textrec.evaluation.heldout` gives them.
      k: the cut-off; patience: epochs without a better NDCG@k before training stops
        (None: never stop early); min_delta: the least gain that counts as better.

    ``curve`` holds NDCG@k of each epoch, ``best_epoch`` the best one (1-based) and
    ``best`` its NDCG@k; each epoch's value is also logged as ``val_ndcg@k``.
    """

    def __init__(self, score, targets, exclude, k: int = 10, patience: int | None = 5,
                 min_delta: float = 0.0):
        super().__init__()
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 (or None), got {patience}")
        self.score, self.targets, self.exclude = score, targets, exclude
        self.k, self.patience, self.min_delta = int(k), patience, float(min_delta)
        self.curve: list[float] = []
        self.best, self.best_epoch, self._best_weights = -np.inf, 0, None

    def on_train_begin(self, logs=None):
        self.curve, self.best, self.best_epoch, self._best_weights = [], -np.inf, 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = metrics.ranking_metrics(self.score(self.model), self.targets,
                                        exclude=self.exclude, ks=(self.k,))[f"ndcg@{self.k}"]
        self.curve.append(float(value))
        if logs is not None:
            logs[f"val_ndcg@{self.k}"] = float(value)
        if value > self.best + self.min_delta:
            self.best, self.best_epoch = float(value), epoch + 1
            self._best_weights = self.model.get_weights()
        elif self.patience is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
