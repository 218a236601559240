"""Collaborative filtering by matrix factorisation: ids only, no text.

* :class:`MatrixFactorization` predicts explicit ratings,
  ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i``: a global mean, a user bias, an item bias and
  the dot product of a user and an item factor vector. It is trained on squared error with an
  L2 penalty on the factors and biases of the batch's users and items, through
  ``tfrs.tasks.Ranking`` (which reports RMSE).
* :class:`ImplicitMatrixFactorization` learns from implicit feedback (who interacted with what):
  the same dot product ``p_u . q_i``, but trained as retrieval with an in-batch softmax, i.e.
  a two-tower model whose towers are plain id embeddings.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec.data import schema
from textrec.models.losses import average_loss
from textrec.models.retrieval import TwoTowerModel
from textrec.models.towers import CandidateTower, QueryTower


def _lookup_and_embedding(vocabulary, width: int, initializer, name: str):
    vocabulary = [str(v) for v in vocabulary]
    if not vocabulary:
        raise ValueError(f"the {name} vocabulary is empty")
    lookup = tf.keras.layers.StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=1)
    embedding = tf.keras.layers.Embedding(len(vocabulary) + 1, width,
                                          embeddings_initializer=initializer, name=name)
    return lookup, embedding


class MatrixFactorization(tfrs.Model):
    """Biased matrix factorisation for ratings.

    Features: ``schema.USER`` and ``schema.ITEM`` string ids [batch size] and, for training,
    ``schema.RATING`` float [batch size]. ``model(features)`` returns predicted ratings, float
    [batch size]. Unknown users and items share an out-of-vocabulary row (bias and factors).

    Args:
      user_vocabulary, item_vocabulary: the known ids.
      embedding_dim: number of latent factors.
      global_mean: mu, usually the mean train rating.
      l2: weight of the penalty ``|p_u|^2 + |q_i|^2 + b_u^2 + b_i^2`` added to each example's
        squared error.
    """

    def __init__(self, user_vocabulary, item_vocabulary, embedding_dim: int = 32,
                 global_mean: float = 0.0, l2: float = 1e-4, name: str | None = None):
        super().__init__(name=name)
        self.user_lookup, self.user_factors = _lookup_and_embedding(
            user_vocabulary, embedding_dim, tf.keras.initializers.RandomNormal(stddev=0.05),
            "user_factors")
        self.item_lookup, self.item_factors = _lookup_and_embedding(
            item_vocabulary, embedding_dim, tf.keras.initializers.RandomNormal(stddev=0.05),
            "item_factors")
        _, self.user_bias = _lookup_and_embedding(user_vocabulary, 1, "zeros", "user_bias")
        _, self.item_bias = _lookup_and_embedding(item_vocabulary, 1, "zeros", "item_bias")
        self.global_mean = float(global_mean)
        self.l2 = float(l2)
        self.rating_task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE),
            metrics=[tf.keras.metrics.RootMeanSquaredError(name="rmse")])

    def _parts(self, features):
        users = self.user_lookup(tf.reshape(features[schema.USER], [-1]))
        items = self.item_lookup(tf.reshape(features[schema.ITEM], [-1]))
        return (self.user_factors(users), self.item_factors(items),
                self.user_bias(users)[:, 0], self.item_bias(items)[:, 0])

    def call(self, features):
        user_factors, item_factors, user_bias, item_bias = self._parts(features)
        interaction = tf.reduce_sum(user_factors * item_factors, axis=-1)
        return self.global_mean + user_bias + item_bias + interaction

    def compute_loss(self, features, training: bool = False):
        user_factors, item_factors, user_bias, item_bias = self._parts(features)
        predictions = (self.global_mean + user_bias + item_bias
                       + tf.reduce_sum(user_factors * item_factors, axis=-1))
        labels = tf.cast(tf.reshape(features[schema.RATING], [-1]), tf.float32)
        squared_errors = self.rating_task(labels=labels[:, None], predictions=predictions[:, None])
        penalty = (tf.reduce_sum(user_factors ** 2, -1) + tf.reduce_sum(item_factors ** 2, -1)
                   + user_bias ** 2 + item_bias ** 2)
        return average_loss(squared_errors + self.l2 * penalty)

    def rating_matrix(self, user_ids, item_ids) -> np.ndarray:
        """Predicted ratings of every (user, item) pair: float32 [len(user_ids), len(item_ids)]."""
        users = self.user_lookup(tf.constant([str(u) for u in user_ids]))
        items = self.item_lookup(tf.constant([str(i) for i in item_ids]))
        scores = (tf.matmul(self.user_factors(users), self.item_factors(items), transpose_b=True)
                  + self.user_bias(users) + tf.transpose(self.item_bias(items)) + self.global_mean)
        return scores.numpy()


class ImplicitMatrixFactorization(TwoTowerModel):
    """``score(u, i) = p_u . q_i`` learned from interactions with the in-batch softmax.

    A :class:`TwoTowerModel` whose towers are bare id embeddings of ``embedding_dim``;
    ``retrieval_options`` (temperature, remove_accidental_hits, candidate_probabilities,
    candidates, ...) go to it.
    """

    def __init__(self, user_vocabulary, item_vocabulary, embedding_dim: int = 32,
                 **retrieval_options):
        super().__init__(
            QueryTower(user_vocabulary, embedding_dim, hidden_units=(), use_text=False),
            CandidateTower(item_vocabulary, embedding_dim, hidden_units=(), use_text=False),
            **retrieval_options)
