"""Training any textrec model the same way on a CPU, a GPU, several GPUs or a TPU.

:func:`fit_model` takes a function that *builds* the model, not a model: a model's variables
must be created inside ``strategy.scope()`` to be placed (and mirrored) by the strategy, so the
model is built and compiled there. With ``strategy=None`` the default strategy (one device) is
used, and the same notebook code scales out by passing e.g. ``tf.distribute.MirroredStrategy()``.
The batch size of the datasets is the *global* batch size; each replica gets a slice.
"""

from __future__ import annotations

import time

import tensorflow as tf

from textrec import config


class EpochTimer(tf.keras.callbacks.Callback):
    """Adds ``epoch_seconds`` (wall time of the epoch, validation included) to the logs, so
    it ends up in ``history.history``. The first epoch includes tracing the graph."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def make_optimizer(name: str, learning_rate: float):
    """A Keras 2 optimizer by name: "adam", "adagrad" or "sgd"."""
    optimizers = {"adam": tf.keras.optimizers.Adam, "adagrad": tf.keras.optimizers.Adagrad,
                  "sgd": tf.keras.optimizers.SGD}
    if name not in optimizers:
        raise ValueError(f"unknown optimizer {name!r}; use one of {sorted(optimizers)}")
    return optimizers[name](learning_rate=learning_rate)


def fit_model(model_fn, train_dataset, validation_dataset=None, epochs: int | None = None,
              strategy=None, learning_rate: float = 0.01, optimizer: str = "adam",
              callbacks=None, seed: int | None = config.SEED, verbose: int = 0):
    """Build ``model_fn()`` and compile it inside ``strategy.scope()``, then fit it.

    Args:
      model_fn: a function with no arguments that returns a (``tfrs``) Keras model.
      train_dataset: batched training features (``tf.data.Dataset``).
      validation_dataset: batched validation features, evaluated after each epoch.
      epochs: defaults to the active profile's ``epochs``.
      strategy: a ``tf.distribute.Strategy``; None: the default (current) strategy.
      learning_rate, optimizer: the optimizer ("adam", "adagrad" or "sgd") and its rate.
      callbacks: extra Keras callbacks.
      seed: seeds Python, NumPy and TensorFlow first (None: leave them).

    On a GPU, the profile's switches for the "joint" workload (``config.acceleration``) apply
    to every model built here; XLA only to batches without strings.

    Returns:
      The Keras ``History``: ``history.model`` is the trained model, ``history.history`` holds
      the logged metrics per epoch, with ``epoch_seconds`` among them.
    """
    if epochs is None:
        epochs = config.get_profile().epochs
    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if seed is not None:
        config.set_seeds(seed)
    strategy = strategy or tf.distribute.get_strategy()
    switches = config.acceleration("joint")  # mixed precision / XLA: only on a GPU
    with strategy.scope(), config.mixed_precision(switches.mixed_precision):
        model = model_fn()
        model.compile(optimizer=make_optimizer(optimizer, learning_rate),
                      jit_compile=config.xla_applies(switches, train_dataset.element_spec))
    return model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs,
                     callbacks=[EpochTimer(), *(callbacks or [])], verbose=verbose)
