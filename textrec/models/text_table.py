"""Fixed text vectors looked up by id: how precomputed text enters a model.

Text reaches the models as vectors computed beforehand (a user's interest vector, an item's
text vector), one per id. They come in one of three forms, all accepted wherever a model asks
for text vectors:

* a mapping ``{id: vector}``;
* a pair ``(ids, matrix)``: ids [n] and a float matrix [n, dim], one row per id;
* an object with ``.ids`` and ``.vectors`` attributes (such as ``textrec.interests.TextVectors``).

:func:`as_id_matrix` turns any of them into ``(ids, matrix)``; :func:`stack_vectors` lines the
rows up with a given id order (NumPy only); :class:`TextVectorTable` is the Keras layer that
looks them up inside a model, as a non-trainable table whose unknown ids get zero vectors.

Per-review vectors (one per row of a reviews frame, not per id) travel with their reviews in
:class:`textrec.data.review_vectors.ReviewVectors`, which checks the row alignment once.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf


def as_id_matrix(vectors) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, matrix)`` from any accepted form: string ids [n] and float32 [n, dim]."""
    if isinstance(vectors, Mapping):
        ids = list(vectors.keys())
        matrix = np.stack([np.asarray(vectors[key], np.float32).ravel() for key in ids]) \
            if ids else np.zeros((0, 0), np.float32)
    elif hasattr(vectors, "ids") and hasattr(vectors, "vectors"):
        ids, matrix = vectors.ids, vectors.vectors
    elif isinstance(vectors, tuple) and len(vectors) == 2:
        ids, matrix = vectors
    else:
        raise ValueError(
            "text vectors must be a mapping {id: vector}, a pair (ids, matrix) or an object "
            f"with .ids and .vectors; got {type(vectors).__name__}")
    ids = np.asarray([str(key) for key in ids], dtype=object)
    matrix = np.asarray(matrix, np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise ValueError(f"text vectors: {len(ids)} ids but a matrix of shape {matrix.shape}; "
                         "expected one row per id")
    if len(ids) == 0:
        raise ValueError("text vectors are empty: give at least one id")
    if len(set(ids)) != len(ids):
        raise ValueError("text vectors hold the same id twice")
    if not np.isfinite(matrix).all():
        raise ValueError("text vectors contain NaN or infinite values")
    return ids, matrix


def stack_vectors(vectors, ids) -> np.ndarray:
    """The vectors of ``ids`` in that order: float32 [len(ids), dim]; unknown ids get zeros."""
    known_ids, matrix = as_id_matrix(vectors)
    position = {key: row for row, key in enumerate(known_ids)}
    rows = np.array([position.get(str(key), -1) for key in ids], np.int64)
    out = np.zeros((len(rows), matrix.shape[1]), np.float32)
    out[rows >= 0] = matrix[rows[rows >= 0]]
    return out


class TextVectorTable(tf.keras.layers.Layer):
    """A non-trainable table of text vectors keyed by string id.

    Call it with ids, a string tensor [batch size]; it returns their vectors, a float tensor
    [batch size, text dim]. An id not in the table (a new user or item) gets a zero vector.
    """

    def __init__(self, vectors, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        ids, matrix = as_id_matrix(vectors)
        self.dim = int(matrix.shape[1])
        self.lookup = tf.keras.layers.StringLookup(
            vocabulary=list(ids), mask_token=None, num_oov_indices=1)
        # Row 0 is the out-of-vocabulary row: zeros.
        table = np.concatenate([np.zeros((1, self.dim), np.float32), matrix])
        self.table = tf.keras.layers.Embedding(
            len(table), self.dim, trainable=False,
            embeddings_initializer=tf.keras.initializers.Constant(table))

    def call(self, ids):
        return self.table(self.lookup(tf.reshape(ids, [-1])))

    def assign(self, vectors) -> None:
        """Replace the table's vectors with new ones for the same ids (e.g. after the encoder
        that made them was trained); any accepted form, ids in any order."""
        known = self.lookup.get_vocabulary()[1:]            # index 0 is the OOV row
        ids, matrix = as_id_matrix(vectors)
        if sorted(ids) != sorted(known) or matrix.shape[1] != self.dim:
            raise ValueError(f"new text vectors must cover the same {len(known)} ids with "
                             f"{self.dim} dims; got {len(ids)} ids x {matrix.shape[1]}")
        position = {key: row for row, key in enumerate(ids)}
        ordered = matrix[[position[key] for key in known]]
        self.table.embeddings.assign(np.concatenate([np.zeros((1, self.dim), np.float32),
                                                     ordered]))

