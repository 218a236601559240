"""What a user did next: a causal transformer over each user's items in time order (SASRec),
with the items known by their id, by their text, or by both (UniSRec).

For a user's items ``s_1 .. s_n`` (oldest first, left-padded to ``max_length``):

    x_t = LayerNorm(e(s_t) + p_t)                       item representation + position
    h_t = Transformer(x_1 .. x_t)                        causal: position t reads 1..t only
    P(s_{t+1} = i | s_1 .. s_t) = softmax_i(h_t . e(i))  over every item the model trains on

``e(i)``, the item's representation [d]:

* ``"ids"``: a learned embedding row (random at start);
* ``"text"``: the item's frozen text vector ``x_i`` (the mean encoder vector of the reviews
  the model may read) through a learned adaptor, a mixture of ``K`` parametric whitenings
  ``sum_k g_k(x_i) (x_i - b_k) W_k`` with the gate ``g(x) = softmax(x W_g)``, every ``b_k``
  starting at the mean text vector of the items that have one;
* ``"text+ids"``: both, summed; the id rows start at zero, so an item nobody chose is its text.

The loss is the softmax cross-entropy of the next item at every position over the items of the
fit (``trained_items``: items never seen in the fit are left out of the training softmax, as a
catalogue that grew after training would be), averaged per user, plus ``l2`` times the mean
squared norm of those items' representations; dropout on the inputs and inside the blocks.
Scoring reads the last position and scores every item, new ones included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec.data import sequences as sequence_data
from textrec.models.losses import average_loss

REPRESENTATIONS = ("ids", "text", "text+ids")
NEGATIVE = -1e9  # the logit of an item left out of the training softmax


def causal_attention_mask(history):
    """Which positions each position may read: bool [B, L, L], ``mask[b, t, s]`` true when
    ``s <= t`` (never the future) and ``history[b, s]`` is an item (not padding); a padding
    position reads only itself (so that it, too, never sees the future)."""
    length = tf.shape(history)[1]
    past = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)   # [L, L], s <= t
    itself = tf.eye(length, dtype=tf.bool)                                   # [L, L], s == t
    is_item = tf.not_equal(history, sequence_data.PAD)[:, None, :]          # [B, 1, L]
    return tf.logical_or(tf.logical_and(past[None, :, :], is_item), itself[None, :, :])


def mixture_of_whitenings(text, gate_kernel, biases, kernels):
    """``sum_k softmax(x W_g)_k (x - b_k) W_k`` for each row ``x`` of ``text`` [N, D]:
    [N, d], with ``gate_kernel`` W_g [D, K], ``biases`` b [K, D] and ``kernels`` W [K, D, d]."""
    text = tf.cast(text, tf.float32)
    gates = tf.nn.softmax(tf.matmul(text, gate_kernel), axis=-1)                 # [N, K]
    whitened = text[:, None, :] - biases[None, :, :]                             # [N, K, D]
    experts = tf.einsum("nkd,kdo->nko", whitened, kernels)                       # [N, K, d]
    return tf.einsum("nk,nko->no", gates, experts)                               # [N, d]


class TextAdaptor(tf.keras.layers.Layer):
    """A mixture of ``n_experts`` parametric whitenings of frozen text vectors:
    [N, text dim] -> [N, output_dim], ``sum_k softmax(x W_g)_k (x - b_k) W_k``; every ``b_k``
    starts at ``centre`` (the mean text vector: whitening starts by centring), else at 0."""

    def __init__(self, output_dim: int, n_experts: int = 4, dropout: float = 0.0,
                 centre=None, **kwargs):
        super().__init__(**kwargs)
        if n_experts < 1:
            raise ValueError(f"n_experts must be at least 1, got {n_experts}")
        self.output_dim, self.n_experts = int(output_dim), int(n_experts)
        self.centre = None if centre is None else np.asarray(centre, np.float32)
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.gate = tf.keras.layers.Dense(self.n_experts, use_bias=False, name="gate")

    def build(self, input_shape):
        text_dim = int(input_shape[-1])
        self.gate.build(input_shape)
        start = ("zeros" if self.centre is None else tf.keras.initializers.Constant(
            np.tile(self.centre, (self.n_experts, 1))))
        self.biases = self.add_weight(name="biases", shape=(self.n_experts, text_dim),
                                      initializer=start)
        self.kernels = self.add_weight(name="kernels",
                                       shape=(self.n_experts, text_dim, self.output_dim),
                                       initializer="glorot_uniform")
        super().build(input_shape)

    def call(self, text, training=False):
        text = self.dropout(tf.cast(text, tf.float32), training=training)
        return mixture_of_whitenings(text, self.gate.kernel, self.biases, self.kernels)


class ItemRepresentation(tf.keras.layers.Layer):
    """The table of item representations ``e(i)``, [n items + 1, d], row 0 (padding) zero.

    representation: "ids", "text" or "text+ids"; text_vectors: float [n items, text dim]
    (item order; zeros for an item without text), needed unless ``representation == "ids"``.
    """

    def __init__(self, n_items: int, embedding_dim: int, representation: str = "text+ids",
                 text_vectors=None, n_experts: int = 4, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, "
                             f"got {representation!r}")
        self.representation = representation
        self.uses_ids, self.uses_text = "ids" in representation, "text" in representation
        self.n_items, self.embedding_dim = int(n_items), int(embedding_dim)
        if self.uses_ids:
            start = (tf.keras.initializers.RandomNormal(stddev=0.05) if not self.uses_text
                     else "zeros")
            self.id_embedding = tf.keras.layers.Embedding(self.n_items + 1, self.embedding_dim,
                                                          embeddings_initializer=start,
                                                          name="id_embedding")
        if self.uses_text:
            if text_vectors is None:
                raise ValueError(f"the {representation!r} representation needs text_vectors "
                                 "[n items, text dim]")
            text_vectors = np.asarray(text_vectors, np.float32)
            if text_vectors.shape[0] != self.n_items or text_vectors.ndim != 2:
                raise ValueError(f"text_vectors must be [{self.n_items}, text dim], got "
                                 f"{text_vectors.shape}")
            if not np.isfinite(text_vectors).all():
                raise ValueError("text_vectors contain NaN or infinite values")
            padded = np.concatenate([np.zeros((1, text_vectors.shape[1]), np.float32),
                                     text_vectors])
            self.text_vectors = tf.constant(padded)                              # frozen
            described = np.linalg.norm(text_vectors, axis=1) > 0
            centre = text_vectors[described].mean(0) if described.any() else None
            self.adaptor = TextAdaptor(self.embedding_dim, n_experts, dropout, centre,
                                       name="adaptor")
        self.is_item = tf.constant([0.0] + [1.0] * self.n_items)[:, None]        # row 0: padding

    def table(self, training=False):
        """The representations of every item: float [n items + 1, d], row 0 zeros."""
        table = tf.zeros([self.n_items + 1, self.embedding_dim])
        if self.uses_text:
            table += self.adaptor(self.text_vectors, training=training)
        if self.uses_ids:
            table += self.id_embedding(tf.range(self.n_items + 1))
        return table * self.is_item                                             # [n + 1, d]


class CausalBlock(tf.keras.layers.Layer):
    """Self-attention over the past, then a position-wise feed-forward layer, each with a
    residual connection, dropout and layer normalisation: [B, L, d] -> [B, L, d]."""

    def __init__(self, embedding_dim: int, n_heads: int = 2, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if embedding_dim % n_heads:
            raise ValueError(f"embedding_dim {embedding_dim} must be a multiple of n_heads "
                             f"{n_heads}")
        self.attention = tf.keras.layers.MultiHeadAttention(
            n_heads, embedding_dim // n_heads, dropout=dropout, name="attention")
        self.feed_forward = tf.keras.Sequential(
            [tf.keras.layers.Dense(2 * embedding_dim, activation="gelu"),
             tf.keras.layers.Dense(embedding_dim)], name="feed_forward")
        self.attention_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.output_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.dropout = tf.keras.layers.Dropout(dropout)

    def call(self, x, mask, training=False):
        attended = self.attention(x, x, attention_mask=mask, training=training)
        x = self.attention_norm(x + self.dropout(attended, training=training))
        return self.output_norm(x + self.dropout(self.feed_forward(x), training=training))


class SequenceModel(tfrs.Model):
    """A causal transformer that scores every item as a user's next one.

    Features: ``HISTORY`` and ``NEXT``, int [B, max_length] item numbers (1 + position in
    ``item_ids``; 0 pads on the left), see :mod:`textrec.data.sequences`.

    Args:
      item_ids: the item order [n items] (scores come in this order).
      text_vectors: float [n items, text dim], the items' frozen text vectors (not for "ids").
      representation: "ids", "text" or "text+ids".
      trained_items: bool [n items], the items of the training softmax (default: all).
      max_length, embedding_dim, n_layers, n_heads, dropout, n_experts: the architecture.
      l2: weight of the mean squared norm of the trained items' representations.
    """

    def __init__(self, item_ids, text_vectors=None, representation: str = "text+ids",
                 trained_items=None, max_length: int = 50, embedding_dim: int = 64,
                 n_layers: int = 2, n_heads: int = 2, dropout: float = 0.2, n_experts: int = 4,
                 l2: float = 0.0):
        super().__init__()
        self.item_ids = np.asarray([str(i) for i in item_ids], dtype=object)
        self.max_length, self.l2 = int(max_length), float(l2)
        n_items = len(self.item_ids)
        trained = np.ones(n_items, bool) if trained_items is None else np.asarray(trained_items,
                                                                                   bool)
        if trained.shape != (n_items,) or not trained.any():
            raise ValueError(f"trained_items must be a bool mask over the {n_items} items with "
                             "at least one item")
        self.trained_items = tf.constant(trained)
        self.items = ItemRepresentation(n_items, embedding_dim, representation, text_vectors,
                                        n_experts, dropout, name="items")
        self.positions = tf.keras.layers.Embedding(self.max_length, embedding_dim,
                                                   name="positions")
        self.input_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.input_dropout = tf.keras.layers.Dropout(dropout)
        self.blocks = [CausalBlock(embedding_dim, n_heads, dropout, name=f"block_{n}")
                       for n in range(n_layers)]

    @property
    def representation(self) -> str:
        return self.items.representation

    def encode(self, history, table, training=False):
        """Hidden states h [B, L, d] of item numbers ``history`` [B, L], given the item table
        [n items + 1, d]."""
        history = tf.cast(history, tf.int32)
        x = tf.gather(table, history) + self.positions(tf.range(tf.shape(history)[1]))[None]
        x = self.input_dropout(self.input_norm(x), training=training)
        mask = causal_attention_mask(history)
        for block in self.blocks:
            x = block(x, mask, training=training)
        return x

    def logits(self, history, training=False):
        """Scores of every item at every position: float [B, L, n items]."""
        table = self.items.table(training)
        return tf.einsum("bld,nd->bln", self.encode(history, table, training), table[1:])

    def call(self, history, training=False):
        """Scores of every item as the next one after the last position: [B, n items]."""
        return self.logits(history, training)[:, -1, :]

    def compute_loss(self, features, training=False):
        table = self.items.table(training)
        hidden = self.encode(features[sequence_data.HISTORY], table, training)
        logits = tf.einsum("bld,nd->bln", hidden, table[1:])                    # [B, L, n]
        logits = tf.where(self.trained_items[None, None, :], logits, NEGATIVE)
        following = tf.cast(features[sequence_data.NEXT], tf.int32)             # [B, L]
        is_target = tf.cast(following > 0, tf.float32)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.maximum(following - 1, 0), logits=logits) * is_target      # [B, L]
        per_user = tf.reduce_sum(cross_entropy, 1) / tf.maximum(tf.reduce_sum(is_target, 1), 1)
        trained_rows = tf.boolean_mask(table[1:], self.trained_items)
        penalty = tf.reduce_mean(tf.reduce_sum(trained_rows ** 2, -1))
        return average_loss(per_user) + self.l2 * penalty

    # -- scoring ---------------------------------------------------------------------------
    def score_histories(self, histories, batch_size: int = 512) -> np.ndarray:
        """Next-item scores of left-padded ``histories`` int [n, max_length]: float32
        [n, n items] in ``item_ids`` order."""
        histories = np.asarray(histories, np.int32)
        if histories.ndim != 2 or histories.shape[1] != self.max_length:
            raise ValueError(f"histories must be [n, {self.max_length}], got {histories.shape}")
        out = [self._next_scores(tf.constant(histories[start:start + batch_size])).numpy()
               for start in range(0, len(histories), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.item_ids)), np.float32)

    @tf.function(reduce_retracing=True)
    def _next_scores(self, histories):
        table = self.items.table(False)
        hidden = self.encode(histories, table)[:, -1, :]
        return tf.matmul(hidden, table[1:], transpose_b=True)

    def score_users(self, history: pd.DataFrame, user_ids) -> np.ndarray:
        """Scores [len(user_ids), n items] of each user's next item after their items in
        ``history`` (a reviews frame; users without a row read an empty history)."""
        sequences = sequence_data.user_sequences(history, user_ids, self.item_ids)
        return self.score_histories(sequence_data.left_padded(sequences, self.max_length))
