"""From per-example losses to the training loss, the same on one device or many.

Every model here computes a loss per example (a float tensor [batch size]) and averages it with
:func:`average_loss`. On one device that is the plain mean. Under a multi-replica
``tf.distribute`` strategy each replica sees a slice of the global batch and the optimizer
*sums* the replicas' gradients, so each replica must divide its sum by the *global* batch size:
``tf.nn.compute_average_loss`` does exactly that. Keras does it for losses given to
``compile()``; a ``tfrs.Model`` computes its own loss, so it has to do it itself.

Because the loss is a mean over examples (not TFRS's default sum), its size does not depend on
the batch size, and the terms of a multi-task loss are on comparable scales.
"""

from __future__ import annotations

import tensorflow as tf


def average_loss(per_example_losses):
    """Mean of ``per_example_losses`` (float [batch size]) over the global batch: a scalar.

    Examples with zero weight still count in the denominator (as Keras's ``sum over batch
    size`` does). Called outside any replica context (e.g. directly inside
    ``strategy.scope()``), it is the plain mean of the local batch.
    """
    per_example_losses = tf.reshape(tf.cast(per_example_losses, tf.float32), [-1])
    if tf.distribute.get_replica_context() is None:
        return tf.math.divide_no_nan(tf.reduce_sum(per_example_losses),
                                     tf.cast(tf.size(per_example_losses), tf.float32))
    return tf.nn.compute_average_loss(per_example_losses)


def local_mean(per_example_losses):
    """The plain mean over this replica's examples: a scalar, for reporting (not for gradients)."""
    per_example_losses = tf.reshape(tf.cast(per_example_losses, tf.float32), [-1])
    return tf.math.divide_no_nan(tf.reduce_sum(per_example_losses),
                                 tf.cast(tf.size(per_example_losses), tf.float32))
