"""Clipping helpers shared by DP-SGD's two ways of computing a clipped gradient sum
(``textrec.privacy.dp_sgd``: every unit's gradient; ``textrec.privacy.ghost``: only its norm):
units of examples, each unit's loss, gradient norms and clip factors."""

from __future__ import annotations

import tensorflow as tf

from textrec.privacy.sampling import UNIT_MASK


def as_units(batch):
    """(features [units, examples per unit, ...], mask float [units, examples per unit]).

    A flat example-level batch becomes units of one example each."""
    batch = dict(batch)
    if UNIT_MASK in batch:
        mask = tf.cast(batch.pop(UNIT_MASK), tf.float32)
        return batch, mask
    features = {key: tf.expand_dims(value, 1) for key, value in batch.items()}
    first = next(iter(features.values()))
    return features, tf.ones(tf.shape(first)[:2], tf.float32)


def flatten_units(features):
    """[units, examples per unit, ...] -> [units * examples per unit, ...]."""
    return {key: tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], 0))
            for key, value in features.items()}


def unit_losses(loss_fn, features, mask):
    """Each unit's loss: the mean of its real examples' losses, float [units]."""
    losses = tf.reshape(loss_fn(flatten_units(features)), tf.shape(mask))
    return tf.reduce_sum(losses * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def global_norms(per_unit_grads):
    """L2 norm of each unit's gradient over all variables together: float [units]."""
    squares = [tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(g)[0], -1]), axis=1)
               for g in per_unit_grads]
    return tf.sqrt(tf.add_n(squares))


def clip_factors(norms, l2_norm_clip):
    """``min(1, C / norm)`` per unit (1 for a zero gradient): float [units]."""
    clip = tf.cast(l2_norm_clip, norms.dtype)
    return clip / tf.maximum(norms, clip)
