"""Fast per-unit clipping: gradient norms without per-unit gradients ("ghost norms").

For a Dense layer ``z = x W + b`` the gradient of one example's loss is ``x^T g`` (``g`` is
the gradient at ``z``), whose squared norm is ``|x|^2 |g|^2``: no [d_in, d_out] matrix per
example is needed. A unit with several rows ``r`` (a user's examples, or an example that calls
the layer twice) has gradient ``sum_r x_r^T g_r`` and squared norm
``sum_{r,s} (x_r . x_s)(g_r . g_s)``, from two small Gram matrices. For an Embedding the
gradient of a unit is the sum of ``g_r`` on the rows it looked up, so its squared norm is the
sum over the distinct (unit, id) pairs of ``|sum of g_r for that id|^2``.

:func:`ghost_clipped_sum` (after Goodfellow 2015, Li et al. 2022, and TF Privacy's
``fast_gradient_clipping``):

1. one forward pass, recording each Dense layer's input and pre-activation output and each
   Embedding layer's ids and output (the layers' ``call`` is swapped for a recording copy);
2. one backward pass to those outputs: ``g`` for every row;
3. per-unit squared norms, summed over layers; clip factors ``min(1, C / norm)``;
4. one more backward pass, of the unit losses weighted by the clip factors: the sum of the
   clipped gradients, without ever holding one gradient per unit.

Assumptions (checked where possible): every trainable variable belongs to a Dense or an
Embedding layer (else ``ValueError``); the model reads the batch row by row, so each layer's
input rows are laid out unit by unit, ``units x rows per unit`` (true when every layer is
applied to features of the batch); units do not interact. The tests compare the result with
the vectorised reference on the course's models.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

from textrec.privacy import clipping

SUPPORTED_LAYERS = (tf.keras.layers.Dense, tf.keras.layers.Embedding)


def trainable_leaf_layers(model):
    """The layers that own trainable variables; ValueError when one is not Dense/Embedding or
    when a trainable variable belongs to none of them."""
    def is_leaf(layer):
        return not any(isinstance(m, tf.keras.layers.Layer) for m in layer.submodules)

    layers = [m for m in model.submodules if isinstance(m, tf.keras.layers.Layer)
              and m.trainable and m.trainable_weights and is_leaf(m)]
    unsupported = [layer.name for layer in layers if not isinstance(layer, SUPPORTED_LAYERS)]
    if unsupported:
        raise ValueError(f"ghost clipping supports Dense and Embedding layers only, not "
                         f"{unsupported}; use clipping='vectorized'")
    owned = {id(v) for layer in layers for v in layer.trainable_weights}
    orphans = [v.name for v in model.trainable_variables if id(v) not in owned]
    if orphans:
        raise ValueError(f"variables outside Dense/Embedding layers: {orphans}; use "
                         "clipping='vectorized'")
    return layers


def _recording_dense(layer, records):
    def call(inputs):
        x = tf.cast(inputs, layer.compute_dtype)
        rows = tf.reshape(x, [-1, tf.shape(x)[-1]])
        z = tf.matmul(rows, layer.kernel)
        if layer.use_bias:
            z = tf.nn.bias_add(z, layer.bias)
        records.append((layer, rows, z))
        out = tf.reshape(z, tf.concat([tf.shape(x)[:-1], [tf.shape(z)[-1]]], 0))
        return layer.activation(out) if layer.activation is not None else out
    return call


def _recording_embedding(layer, records):
    def call(inputs):
        ids = tf.cast(inputs, tf.int64)
        flat_ids = tf.reshape(ids, [-1])
        rows = tf.gather(layer.embeddings, flat_ids)
        records.append((layer, flat_ids, rows))
        return tf.reshape(rows, tf.concat([tf.shape(ids), [tf.shape(rows)[-1]]], 0))
    return call


@contextlib.contextmanager
def recording(layers):
    """Swap each layer's ``call`` for a copy that records (layer, inputs or ids, outputs)."""
    records = []
    saved = {}
    for layer in layers:
        saved[layer] = layer.__dict__.get("call")
        dense = isinstance(layer, tf.keras.layers.Dense)
        maker = _recording_dense if dense else _recording_embedding
        object.__setattr__(layer, "call", maker(layer, records))
    try:
        yield records
    finally:
        for layer, original in saved.items():
            object.__delattr__(layer, "call")
            if original is not None:
                object.__setattr__(layer, "call", original)


def _by_unit(tensor, n_units):
    """[units * rows per unit, d] -> [units, rows per unit, d]."""
    return tf.reshape(tensor, [n_units, -1, tf.shape(tensor)[-1]])


def dense_squared_norms(inputs, output_grads, use_bias: bool):
    """Squared norm of each unit's (kernel, bias) gradient: float [units].

    ``inputs`` [units, rows, d_in], ``output_grads`` [units, rows, d_out]. Uses the Gram form
    when rows^2 <= d_in * d_out, else forms each unit's [d_in, d_out] gradient."""
    rows = tf.shape(inputs)[1]
    size = tf.shape(inputs)[2] * tf.shape(output_grads)[2]

    def gram():
        return tf.reduce_sum(tf.matmul(inputs, inputs, transpose_b=True)
                             * tf.matmul(output_grads, output_grads, transpose_b=True), [1, 2])

    def direct():
        return tf.reduce_sum(tf.square(tf.matmul(inputs, output_grads, transpose_a=True)), [1, 2])

    kernel = tf.cond(rows * rows <= size, gram, direct)
    if not use_bias:
        return kernel
    return kernel + tf.reduce_sum(tf.square(tf.reduce_sum(output_grads, 1)), 1)


def embedding_squared_norms(ids, output_grads, units, n_units, vocabulary: int):
    """Squared norm of each unit's embedding gradient: float [units].

    ``ids`` int64 [rows] in [0, vocabulary), ``output_grads`` [rows, dim], ``units`` int64
    [rows] (the unit of each row). Rows of one unit that look up the same id add up before
    squaring."""
    vocabulary = tf.constant(vocabulary, tf.int64)
    keys, slots = tf.unique(units * vocabulary + ids)
    summed = tf.math.unsorted_segment_sum(output_grads, slots, tf.size(keys))
    return tf.math.unsorted_segment_sum(tf.reduce_sum(tf.square(summed), 1),
                                        keys // vocabulary, n_units)


def _squared_norms(records, output_grads, n_units):
    """Per-unit squared gradient norm summed over all recorded layers: float [units]."""
    total = tf.zeros([n_units], tf.float32)
    layers = []
    for layer, _, _ in records:
        if layer not in layers:
            layers.append(layer)
    for layer in layers:
        mine = [(r, g) for r, g in zip(records, output_grads) if r[0] is layer]
        if isinstance(layer, tf.keras.layers.Dense):
            inputs = tf.concat([_by_unit(r[1], n_units) for r, _ in mine], 1)
            grads = tf.concat([_by_unit(g, n_units) for _, g in mine], 1)
            total += dense_squared_norms(inputs, grads, layer.use_bias)
        else:
            ids = tf.concat([r[1] for r, _ in mine], 0)
            grads = tf.concat([g for _, g in mine], 0)
            units = tf.concat([tf.range(tf.size(r[1]), dtype=tf.int64)
                               // tf.cast(tf.size(r[1]) // n_units, tf.int64) for r, _ in mine], 0)
            total += embedding_squared_norms(ids, grads, units, n_units, layer.input_dim)
    return total


def ghost_clipped_sum(model, loss_fn, variables, features, mask, l2_norm_clip):
    """The sum of per-unit clipped gradients in two backward passes.

    Args: as ``textrec.privacy.dp_sgd.per_unit_gradients``, plus ``model`` (whose Dense/Embedding
    layers ``loss_fn`` calls) and the clip norm ``C``.

    Returns:
      (unit losses [units], clipped gradient sum per variable (dense), norms [units]).
    """
    layers = trainable_leaf_layers(model)
    n_units = tf.shape(mask)[0]
    with tf.GradientTape(persistent=True) as tape:
        with recording(layers) as records:
            losses = clipping.unit_losses(loss_fn, features, mask)
        total = tf.reduce_sum(losses)
    outputs = [r[2] for r in records]
    output_grads = tape.gradient(total, outputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norms = tf.sqrt(tf.maximum(_squared_norms(records, output_grads, n_units), 0.0))
    factors = tf.stop_gradient(clipping.clip_factors(norms, l2_norm_clip))
    grads = tape.gradient(losses, variables, output_gradients=factors,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    del tape
    return losses, [tf.convert_to_tensor(g) for g in grads], norms
