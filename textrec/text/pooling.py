"""Turning a transformer's token vectors into one sentence vector.

Sentence encoders such as all-MiniLM-L6-v2 were trained with *masked mean pooling*: average
the last hidden states of the real tokens (attention mask 1), ignoring the padding, then scale
the result to unit length so that a dot product is a cosine similarity.
"""

from __future__ import annotations

import tensorflow as tf


def mean_pool(token_embeddings, attention_mask) -> tf.Tensor:
    """Average the token vectors of each text, skipping padding.

    Args:
      token_embeddings: float tensor of shape [batch size, sequence length, hidden size], the
        encoder's last hidden states.
      attention_mask: tensor of shape [batch size, sequence length], 1 for a real token and 0
        for padding (any numeric or bool dtype).

    Returns:
      A float tensor of shape [batch size, hidden size]: for each text the sum of its real
      token vectors divided by the number of real tokens. A row with no real token gives zeros
      (the count is clipped at a tiny epsilon, so it never divides by zero).
    """
    token_embeddings = tf.convert_to_tensor(token_embeddings)
    mask = tf.cast(attention_mask, token_embeddings.dtype)[:, :, tf.newaxis]
    summed = tf.reduce_sum(token_embeddings * mask, axis=1)
    counts = tf.maximum(tf.reduce_sum(mask, axis=1), tf.keras.backend.epsilon())
    return summed / counts


def l2_normalize(x, epsilon: float = 1e-12) -> tf.Tensor:
    """Scale each row of ``x`` (shape [batch size, dimension]) to unit Euclidean length.

    A row of zeros stays zeros (its squared norm is clipped at ``epsilon``).
    """
    return tf.math.l2_normalize(tf.convert_to_tensor(x), axis=-1, epsilon=epsilon)
