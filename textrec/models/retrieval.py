"""Two-tower retrieval trained with an in-batch softmax.

A batch holds B (user, item) interactions. The query tower embeds the users, the candidate
tower the items, and every user's row of scores ``Q C^T`` [B, B] is a softmax over the B items
of the batch whose target is the user's own item (the diagonal): the other items are sampled
negatives, for free. Options (all from ``tfrs.tasks.Retrieval``):

* ``temperature``: scores are divided by it before the softmax (below 1 sharpens, useful with
  L2-normalised towers whose scores live in [-1, 1]);
* ``remove_accidental_hits``: when the same item appears twice in a batch, the copy is not used
  as a negative for that user (the task gets the batch's item ids);
* ``l2``: a penalty ``l2 * (|q|^2 + |c|^2)`` on each pair's query and candidate embeddings,
  added to its softmax loss. Nothing else stops unnormalised towers from growing their scores
  without bound to fit the train pairs: on review data they overfit within a few epochs
  without it. Reported as ``embedding_penalty`` (unweighted, mean per pair);
* ``candidate_probabilities``: the log-Q correction. Popular items turn up as in-batch negatives
  more often than rare ones, which pushes them down; subtracting ``log P(item)`` from each score
  undoes that sampling bias. :func:`candidate_sampling_probabilities` gives P from the train
  item frequencies.

Top-k metrics over all candidates (``tfrs.metrics.FactorizedTopK``) are slow, so they are only
computed when ``candidates`` is given, and then only in evaluation unless
``metrics_in_training=True``. The loss is the mean per query (see ``textrec.models.losses``);
``retrieval_loss`` in the logs is its mean over the epoch (Keras's ``loss`` is the last
batch's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec.data import schema
from textrec.models.losses import average_loss, local_mean


def candidate_sampling_probabilities(train: pd.DataFrame) -> dict[str, float]:
    """Each train item's share of the train interactions: ``{item id: probability}``.

    With in-batch negatives, an item's chance of being a negative is proportional to how often
    it appears in the training data, so this is the Q of the log-Q correction.
    """
    if train.empty:
        raise ValueError("the train frame is empty: no item frequencies to compute")
    counts = train[schema.ITEM].astype(str).value_counts()
    return (counts / counts.sum()).to_dict()


def candidate_id_embeddings(candidate_model, candidate_ids, batch_size: int = 512):
    """A dataset of (item ids [batch], item embeddings [batch, embedding dim]) for every id."""
    ids = np.asarray([str(item) for item in candidate_ids], dtype=object)
    if ids.size == 0:
        raise ValueError("no candidate ids given")
    return (tf.data.Dataset.from_tensor_slices(ids).batch(batch_size)
            .map(lambda batch: (batch, candidate_model(batch))))


class TwoTowerModel(tfrs.Model):
    """A query tower and a candidate tower trained with ``tfrs.tasks.Retrieval``.

    Features: ``schema.USER`` and ``schema.ITEM`` string ids [batch size] (plus whatever the
    towers read, e.g. text vectors). ``model(features)`` returns the affinity of each
    (user, item) pair: float [batch size].

    Args:
      query_model, candidate_model: the towers; both output [batch size, embedding dim].
      temperature: softmax temperature (None: 1).
      remove_accidental_hits: do not count a batch's duplicate of the positive as a negative.
      candidate_probabilities: ``{item id: sampling probability}`` for the log-Q correction
        (see :func:`candidate_sampling_probabilities`); None: no correction.
      l2: weight of the embedding penalty ``|q|^2 + |c|^2`` of each pair (0: none).
      catalogue: item ids; when given, each pair's softmax runs over all of them (the exact
        softmax over the catalogue, the candidate tower applied to every item in every step)
        instead of over the batch's items. Nothing is sampled, so neither log-Q nor
        accidental hits apply. Worth it while the catalogue is small (thousands of items).
      candidates: item ids to evaluate top-k metrics over (None: no top-k metrics).
      metrics_ks: the k's of the top-k metrics.
      metrics_in_training: also compute the top-k metrics on training batches (slow).
    """

    def __init__(self, query_model, candidate_model, temperature: float | None = None,
                 remove_accidental_hits: bool = False, candidate_probabilities=None,
                 candidates=None, metrics_ks: Sequence[int] = (10, 50),
                 metrics_in_training: bool = False, l2: float = 0.0, catalogue=None,
                 name: str | None = None):
        super().__init__(name=name)
        if temperature is not None and temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = float(l2)
        self.temperature = temperature
        self.query_model = query_model
        self.candidate_model = candidate_model
        self.metrics_in_training = metrics_in_training
        metrics = None
        if candidates is not None:
            metrics = tfrs.metrics.FactorizedTopK(
                candidates=candidate_id_embeddings(candidate_model, candidates), ks=metrics_ks)
        self.retrieval_task = tfrs.tasks.Retrieval(
            loss=tf.keras.losses.CategoricalCrossentropy(
                from_logits=True, reduction=tf.keras.losses.Reduction.NONE),
            metrics=metrics, temperature=temperature,
            remove_accidental_hits=remove_accidental_hits)
        # Keras logs the last batch's "loss"; this is the epoch mean.
        self.retrieval_loss_tracker = tf.keras.metrics.Mean(name="retrieval_loss")
        self.penalty_tracker = tf.keras.metrics.Mean(name="embedding_penalty")
        self.catalogue = None
        if catalogue is not None:
            catalogue = [str(item) for item in catalogue]
            if not catalogue or len(set(catalogue)) != len(catalogue):
                raise ValueError("catalogue must hold each item id once, at least one")
            self.catalogue = tf.constant(catalogue)
            self.catalogue_lookup = tf.keras.layers.StringLookup(
                vocabulary=catalogue, mask_token=None, num_oov_indices=1)
        self.probability_lookup = None
        if candidate_probabilities is not None:
            ids = [str(item) for item in candidate_probabilities]
            probabilities = np.array(list(candidate_probabilities.values()), np.float32)
            if not ids or (probabilities <= 0).any() or (probabilities > 1).any():
                raise ValueError("candidate_probabilities must map item ids to values in (0, 1]")
            self.probability_lookup = tf.keras.layers.StringLookup(
                vocabulary=ids, mask_token=None, num_oov_indices=1)
            # An item outside the table (index 0) gets the smallest known probability.
            self.probabilities = tf.constant(
                np.concatenate([[probabilities.min()], probabilities]), tf.float32)

    def call(self, features):
        query_embeddings = self.query_model(features)
        candidate_embeddings = self.candidate_model(features)
        return tf.reduce_sum(query_embeddings * candidate_embeddings, axis=-1)

    def candidate_probability(self, candidate_ids):
        """Sampling probability of each item: float [batch size] (None without log-Q)."""
        if self.probability_lookup is None:
            return None
        return tf.gather(self.probabilities, self.probability_lookup(candidate_ids))

    def retrieval_losses(self, features, query_embeddings, candidate_embeddings,
                         training: bool = False):
        """In-batch softmax cross-entropy of each query: float [batch size].

        ``query_embeddings`` and ``candidate_embeddings``: float [batch size, embedding dim],
        row i of each from interaction i of ``features``.
        """
        candidate_ids = tf.reshape(features[schema.ITEM], [-1])
        if self.catalogue is not None:
            return self.catalogue_losses(query_embeddings, candidate_ids, training=training)
        return self.retrieval_task(
            query_embeddings, candidate_embeddings,
            candidate_ids=candidate_ids,
            candidate_sampling_probability=self.candidate_probability(candidate_ids),
            compute_metrics=self.metrics_in_training or not training,
            compute_batch_metrics=False)

    def catalogue_losses(self, query_embeddings, candidate_ids, training: bool = False):
        """Softmax cross-entropy of each query's item among the whole catalogue:
        float [batch size]. An item outside the catalogue cannot be a target."""
        positions = self.catalogue_lookup(candidate_ids) - 1             # OOV -> -1
        tf.debugging.assert_non_negative(positions, "a training item is not in the catalogue")
        items = self.candidate_model(self.catalogue, training=training)  # [n items, dim]
        logits = tf.matmul(query_embeddings, items, transpose_b=True)    # [B, n items]
        if self.temperature is not None:
            logits = logits / self.temperature
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=positions, logits=logits)

    @staticmethod
    def embedding_penalty(query_embeddings, candidate_embeddings):
        """``|q|^2 + |c|^2`` of each pair: float [batch size] (inputs [batch size, dim])."""
        return (tf.reduce_sum(tf.square(query_embeddings), axis=-1)
                + tf.reduce_sum(tf.square(candidate_embeddings), axis=-1))

    def compute_loss(self, features, training: bool = False):
        query_embeddings = self.query_model(features, training=training)
        candidate_embeddings = self.candidate_model(features, training=training)
        per_query = self.retrieval_losses(
            features, query_embeddings, candidate_embeddings, training=training)
        penalty = self.embedding_penalty(query_embeddings, candidate_embeddings)
        self.retrieval_loss_tracker.update_state(local_mean(per_query))
        self.penalty_tracker.update_state(local_mean(penalty))
        return average_loss(per_query + self.l2 * penalty)
