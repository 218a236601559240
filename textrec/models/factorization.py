"""Collaborative filtering by matrix factorisation: ids only, no text.

* :class:`MatrixFactorization` predicts explicit ratings,
  ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i``: a global mean, a user bias, an item bias and
  the dot product of a user and an item factor vector. It is trained on squared error with an
  L2 penalty on the factors and biases of the batch's users and items, through
  ``tfrs.tasks.Ranking`` (which reports RMSE).
* :class:`ImplicitMatrixFactorization` learns from implicit feedback (who interacted with what):
  ``score(u, i) = p_u . q_i + b_i``, trained to rank, with a softmax over the catalogue (exact
  when it fits, sampled when it does not) and an L2 penalty. This is the one to rank with: on
  review data an item's mean rating says little about whether it is chosen, so a model of the
  stars ranks near chance.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec.data import schema
from textrec.models.losses import average_loss, local_mean


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


class FactorTower(tf.keras.Model):
    """An id's factor vector with one coordinate more, so that ``p_u . q_i + b_i`` is a single
    dot product: ``[p_u, 1]`` on the user side (``bias=False``), ``[q_i, b_i]`` on the item side
    (``bias=True``). Called with a features dict (``id_key``) or string ids [batch size];
    returns float [batch size, embedding_dim + 1]. Unknown ids share an out-of-vocabulary row.
    """

    def __init__(self, vocabulary, embedding_dim: int, id_key: str, bias: bool,
                 name: str | None = None):
        super().__init__(name=name)
        self.id_key = id_key
        self.lookup, self.factors = _lookup_and_embedding(
            vocabulary, embedding_dim, tf.keras.initializers.RandomNormal(stddev=0.05),
            f"{name or id_key}_factors")
        self.bias = _lookup_and_embedding(vocabulary, 1, "zeros", f"{name or id_key}_bias")[1] \
            if bias else None

    def indices(self, features):
        ids = features[self.id_key] if isinstance(features, dict) else features
        return self.lookup(tf.reshape(ids, [-1]))

    def call(self, features, training=False):
        rows = self.indices(features)
        factors = self.factors(rows)
        extra = self.bias(rows) if self.bias is not None else tf.ones_like(factors[:, :1])
        return tf.concat([factors, extra], axis=-1)


class ImplicitMatrixFactorization(tfrs.Model):
    """Matrix factorisation trained to rank: ``score(u, i) = p_u . q_i + b_i``, learned from
    who interacted with what (implicit feedback), not from the stars.

    Each train pair (u, i) is a softmax over the catalogue whose target is i:
    ``-log softmax_j(p_u . q_j + b_j)[i]``, plus an L2 penalty on the pair's parameters,
    ``l2 * (|p_u|^2 + |q_i|^2 + b_i^2)``. The item bias learns how often an item is chosen
    (popularity); the factors learn what on top of it. With a catalogue of at most
    ``full_softmax_max_items`` items every item is scored in every step (the exact softmax);
    beyond that, a sampled softmax over ``num_sampled`` items drawn by train frequency, with
    the log-Q correction (``tf.nn.sampled_softmax_loss``) stands in for it.

    Features: ``schema.USER`` and ``schema.ITEM`` string ids [batch size]. ``query_model`` /
    ``candidate_model`` map ids to ``[p_u, 1]`` / ``[q_i, b_i]`` (:class:`FactorTower`), so
    ``models.score_matrix``, ``build_index`` and ``recommend`` serve it like a two-tower model.

    Args:
      user_vocabulary, item_vocabulary: the known ids (the item vocabulary is the catalogue the
        softmax runs over).
      embedding_dim: number of latent factors.
      l2: weight of the penalty (>= 0).
      item_counts: ``{item id: train interactions}``, the sampler's frequencies (sampled
        softmax only; default: uniform).
      full_softmax_max_items, num_sampled: when to sample, and how many items per step.
    """

    def __init__(self, user_vocabulary, item_vocabulary, embedding_dim: int = 32,
                 l2: float = 0.1, item_counts=None, full_softmax_max_items: int = 50_000,
                 num_sampled: int = 1024, name: str | None = None):
        super().__init__(name=name)
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = float(l2)
        self.query_model = FactorTower(user_vocabulary, embedding_dim, schema.USER, bias=False,
                                       name="user")
        self.candidate_model = FactorTower(item_vocabulary, embedding_dim, schema.ITEM,
                                           bias=True, name="item")
        self.item_vocabulary = tf.constant([str(i) for i in item_vocabulary])
        self.n_items = len(item_vocabulary)
        self.full_softmax = self.n_items <= full_softmax_max_items
        self.num_sampled = int(min(num_sampled, self.n_items))
        counts = dict(item_counts or {})
        self.unigrams = [0.0] + [float(counts.get(str(i), 1.0)) for i in item_vocabulary]
        self.retrieval_loss_tracker = tf.keras.metrics.Mean(name="retrieval_loss")
        self.penalty_tracker = tf.keras.metrics.Mean(name="embedding_penalty")

    def call(self, features):
        return tf.reduce_sum(self.query_model(features) * self.candidate_model(features), -1)

    def _softmax_losses(self, users, items):
        """Cross-entropy of each pair's item among the catalogue: float [batch size]."""
        if self.full_softmax:
            # Row 0 of the tables is the OOV id: never a candidate.
            logits = tf.matmul(users, self.candidate_model(self.item_vocabulary),
                               transpose_b=True)                        # [B, n items]
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=items - 1, logits=logits)
        labels = tf.cast(items[:, None], tf.int64)
        sampled = tf.random.fixed_unigram_candidate_sampler(
            true_classes=labels, num_true=1, num_sampled=self.num_sampled, unique=True,
            range_max=self.n_items + 1, unigrams=self.unigrams)
        return tf.nn.sampled_softmax_loss(
            weights=self.candidate_model.factors.embeddings,
            biases=self.candidate_model.bias.embeddings[:, 0], labels=labels,
            inputs=users[:, :-1], num_sampled=self.num_sampled, num_classes=self.n_items + 1,
            sampled_values=sampled, remove_accidental_hits=True)

    def compute_loss(self, features, training: bool = False):
        users = self.query_model(features)                              # [B, d + 1]: [p_u, 1]
        targets = self.candidate_model(features)                        # [B, d + 1]: [q_i, b_i]
        per_pair = self._softmax_losses(users, self.candidate_model.indices(features))
        penalty = (tf.reduce_sum(tf.square(users[:, :-1]), -1)
                   + tf.reduce_sum(tf.square(targets), -1))
        self.retrieval_loss_tracker.update_state(local_mean(per_pair))
        self.penalty_tracker.update_state(local_mean(penalty))
        return average_loss(per_pair + self.l2 * penalty)
