"""DP-SGD (Abadi et al., 2016) in TensorFlow: clip each unit's gradient, add noise, average.

One step, for a Poisson-sampled batch of units (see ``textrec.privacy.sampling``):

1. the gradient ``g_u`` of each unit's loss (a unit is one example, or one user's examples);
2. clip it to L2 norm ``C``: ``g_u * min(1, C / ||g_u||)``, over all trainable variables
   together, so no unit moves the weights by more than ``C``;
3. sum, and add Gaussian noise of standard deviation ``sigma * C`` to every coordinate;
4. divide by the *expected* batch size ``q * n_units`` (not the sampled one: its size depends
   on who was sampled, so it must not enter the update).

The optimizer then applies that gradient (SGD, Adam: anything after step 4 is post-processing
and costs no privacy). Two ways to get the clipped sum of step 1-3, with the same result:

* ``clipping="vectorized"``: every unit's gradient, materialised with ``tf.vectorized_map``
  (the readable reference; memory: batch size x number of weights);
* ``clipping="ghost"``: per-unit gradient *norms* from layer activations and output gradients,
  then one re-weighted backward pass (``textrec.privacy.ghost``; Dense and Embedding layers).

A model trained this way needs ``per_example_losses(features) -> float [batch size]``, each
example's loss depending on that example only (no in-batch negatives, no batch statistics),
otherwise one unit could move the weights through other units' losses and the clipping would
not bound its influence. What else the guarantee assumes: see ``textrec.privacy.accounting``.
"""

from __future__ import annotations

import tensorflow as tf

from textrec._logging import quiet
from textrec.privacy.clipping import (as_units, clip_factors, flatten_units, global_norms,
                                      unit_losses)
from textrec.privacy.ghost import ghost_clipped_sum

CLIPPING_METHODS = ("vectorized", "ghost")
__all__ = ["CLIPPING_METHODS", "DPModel", "add_noise", "as_units", "clip_factors", "clipped_sum",
           "dp_gradients", "flatten_units", "global_norms", "per_unit_gradients", "unit_losses"]


def _quiet_tensorflow():
    """Hide pfor's notes about ops it runs in a loop (string lookups, gathers) while tracing."""
    return quiet(tf.get_logger())


def per_unit_gradients(loss_fn, variables, features, mask):
    """Every unit's gradient, vectorised: (losses float [units], list of [units, *variable shape]).

    ``tf.vectorized_map`` runs the gradient of one unit's loss for all units at once; each
    unit's features are a batch of its own examples, so ``loss_fn`` sees the usual shapes.
    """
    def one_unit(unit):
        unit_features, unit_mask = unit
        with tf.GradientTape() as tape:
            loss = unit_losses(loss_fn, {k: v[None] for k, v in unit_features.items()},
                               unit_mask[None])[0]
        grads = tape.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return loss, [tf.convert_to_tensor(g) for g in grads]

    with _quiet_tensorflow():
        return tf.vectorized_map(one_unit, (features, mask))


def clipped_sum(per_unit_grads, l2_norm_clip):
    """(sum over units of the clipped gradients, per variable; norms before clipping [units])."""
    norms = global_norms(per_unit_grads)
    factors = clip_factors(norms, l2_norm_clip)
    summed = [tf.tensordot(factors, g, axes=1) for g in per_unit_grads]
    return summed, norms


def add_noise(gradients, noise_multiplier, l2_norm_clip, generator=None):
    """Each gradient plus Gaussian noise of standard deviation ``noise_multiplier * C``."""
    stddev = float(noise_multiplier) * float(l2_norm_clip)
    if stddev == 0:
        return list(gradients)
    normal = generator.normal if generator is not None else tf.random.normal
    return [g + normal(tf.shape(g), stddev=stddev, dtype=g.dtype) for g in gradients]


def dp_gradients(loss_fn, variables, batch, l2_norm_clip, noise_multiplier, expected_batch_size,
                 clipping: str = "vectorized", model=None, generator=None):
    """The DP-SGD gradient of one batch, and what happened: (gradients, stats).

    Args:
      loss_fn: features -> per-example losses float [batch size].
      variables: the trainable variables.
      batch: an example-level or user-level batch (``textrec.privacy.sampling``).
      l2_norm_clip: ``C``; noise_multiplier: ``sigma``.
      expected_batch_size: ``q * n_units``, the divisor.
      clipping: "vectorized" or "ghost" (the latter needs ``model``, the Keras model whose
        Dense and Embedding layers ``loss_fn`` runs).
      generator: a ``tf.random.Generator`` for the noise (None: the global one).

    Returns:
      gradients aligned with ``variables``, and a dict with ``loss`` (mean unit loss),
      ``units`` (sampled units) and ``clipped_fraction`` (share of units with norm > C).
      These stats are computed from the private batch without noise: they are *not* DP.
    """
    if clipping not in CLIPPING_METHODS:
        raise ValueError(f"clipping must be one of {CLIPPING_METHODS}, got {clipping!r}")
    if expected_batch_size <= 0:
        raise ValueError(f"expected_batch_size must be positive, got {expected_batch_size}")
    if clipping == "ghost" and model is None:
        raise ValueError("clipping='ghost' needs the model whose layers loss_fn runs")
    features, mask = as_units(batch)

    def sampled():
        if clipping == "vectorized":
            losses, per_unit = per_unit_gradients(loss_fn, variables, features, mask)
            summed, norms = clipped_sum(per_unit, l2_norm_clip)
            return losses, summed, norms
        return ghost_clipped_sum(model, loss_fn, variables, features, mask, l2_norm_clip)

    def empty():  # nobody sampled (probability (1 - q) ** n_units): the update is noise only
        return (tf.zeros([0]), [tf.zeros_like(v) for v in variables], tf.zeros([0]))

    losses, summed, norms = tf.cond(tf.shape(mask)[0] > 0, sampled, empty)
    noisy = add_noise(summed, noise_multiplier, l2_norm_clip, generator)
    gradients = [g / float(expected_batch_size) for g in noisy]
    units = tf.shape(norms)[0]
    stats = {"loss": tf.math.divide_no_nan(tf.reduce_sum(losses), tf.cast(units, tf.float32)),
             "units": units,
             "clipped_fraction": tf.math.divide_no_nan(
                 tf.reduce_sum(tf.cast(norms > l2_norm_clip, tf.float32)),
                 tf.cast(units, tf.float32))}
    return gradients, stats


class DPModel(tf.keras.Model):
    """Trains ``model`` with DP-SGD through Keras ``fit``.

    ``model`` must have ``per_example_losses(features) -> float [batch size]``. Feed ``fit``
    Poisson batches (``textrec.privacy.poisson_batches``) with the same sampling rate the
    accountant is given. ``dp_model(features)`` calls ``model``.

    Args:
      model: the model to train (its variables are trained in place).
      l2_norm_clip: ``C``. None trains *without* DP-SGD (mean loss, plain gradient, no clipping
        or noise): the baseline, on the same batches and optimizer.
      noise_multiplier: ``sigma`` (ignored without ``l2_norm_clip``).
      expected_batch_size: ``q * n_units``; None without DP.
      clipping: "vectorized" or "ghost" (see the module docstring).
      seed: seeds the noise generator (None: nondeterministic).

    Logged: ``loss`` (mean unit loss of the batch), ``units``, ``clipped_fraction``. They are
    read from the private data without noise: fine for debugging, not for publishing.
    """

    def __init__(self, model, l2_norm_clip: float | None = 1.0, noise_multiplier: float = 1.0,
                 expected_batch_size: float | None = None, clipping: str = "vectorized",
                 seed: int | None = None, name: str | None = None):
        super().__init__(name=name)
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            raise ValueError("DPModel runs on one device: under a multi-replica strategy each "
                             "replica would add its own noise to its own part of the sum")
        if not hasattr(model, "per_example_losses"):
            raise ValueError("DPModel needs a model with per_example_losses(features) -> "
                             "float [batch size]")
        if l2_norm_clip is not None:
            if l2_norm_clip <= 0 or noise_multiplier < 0:
                raise ValueError("l2_norm_clip must be positive and noise_multiplier >= 0")
            if not expected_batch_size or expected_batch_size <= 0:
                raise ValueError("DP-SGD needs expected_batch_size = sampling rate x units")
            if clipping not in CLIPPING_METHODS:
                raise ValueError(f"clipping must be one of {CLIPPING_METHODS}, got {clipping!r}")
        self.model = model
        self.l2_norm_clip, self.noise_multiplier = l2_norm_clip, noise_multiplier
        self.expected_batch_size, self.clipping = expected_batch_size, clipping
        self.noise = (tf.random.Generator.from_seed(seed) if seed is not None
                      else tf.random.Generator.from_non_deterministic_state())
        self.trackers = {name: tf.keras.metrics.Mean(name=name)
                         for name in ("loss", "units", "clipped_fraction")}

    @property
    def private(self) -> bool:
        return self.l2_norm_clip is not None

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, features):
        return self.model(features)

    def train_step(self, data):
        variables = self.model.trainable_variables
        if self.private:
            gradients, stats = dp_gradients(
                self.model.per_example_losses, variables, data, self.l2_norm_clip,
                self.noise_multiplier, self.expected_batch_size, self.clipping, self.model,
                self.noise)
        else:
            features, mask = as_units(data)
            with tf.GradientTape() as tape:
                losses = unit_losses(self.model.per_example_losses, features, mask)
                loss = tf.math.divide_no_nan(tf.reduce_sum(losses),
                                             tf.cast(tf.size(losses), tf.float32))
            gradients = tape.gradient(loss, variables,
                                      unconnected_gradients=tf.UnconnectedGradients.ZERO)
            stats = {"loss": loss, "units": tf.size(losses), "clipped_fraction": 0.0}
        self.optimizer.apply_gradients(zip(gradients, variables))
        for name, value in stats.items():
            self.trackers[name].update_state(tf.cast(value, tf.float32))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        features, mask = as_units(data)
        losses = unit_losses(self.model.per_example_losses, features, mask)
        self.trackers["loss"].update_state(tf.reduce_mean(losses))
        return {"loss": self.trackers["loss"].result()}
