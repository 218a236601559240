"""Epochs chosen on validation: measure the model on validation after every epoch, keep the
weights of the best epoch, stop when ``patience`` epochs have not beaten it.

A recommender is judged by how it ranks the whole catalogue for each user, and its training
loss says little about that: the loss keeps falling while the model learns the train pairs by
heart and its ranking of held-out interactions has long peaked. So the course's trained models
pick their number of epochs with :class:`BestEpoch`, a Keras callback around a function
``measure(model) -> float`` (higher is better). The course's measure is NDCG@10 by full ranking
over every item with each user's fit items masked; it lives with the metrics
(:func:`textrec.evaluation.validation_ndcg`, a layer above the models) and is passed in::

    validation_ndcg = evaluation.validation_ndcg(split, user_ids, item_ids,
                                                 models.tower_scores(user_ids, item_ids))
    stopper = BestEpoch(validation_ndcg, patience=5)
    model = recipe.fit(epochs=100, callbacks=[stopper]).model     # the best epoch's weights
    stopper.best_epoch, stopper.curve                              # 1-based; the measure per epoch

(``recipe.fit(stop_on=validation_ndcg)`` does the same with the settings' ``max_epochs`` and
``patience``.) The refit on train + validation then trains for ``stopper.best_epoch`` epochs:
test is never read to choose.
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
      restore_best_weights: put the best epoch's weights back when training ends (False: only
        record the curve).

    ``curve`` holds the value of each epoch, ``best_epoch`` the best one (1-based, 0 before
    any epoch), ``best`` its value and ``stopped_epoch`` the last epoch trained.
    """

    def __init__(self, measure, patience: int | None = 5, min_delta: float = 0.0,
                 name: str = "val_ndcg@10", restore_best_weights: bool = True):
        super().__init__()
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 (or None), got {patience}")
        self.measure, self.patience, self.min_delta = measure, patience, float(min_delta)
        self.name, self.restore_best_weights = name, restore_best_weights
        self.curve: list[float] = []
        self.best, self.best_epoch, self.stopped_epoch = -np.inf, 0, 0
        self._best_weights = None

    def on_train_begin(self, logs=None):
        self.curve, self.best, self.best_epoch, self.stopped_epoch = [], -np.inf, 0, 0
        self._best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = float(self.measure(self.model))
        self.curve.append(value)
        self.stopped_epoch = epoch + 1
        if logs is not None:
            logs[self.name] = value
        if value > self.best + self.min_delta:
            self.best, self.best_epoch = value, epoch + 1
            if self.restore_best_weights:
                self._best_weights = self.model.get_weights()
        elif self.patience is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None and self.best_epoch != self.stopped_epoch:
            self.model.set_weights(self._best_weights)

    def summary(self) -> str:
        """One line: the chosen epoch, its value and how many epochs ran."""
        return (f"{self.name} best at epoch {self.best_epoch} of {self.stopped_epoch} "
                f"({self.best:.4f})")
