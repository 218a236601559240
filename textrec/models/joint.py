"""The joint model: one loss for what users write, what they pick and how they rate it.

    L = text_weight * L_U + retrieval_weight * L_A + rating_weight * L_R

* ``L_U``, the text term: a trainable sentiment head reads each training review's own text
  vector and predicts whether it is positive (4-5 stars) or negative (1-2 stars); binary
  cross-entropy, with neutral 3-star reviews given weight 0 (the labels of
  ``textrec.data.cleaning.add_sentiment``, the course's one stars-to-sentiment rule). When the
  query tower has a ``text_projection`` layer the head reads through it, so this term shapes
  how the user's interest vector is read as well.
* ``L_A``, the retrieval term: the two-tower in-batch softmax (see ``retrieval``).
* ``L_R``, the rating term: squared error of a rating predicted from the user's and the item's
  tower outputs alone.

Each term is the mean over the batch (``textrec.models.losses``). The review vector feature
(``REVIEW_VECTOR``) exists only in training batches, built from train reviews; ``L_U`` is
skipped for batches without it, ``L_R`` for batches without ratings. Serving needs neither: the
towers and the rating head use ids and the precomputed user/item text vectors only, never the
review of the item being predicted. The three terms are reported during training as
``text_loss``, ``retrieval_loss`` and ``rating_loss`` (unweighted).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_recommenders as tfrs

from textrec import config
from textrec.data import schema, tfdata
from textrec.data.cleaning import add_sentiment
from textrec.models.losses import average_loss, local_mean
from textrec.models.retrieval import TwoTowerModel
from textrec.data.review_vectors import ReviewVectors

REVIEW_VECTOR = "review_vector"


def review_dataset(reviews, review_vectors=None, batch_size: int | None = None,
                   shuffle: bool = True, seed: int = config.SEED, extra: dict | None = None):
    """Training batches for :class:`JointModel`: user, item, rating, the review's sentiment
    code (``schema.SENTIMENT``: 1 positive, 0 negative, -1 neutral, from
    :func:`textrec.data.cleaning.add_sentiment`) and its own text vector (``REVIEW_VECTOR``,
    float [batch size, text dim]).

    ``reviews``: a :class:`~textrec.data.review_vectors.ReviewVectors`, or a reviews frame with
    ``review_vectors`` [len(frame), dim], one row per review. ``extra``: more per-review
    features ``{name: array with one row per review}`` (e.g. the encoder's token states).
    """
    reviews = ReviewVectors.of(reviews, review_vectors)
    frame = add_sentiment(reviews.frame)
    return tfdata.features_dataset(
        frame, (schema.USER, schema.ITEM, schema.RATING, schema.SENTIMENT),
        batch_size=batch_size, shuffle=shuffle, seed=seed,
        extra={REVIEW_VECTOR: reviews.vectors, **(extra or {})})


def sentiment_labels(sentiment):
    """Labels and weights for the text term from sentiment codes (int [batch size], as made by
    :func:`textrec.data.cleaning.add_sentiment`): label 1 for positive (1), 0 otherwise;
    weight 0 for neutral reviews (-1), else 1."""
    sentiment = tf.cast(tf.reshape(sentiment, [-1]), tf.int32)
    return tf.cast(sentiment == 1, tf.float32), tf.cast(sentiment >= 0, tf.float32)


def _mlp(hidden_units: Sequence[int], output_bias: float, name: str):
    layers = [tf.keras.layers.Dense(units, activation="relu") for units in hidden_units]
    layers.append(tf.keras.layers.Dense(
        1, bias_initializer=tf.keras.initializers.Constant(output_bias)))
    return tf.keras.Sequential(layers, name=name)


class JointModel(TwoTowerModel):
    """A two-tower retrieval model with a sentiment head and a rating head, trained on
    ``text_weight * L_U + retrieval_weight * L_A + rating_weight * L_R``.

    Features: ``schema.USER``, ``schema.ITEM`` string ids [batch size]; for training also
    ``schema.RATING`` float [batch size], ``schema.SENTIMENT`` int [batch size] and
    ``REVIEW_VECTOR`` float [batch size, text dim] (see :func:`review_dataset`).

    Args:
      query_model, candidate_model: the towers (outputs [batch size, embedding dim]).
      text_weight, retrieval_weight, rating_weight: the weights of L_U, L_A and L_R (>= 0).
      sentiment_hidden_units, rating_hidden_units: hidden widths of the two heads.
      mean_rating: initial output of the rating head (the train mean is a good start).
      share_text_projection: let the sentiment head read review vectors through the query
        tower's ``text_projection`` (when it has one).
      retrieval_options: temperature, remove_accidental_hits, candidate_probabilities,
        candidates, ... as for :class:`TwoTowerModel`.
    """

    def __init__(self, query_model, candidate_model, text_weight: float = 1.0,
                 retrieval_weight: float = 1.0, rating_weight: float = 1.0,
                 sentiment_hidden_units: Sequence[int] = (32,),
                 rating_hidden_units: Sequence[int] = (32,), mean_rating: float = 4.0,
                 share_text_projection: bool = True, **retrieval_options):
        super().__init__(query_model, candidate_model, **retrieval_options)
        for name, weight in [("text_weight", text_weight), ("retrieval_weight", retrieval_weight),
                             ("rating_weight", rating_weight)]:
            if weight < 0:
                raise ValueError(f"{name} must be >= 0, got {weight}")
        self.text_weight = float(text_weight)
        self.retrieval_weight = float(retrieval_weight)
        self.rating_weight = float(rating_weight)
        self.share_text_projection = bool(
            share_text_projection and getattr(query_model, "text_projection", None) is not None)
        self.sentiment_head = _mlp(sentiment_hidden_units, 0.0, "sentiment_head")
        self.rating_head = _mlp(rating_hidden_units, mean_rating, "rating_head")
        self.sentiment_task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.BinaryCrossentropy(
                from_logits=True, reduction=tf.keras.losses.Reduction.NONE),
            metrics=[tf.keras.metrics.AUC(from_logits=True, name="sentiment_auc")])
        self.rating_task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE),
            metrics=[tf.keras.metrics.RootMeanSquaredError(name="rating_rmse")])
        self.text_loss_tracker = tf.keras.metrics.Mean(name="text_loss")
        # retrieval_loss_tracker comes from TwoTowerModel.
        self.rating_loss_tracker = tf.keras.metrics.Mean(name="rating_loss")

    def sentiment_logits(self, review_vectors):
        """Logit of "positive" for each review vector: [batch size, text dim] -> [batch size]."""
        x = tf.cast(review_vectors, tf.float32)
        if self.share_text_projection:
            x = self.query_model.text_projection(x)
        return self.sentiment_head(x)[:, 0]

    def rating_from_embeddings(self, query_embeddings, candidate_embeddings):
        """Predicted ratings [batch size] from the tower outputs [batch size, embedding dim]."""
        return self.rating_head(tf.concat([query_embeddings, candidate_embeddings], axis=-1))[:, 0]

    def predict_rating(self, features):
        """Predicted rating of each (user, item) pair in ``features``: float [batch size]."""
        return self.rating_from_embeddings(self.query_model(features),
                                           self.candidate_model(features))

    def loss_terms(self, features, training: bool = False) -> dict:
        """Per-example losses of each term present in ``features``: ``{"text", "retrieval",
        "rating", "penalty"}`` -> float [batch size] (text only with review vectors, rating
        only with ratings; ``penalty`` is the towers' embedding penalty ``|q|^2 + |c|^2``,
        weighted by ``l2``)."""
        query_embeddings = self.query_model(features, training=training)
        candidate_embeddings = self.candidate_model(features, training=training)
        terms = {"retrieval": self.retrieval_losses(
            features, query_embeddings, candidate_embeddings, training=training),
                 "penalty": self.embedding_penalty(query_embeddings, candidate_embeddings)}
        if schema.RATING in features:
            ratings = tf.cast(tf.reshape(features[schema.RATING], [-1]), tf.float32)
            predictions = self.rating_from_embeddings(query_embeddings, candidate_embeddings)
            terms["rating"] = self.rating_task(labels=ratings[:, None],
                                               predictions=predictions[:, None])
            if REVIEW_VECTOR in features:
                if schema.SENTIMENT not in features:
                    raise ValueError(f"training batches with {REVIEW_VECTOR!r} need their "
                                     f"sentiment codes {schema.SENTIMENT!r}: build them with "
                                     "review_dataset")
                labels, weights = sentiment_labels(features[schema.SENTIMENT])
                logits = self.sentiment_logits(features[REVIEW_VECTOR])
                terms["text"] = self.sentiment_task(labels=labels[:, None],
                                                    predictions=logits[:, None],
                                                    sample_weight=weights)
        return terms

    def compute_loss(self, features, training: bool = False):
        terms = self.loss_terms(features, training=training)
        weights = {"text": self.text_weight, "retrieval": self.retrieval_weight,
                   "rating": self.rating_weight, "penalty": self.l2}
        trackers = {"text": self.text_loss_tracker, "retrieval": self.retrieval_loss_tracker,
                    "rating": self.rating_loss_tracker, "penalty": self.penalty_tracker}
        total = tf.constant(0.0)
        for name, per_example in terms.items():
            trackers[name].update_state(local_mean(per_example))
            total += weights[name] * average_loss(per_example)
        return total
