"""Epochs chosen on validation: measure the model on validation after every epoch, keep the
weights of the best epoch, stop when ``patience`` epochs have not beaten it.

The measure is a function ``measure(model) -> float`` (higher is better). The course's is
NDCG@10 by full ranking over every item with each user's fit items masked, which lives with
the metrics (``textrec.evaluation``, a layer above the models)::

    def validation_ndcg(model):
        scores = model.score_users(train, user_ids)               # [n users, n items]
        return evaluation.ranking_metrics(scores, targets, exclude=seen)["ndcg@10"]

    stopper = BestEpoch(validation_ndcg, patience=5)
    model = recipe.fit(epochs=100, callbacks=[stopper]).model     # the best epoch's weights
    stopper.best_epoch, stopper.curve                              # 1-based; the measure per epoch

The refit on train + validation then trains for ``stopper.best_epoch`` epochs: test is never
read to choose.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class BestEpoch(tf.keras.callbacks.Callback):
    """The validation measure after each epoch; the best epoch's weights restored at the end.

    Args:
      measure: model -> float, higher is better (e.g. validation NDCG@10).
      patience: epochs without a better value before training stops (None: never early).
      min_delta: the least gain that counts as better.
      name: the key under which each epoch's value is logged (in ``history.history`` too).

    ``curve`` holds the value of each epoch, ``best_epoch`` the best one (1-based, 0 before
    any epoch) and ``best`` its value.
    """

    def __init__(self, measure, patience: int | None = 5, min_delta: float = 0.0,
                 name: str = "val_ndcg@10"):
        super().__init__()
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 (or None), got {patience}")
        self.measure, self.patience, self.min_delta = measure, patience, float(min_delta)
        self.name = name
        self.curve: list[float] = []
        self.best, self.best_epoch, self._best_weights = -np.inf, 0, None

    def on_train_begin(self, logs=None):
        self.curve, self.best, self.best_epoch, self._best_weights = [], -np.inf, 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = float(self.measure(self.model))
        self.curve.append(value)
        if logs is not None:
            logs[self.name] = value
        if value > self.best + self.min_delta:
            self.best, self.best_epoch = value, epoch + 1
            self._best_weights = self.model.get_weights()
        elif self.patience is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
