"""Models whose loss is a sum of per-example terms, as DP-SGD needs.

* :class:`SentimentHead`: P(positive) from a review's frozen text vector (logistic regression,
  or an MLP with ``hidden_units``). An example is one review and reads only its own vector,
  so example-level DP protects each review.
* :class:`SampledSoftmaxRetrieval`: the course's query and candidate towers, trained with a
  softmax over each example's own positive item and ``n`` negatives drawn uniformly from the
  catalogue (:func:`negative_sampler`). The two-tower model of lesson 04 uses the *other
  examples of the batch* as negatives: there one user's item appears in everyone's loss, so
  clipping per example would not bound a user's influence. Uniform negatives depend on no one.

The query tower reads the user's interest vector as a feature (``QUERY_VECTOR``), not from a
table inside the model: the vector is computed from the user's own reviews, so keeping it out
of the weights keeps it out of what is released. It also means one review changes every
example of its author (through their interest vector): train it with *user-level* DP-SGD.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from textrec.data import schema
from textrec.models.joint import REVIEW_VECTOR
from textrec.models.towers import QUERY_VECTOR, CandidateTower, QueryTower

NEGATIVES = "negative_items"
LABEL = schema.SENTIMENT


class SentimentHead(tf.keras.Model):
    """Logits of P(positive) from frozen review vectors.

    Features: ``REVIEW_VECTOR`` float [batch size, text dim]; for the loss, ``LABEL`` (1
    positive, 0 negative) [batch size]. ``model(features)`` returns logits [batch size].
    ``class_weights``: ``{0: weight of a negative review, 1: of a positive one}`` (e.g.
    ``textrec.text.class_weights(labels)``), or None for equal weights. Under DP-SGD a weight
    only acts below the clip norm: a weighted gradient is clipped like any other.
    """

    def __init__(self, hidden_units=(), class_weights=None, name: str | None = "sentiment_head"):
        super().__init__(name=name)
        weights = class_weights or {0: 1.0, 1: 1.0}
        self.class_weights = tf.constant([float(weights[0]), float(weights[1])], tf.float32)
        self.hidden_layers = [tf.keras.layers.Dense(units, activation="relu")
                              for units in hidden_units]
        self.output_layer = tf.keras.layers.Dense(1)

    def call(self, features):
        x = tf.cast(features[REVIEW_VECTOR], tf.float32)
        for layer in self.hidden_layers:
            x = layer(x)
        return tf.squeeze(self.output_layer(x), -1)

    def per_example_losses(self, features, weighted: bool = True):
        """Binary cross-entropy of each review, times its class weight unless ``weighted`` is
        False: float [batch size]."""
        labels = tf.cast(tf.reshape(features[LABEL], [-1]), tf.float32)
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels, self(features))
        if not weighted:
            return losses
        return tf.gather(self.class_weights, tf.cast(labels, tf.int32)) * losses

    def predict_proba(self, vectors, batch_size: int = 4096) -> np.ndarray:
        """P(positive) of each row of ``vectors`` [n, text dim]: float array [n]."""
        vectors = np.asarray(vectors, np.float32)
        parts = [tf.sigmoid(self({REVIEW_VECTOR: vectors[i:i + batch_size]})).numpy()
                 for i in range(0, len(vectors), batch_size)]
        return np.concatenate(parts) if parts else np.zeros(0)


class SampledSoftmaxRetrieval(tf.keras.Model):
    """A query tower and a candidate tower; each example's loss is a softmax over its own item
    and its own negatives.

    Features: ``QUERY_VECTOR`` float [batch size, text dim], ``schema.ITEM`` string ids
    [batch size] and, for the loss, ``NEGATIVES`` string ids [batch size, negatives]. A
    negative equal to the positive is masked out.
    """

    def __init__(self, query_model, candidate_model, name: str | None = "dp_retrieval"):
        super().__init__(name=name)
        self.query_model, self.candidate_model = query_model, candidate_model

    def call(self, features):
        queries = self.query_model({QUERY_VECTOR: features[QUERY_VECTOR]})
        candidates = self.candidate_model(tf.reshape(features[schema.ITEM], [-1]))
        return tf.reduce_sum(queries * candidates, -1)

    def per_example_losses(self, features):
        """Softmax cross-entropy of the positive against the negatives: float [batch size]."""
        positives = tf.reshape(features[schema.ITEM], [-1])
        negatives = features[NEGATIVES]
        queries = self.query_model({QUERY_VECTOR: features[QUERY_VECTOR]})   # [batch, dim]
        positive = self.candidate_model(positives)                            # [batch, dim]
        shape = tf.shape(negatives)
        negative = tf.reshape(self.candidate_model(tf.reshape(negatives, [-1])),
                              [shape[0], shape[1], -1])                       # [batch, n, dim]
        negative_logits = tf.einsum("bd,bnd->bn", queries, negative)
        accidental = tf.equal(negatives, positives[:, None])
        negative_logits = tf.where(accidental, -1e9, negative_logits)
        logits = tf.concat([tf.reduce_sum(queries * positive, -1, keepdims=True),
                            negative_logits], 1)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(tf.zeros(shape[0], tf.int32), logits)

    def score_matrix(self, query_vectors, item_ids, batch_size: int = 1024) -> np.ndarray:
        """Scores of every user (rows of ``query_vectors`` [n users, dim]) for every item:
        float32 [n users, len(item_ids)]."""
        query_vectors = np.asarray(query_vectors, np.float32)
        items = self.candidate_model(tf.constant([str(i) for i in item_ids])).numpy()
        queries = [self.query_model({QUERY_VECTOR: query_vectors[i:i + batch_size]}).numpy()
                   for i in range(0, len(query_vectors), batch_size)]
        return (np.concatenate(queries) @ items.T).astype(np.float32)


def retrieval_model(item_ids, text_dim: int, embedding_dim: int = 32, item_text_vectors=None,
                    use_item_ids: bool = True, hidden_units=()) -> SampledSoftmaxRetrieval:
    """A :class:`SampledSoftmaxRetrieval` from the course's towers.

    The query tower maps the interest vector (a feature, ``text_dim`` wide) through
    ``hidden_units`` to ``embedding_dim``. The candidate tower learns an item id embedding
    (``use_item_ids``) and reads ``item_text_vectors`` (e.g. product descriptions: public text,
    not reviews, which would carry other users' words into the model) when given.
    """
    query = QueryTower(["unused"], embedding_dim, hidden_units=hidden_units, use_ids=False,
                       text_dim=text_dim)
    candidate = CandidateTower([str(i) for i in item_ids], embedding_dim,
                               item_text_vectors=item_text_vectors, hidden_units=hidden_units,
                               use_ids=use_item_ids, use_text=item_text_vectors is not None)
    return SampledSoftmaxRetrieval(query, candidate)


def negative_sampler(item_ids, n_negatives: int):
    """``map_batch`` for ``poisson_batches``: adds ``NEGATIVES``, ``n_negatives`` item ids per
    example drawn uniformly from ``item_ids`` (shape: the ``schema.ITEM`` shape + [n])."""
    if n_negatives <= 0:
        raise ValueError(f"n_negatives must be positive, got {n_negatives}")
    catalogue = tf.constant([str(i) for i in item_ids])

    def add_negatives(batch, seed):
        shape = tf.concat([tf.shape(batch[schema.ITEM]), [n_negatives]], 0)
        draws = tf.random.stateless_uniform(shape, seed, 0, tf.size(catalogue), tf.int32)
        return {**batch, NEGATIVES: tf.gather(catalogue, draws)}
    return add_negatives
