"""The joint model that trains the text encoder with the recommender.

:class:`~textrec.models.joint.JointModel` reads fixed review vectors: the encoder never learns
from what users choose. :class:`EncoderJointModel` puts the transformer's top layers inside the
model, so the gradients of two of the three terms reach them:

* ``L_U`` (text): the sentiment head reads the vector the encoder computes for the review
  itself (lesson 02's objective on the encoder's own output). Sentiment rather than a
  review-to-item contrastive term because its labels come free with every review (the stars),
  because it is the objective lesson 02 tuned the encoder on (so starting from lesson 02's
  encoder continues the same task), and because a review-to-item term would pull the same way
  as ``L_A``, which already ties text to items;
* ``L_A`` (retrieval): the query tower's text input for a training pair is the user's interest
  vector (the unit mean of their train review vectors) with *this* review's cached vector
  replaced by the encoder's current output, ``normalize(S_u - x_cached + x_encoder)``. So the
  retrieval loss moves the encoder, while the user's other reviews come from the cache
  (refreshed by :func:`encode_reviews` after training). Validation and serving never see the
  review of the pair being predicted: they use interest vectors of train reviews only;
* ``L_R`` (rating) reaches the encoder through the same query input.

Sizes. The transformer's bottom layers stay frozen: their output for every review is computed
once (:func:`review_states`, float16, ``max_length`` tokens) and the trainable top
``n_trainable`` layers (:class:`ReviewEncoder`) run in every step. On a CPU (the quick
profile) that is the top layer over 64 tokens; on a GPU (the full profile) every transformer
layer (only the token embeddings stay frozen). See :data:`ENCODER_SETTINGS`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from textrec.data import schema
from textrec.models.joint import REVIEW_VECTOR, JointModel
from textrec.models.text_table import TextVectorTable
from textrec.models.towers import QUERY_VECTOR

REVIEW_STATES = "review_states"   # float16 [batch, tokens, hidden]: input of the trainable layers
REVIEW_MASK = "review_mask"       # int8 [batch, tokens]: 1 for a real token


@dataclasses.dataclass(frozen=True)
class EncoderSettings:
    """How much of the encoder the joint model trains, per profile.

    n_trainable: top transformer layers trained (None: all); max_length: tokens per review;
    learning_rate: Adam's rate for the encoder's layers (the towers and heads use the joint
    settings' rate); epochs: training epochs.
    """

    n_trainable: int | None = 1
    max_length: int = 64
    learning_rate: float = 2e-5
    epochs: int = 2


ENCODER_SETTINGS = {
    "quick": EncoderSettings(n_trainable=1, max_length=64, learning_rate=2e-5, epochs=2),
    "full": EncoderSettings(n_trainable=None, max_length=128, learning_rate=1e-5, epochs=10),
}


def main_layer(model):
    """The transformer inside a Hugging Face TF model (``model.bert`` for a BERT model or a
    sequence classifier built on one); the model itself when it is one already."""
    if hasattr(model, "encoder") and hasattr(model.encoder, "layer"):
        return model
    prefix = getattr(model, "base_model_prefix", None)
    inner = getattr(model, prefix, None) if prefix else None
    if inner is None or not hasattr(inner, "encoder"):
        raise ValueError(f"{type(model).__name__} is not a BERT-style TF model (no "
                         f"{prefix!r}.encoder.layer); the joint encoder needs one")
    return inner


def _trainable_from(layers, n_trainable):
    n_layers = len(layers)
    n_trainable = n_layers if n_trainable is None else int(n_trainable)
    if not 1 <= n_trainable <= n_layers:
        raise ValueError(f"n_trainable must be between 1 and {n_layers}, got {n_trainable}")
    return n_layers - n_trainable


def review_states(model, tokenizer, texts, n_trainable: int | None, max_length: int,
                  batch_size: int = 64):
    """The frozen part's output for each text: ``(states, mask)``.

    ``states``: float16 [len(texts), tokens, hidden], the hidden states that enter the top
    ``n_trainable`` transformer layers (None: all layers, so the embedding layer's output);
    ``mask``: int8 [len(texts), tokens]. Texts are truncated at ``max_length`` tokens and
    padded to the longest of them (``tokens <= max_length``).
    """
    transformer = main_layer(model)
    start = _trainable_from(transformer.encoder.layer, n_trainable)
    texts = ["" if not isinstance(t, str) else t for t in texts]
    # Padded to the longest text (at most max_length tokens): short reviews cost less.
    encoded = tokenizer(texts, truncation=True, max_length=max_length, padding="longest",
                        return_tensors="np")
    ids = encoded["input_ids"].astype(np.int32)
    mask = encoded["attention_mask"].astype(np.int32)
    hidden = int(transformer.config.hidden_size)
    states = np.zeros((len(texts), ids.shape[1], hidden), np.float16)

    @tf.function(reduce_retracing=True)
    def frozen(input_ids, attention_mask):
        outputs = transformer(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=tf.zeros_like(input_ids),
                              output_hidden_states=True, training=False)
        return outputs.hidden_states[start]

    for first in range(0, len(texts), batch_size):
        rows = slice(first, first + batch_size)
        states[rows] = frozen(tf.constant(ids[rows]), tf.constant(mask[rows])).numpy()
    return states, mask.astype(np.int8)


class ReviewEncoder(tf.keras.layers.Layer):
    """The trainable top of the encoder: the top transformer layers, masked mean pooling and
    unit length, as the frozen sentence encoder computes them.

    Call with ``(states, mask)``: float [batch, tokens, hidden] and [batch, tokens]; returns
    unit vectors [batch, hidden]. The layers are *the* model's layers (not copies): load a
    fresh copy of the encoder for this, so no other embedder's weights move.
    """

    def __init__(self, model, n_trainable: int | None = 1, name: str = "review_encoder"):
        super().__init__(name=name)
        layers = main_layer(model).encoder.layer
        self.top_layers = list(layers[_trainable_from(layers, n_trainable):])

    def call(self, inputs, training=False):
        states, mask = inputs
        mask = tf.cast(mask, tf.float32)
        hidden = tf.cast(states, tf.float32)
        extended = (1.0 - mask[:, None, None, :]) * -10000.0    # BERT's additive attention mask
        for layer in self.top_layers:
            hidden = layer(hidden_states=hidden, attention_mask=extended, head_mask=None,
                           encoder_hidden_states=None, encoder_attention_mask=None,
                           past_key_value=None, output_attentions=False, training=training)[0]
        summed = tf.reduce_sum(hidden * mask[:, :, None], axis=1)
        mean = summed / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
        return tf.math.l2_normalize(mean, axis=-1)


def encode_reviews(review_encoder, states, mask, batch_size: int = 256) -> np.ndarray:
    """Unit vectors of every review from the encoder's current weights: float32 [n, hidden];
    texts with no token get zero rows."""
    parts = [review_encoder((states[i:i + batch_size], mask[i:i + batch_size])).numpy()
             for i in range(0, len(states), batch_size)]
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    vectors[mask.sum(axis=1) <= 2] = 0.0   # only [CLS] and [SEP]: an empty text
    return vectors


def user_vector_sums(users, review_vectors, user_ids) -> dict:
    """``{user: sum of their review vectors}`` for every id of ``user_ids`` (zeros if none)."""
    position = {str(user): row for row, user in enumerate(user_ids)}
    rows = np.array([position.get(str(user), -1) for user in users], np.int64)
    sums = np.zeros((len(user_ids), review_vectors.shape[1]), np.float32)
    np.add.at(sums, rows[rows >= 0], review_vectors[rows >= 0])
    return (np.asarray([str(u) for u in user_ids], object), sums)


class EncoderJointModel(JointModel):
    """:class:`JointModel` whose review vectors come from a trainable :class:`ReviewEncoder`.

    Training features: those of ``JointModel`` (``REVIEW_VECTOR`` holding each review's
    *cached* vector) plus ``REVIEW_STATES`` and ``REVIEW_MASK`` (see :func:`review_states`).
    Validation and serving features are plain (user, item[, rating]) pairs, as for
    ``JointModel``.

    Args:
      query_model, candidate_model: the towers (the query tower with a text table).
      review_encoder: the trainable :class:`ReviewEncoder`.
      user_sums: ``(user ids, sums)``: each user's sum of cached train review vectors
        (:func:`user_vector_sums`), so a training pair's interest vector can be rebuilt with
        the review's fresh vector.
      encoder_learning_rate: Adam's rate for the encoder's layers (the towers and heads use
        the optimizer given to ``compile``).
      joint_options: the rest of ``JointModel``'s arguments (weights, heads, retrieval).
    """

    def __init__(self, query_model, candidate_model, review_encoder, user_sums,
                 encoder_learning_rate: float = 2e-5, **joint_options):
        super().__init__(query_model, candidate_model, **joint_options)
        self.review_encoder = review_encoder
        self.user_sums = TextVectorTable(user_sums, name="user_review_sums")
        # The pretrained layers need a far smaller step than the towers and heads trained from
        # scratch (Adam ignores a gradient's scale, so this takes a second optimizer).
        self.encoder_optimizer = tf.keras.optimizers.Adam(encoder_learning_rate)

    def train_step(self, inputs):
        """``tfrs.Model.train_step`` with two optimizers: ``optimizer`` (from ``compile``) for
        the towers and heads, ``encoder_optimizer`` for the encoder's trainable layers."""
        with tf.GradientTape() as tape:
            loss = self.compute_loss(inputs, training=True)
            regularization_loss = tf.reduce_sum([tf.reduce_sum(x) for x in self.losses])
            total_loss = loss + regularization_loss
        encoder_variables = self.review_encoder.trainable_variables
        encoder_refs = {variable.ref() for variable in encoder_variables}
        other_variables = [v for v in self.trainable_variables if v.ref() not in encoder_refs]
        gradients = tape.gradient(total_loss, other_variables + encoder_variables)
        self.optimizer.apply_gradients(zip(gradients[:len(other_variables)], other_variables))
        self.encoder_optimizer.apply_gradients(
            zip(gradients[len(other_variables):], encoder_variables))
        metrics = {metric.name: metric.result() for metric in self.metrics}
        metrics.update(loss=loss, regularization_loss=regularization_loss, total_loss=total_loss)
        return metrics

    def loss_terms(self, features, training: bool = False) -> dict:
        if REVIEW_STATES not in features:
            return super().loss_terms(features, training=training)
        fresh = self.review_encoder((features[REVIEW_STATES], features[REVIEW_MASK]),
                                    training=training)                       # [B, hidden]
        cached = tf.cast(features[REVIEW_VECTOR], tf.float32)
        has_text = tf.cast(tf.reduce_any(cached != 0.0, axis=-1, keepdims=True), tf.float32)
        fresh = fresh * has_text
        sums = self.user_sums(features[schema.USER]) - cached + fresh
        features = dict(features)
        features[QUERY_VECTOR] = tf.math.l2_normalize(sums, axis=-1)        # the interest vector
        features[REVIEW_VECTOR] = fresh
        return super().loss_terms(features, training=training)


def encoder_joint_recipe(user_text, item_text, reviews, states, mask, encoder_model,
                         settings=None, encoder_settings: EncoderSettings | None = None,
                         **changes):
    """Lesson 05's joint model (``recipes.joint_model_recipe``'s towers, heads, weights and
    retrieval options) with the top of ``encoder_model`` trained inside it.

    Args:
      user_text, item_text: the towers' text vectors, computed from ``reviews.vectors``.
      reviews: :class:`~textrec.data.review_vectors.ReviewVectors` of the train reviews whose
        vectors are the encoder's output *before* training (:func:`encode_reviews`).
      states, mask: :func:`review_states` of those reviews, row-aligned with them.
      encoder_model: a fresh copy of the encoder (its top layers will be trained in place).
      settings: ``recipes.JointSettings`` (default: the profile's); ``encoder_settings``:
        :class:`EncoderSettings` (default: the profile's :data:`ENCODER_SETTINGS`).

    ``build()`` may be called once per copy of the encoder: the model trains its layers.
    ``fit`` trains for ``encoder_settings.epochs`` unless told otherwise, the towers and heads
    at ``settings.learning_rate``, the encoder at ``encoder_settings.learning_rate``.
    """
    from textrec import config
    from textrec.data.review_vectors import ReviewVectors
    from textrec.models import recipes

    reviews = ReviewVectors.of(reviews)
    if len(states) != len(reviews) or len(mask) != len(reviews):
        raise ValueError(f"{len(states)} token states and {len(mask)} masks for {len(reviews)} "
                         "reviews: give one of each per review")
    encoder_settings = encoder_settings or recipes.settings_for(ENCODER_SETTINGS)
    base = recipes.joint_model_recipe(user_text, item_text, reviews, settings=settings,
                                      **changes)
    settings = base.settings
    options = recipes.retrieval_options(settings, reviews.frame)
    user_ids = user_text.ids
    sums = user_vector_sums(reviews.column(schema.USER), reviews.vectors, user_ids)
    built = []

    def build():
        if built:
            raise RuntimeError("this recipe's encoder was trained already: load a fresh copy "
                               "of the encoder for another model")
        base_model = base.build()
        model = EncoderJointModel(
            base_model.query_model, base_model.candidate_model,
            ReviewEncoder(encoder_model, encoder_settings.n_trainable), sums,
            encoder_learning_rate=encoder_settings.learning_rate,
            text_weight=settings.w_U, retrieval_weight=settings.w_A, rating_weight=settings.w_R,
            sentiment_hidden_units=settings.sentiment_hidden_units,
            rating_hidden_units=settings.rating_hidden_units,
            mean_rating=float(reviews.column(schema.RATING).mean()), **options)
        built.append(model)
        return model

    def train_dataset(batch_size=None, seed=config.SEED):
        from textrec.models.joint import review_dataset

        return review_dataset(reviews, batch_size=batch_size or settings.batch_size, seed=seed,
                              extra={REVIEW_STATES: states, REVIEW_MASK: mask})

    return recipes.Recipe(build, train_dataset, settings, base.user_ids, base.item_ids,
                          epochs=encoder_settings.epochs)
