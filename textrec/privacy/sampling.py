"""Poisson-sampled batches, the sampling that the privacy accountant assumes.

DP-SGD's accounting (``textrec.privacy.accounting``) treats every training step as a
*Poisson-subsampled* Gaussian mechanism: at each step, each privacy **unit** joins the batch
independently with probability ``q`` (the sampling rate), so batch sizes vary around
``q * n_units``. Shuffling and cutting into fixed-size batches is a different mechanism; the
numbers the accountant prints would not apply to it. :func:`poisson_batches` samples exactly as
assumed.

Two units of privacy:

* **example-level** (``units=None``): a unit is one row (one review, one interaction). The
  guarantee says the trained weights hardly change when one row is added or removed. A user who
  wrote 30 reviews is protected 30 times less well (group privacy: epsilon grows with the group).
* **user-level** (``units`` = the user of each row): a unit is a user with *all* their rows.
  Each step samples users; the batch holds every row of every sampled user (at most
  ``max_examples_per_unit``, the rest dropped once, up front, at random) and DP-SGD clips the
  gradient of each *user's* loss. The guarantee is then about a whole user joining or leaving.

A user-level batch is a dict of tensors shaped [sampled units, examples per unit, ...] with a
float mask ``UNIT_MASK`` [sampled units, examples per unit] (1 for a real row, 0 for padding).
An example-level batch is a flat dict [sampled examples, ...] without a mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from textrec import config

UNIT_MASK = "dp_unit_mask"


def steps_for_epochs(epochs: float, sampling_rate: float) -> int:
    """Steps that visit each unit ``epochs`` times on average: ``ceil(epochs / q)``."""
    _check_rate(sampling_rate)
    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    return int(math.ceil(epochs / sampling_rate))


def _check_rate(sampling_rate: float) -> None:
    if not 0 < sampling_rate <= 1:
        raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")


def unit_index(units, max_examples_per_unit: int | None = None, seed: int = config.SEED):
    """Rows of each unit, padded with -1: (unit ids [n units], int64 [n units, max rows]).

    Units with more than ``max_examples_per_unit`` rows keep a random subset of that size
    (seeded): bounding each unit's contribution is part of user-level DP.
    """
    units = np.asarray(units)
    keys, inverse = np.unique(units, return_inverse=True)
    rows = [[] for _ in keys]
    for row, unit in enumerate(inverse):
        rows[unit].append(row)
    if max_examples_per_unit is not None:
        if max_examples_per_unit <= 0:
            raise ValueError(f"max_examples_per_unit must be positive, got {max_examples_per_unit}")
        rng = np.random.default_rng(seed)
        rows = [sorted(rng.choice(r, max_examples_per_unit, replace=False))
                if len(r) > max_examples_per_unit else r for r in rows]
    width = max(len(r) for r in rows)
    index = np.full((len(keys), width), -1, np.int64)
    for unit, unit_rows in enumerate(rows):
        index[unit, :len(unit_rows)] = unit_rows
    return keys, index


def poisson_batches(features: Mapping[str, np.ndarray], sampling_rate: float, steps: int,
                    units=None, max_examples_per_unit: int | None = None, seed: int = config.SEED,
                    map_batch: Callable | None = None) -> tf.data.Dataset:
    """A dataset of ``steps`` Poisson-sampled batches of ``features``.

    Args:
      features: equal-length arrays, one row per example (e.g. review vectors and labels).
      sampling_rate: ``q``, the probability that a unit is in a given batch.
      steps: the number of batches (see :func:`steps_for_epochs`).
      units: None for example-level sampling, or the unit (user) of each row for user-level.
      max_examples_per_unit: user-level only: at most this many rows per unit.
      seed: batch ``t`` is drawn with the stateless seed ``(seed, t)``: reruns are identical.
      map_batch: ``f(batch, seed)`` applied to each batch (e.g. :func:`negative_sampler`);
        ``seed`` is an int32 [2] tensor for stateless random ops.

    Returns batches as described in the module docstring. A batch may be empty.
    """
    _check_rate(sampling_rate)
    lengths = {len(v) for v in features.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"features must be non-empty arrays of one length; got lengths {lengths}")
    tensors = {key: tf.constant(np.asarray(value)) for key, value in features.items()}
    n_rows = lengths.pop()
    if units is not None:
        if len(units) != n_rows:
            raise ValueError(f"units has {len(units)} entries for {n_rows} rows")
        index = tf.constant(unit_index(units, max_examples_per_unit, seed)[1])
    rate = tf.constant(sampling_rate, tf.float32)

    def batch(step):
        step_seed = tf.stack([tf.constant(seed % 2**31, tf.int32), tf.cast(step, tf.int32)])
        if units is None:
            keep = tf.random.stateless_uniform([n_rows], seed=step_seed) < rate
            rows = tf.where(keep)[:, 0]
            out = {key: tf.gather(value, rows) for key, value in tensors.items()}
        else:
            keep = tf.random.stateless_uniform([tf.shape(index)[0]], seed=step_seed) < rate
            rows = tf.gather(index, tf.where(keep)[:, 0])  # [sampled units, max rows]
            out = {key: tf.gather(value, tf.maximum(rows, 0)) for key, value in tensors.items()}
            out[UNIT_MASK] = tf.cast(rows >= 0, tf.float32)
        if map_batch is not None:
            out = map_batch(out, step_seed + tf.constant([0, 1_000_003], tf.int32))
        return out

    return tf.data.Dataset.range(steps).map(batch).prefetch(tf.data.AUTOTUNE)
