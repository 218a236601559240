"""Training the lesson's models with and without DP-SGD, on the same batches.

:func:`train` is the one entry point: Poisson batches (``sampling``) of example- or user-level
units, a :class:`~textrec.privacy.dp_sgd.DPModel` around the model, Keras ``fit``. With
``noise_multiplier=None`` the same batches train without clipping or noise: the baseline.
:func:`sentiment_features` and :func:`retrieval_features` build the feature arrays from a
reviews frame and precomputed text vectors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from textrec import config
from textrec.data import schema
from textrec.data.cleaning import add_sentiment
from textrec.models.joint import REVIEW_VECTOR
from textrec.models.towers import QUERY_VECTOR
from textrec.models.training import make_optimizer
from textrec.privacy.dp_sgd import DPModel
from textrec.privacy.models import LABEL
from textrec.privacy.sampling import poisson_batches, steps_for_epochs


def sentiment_features(frame: pd.DataFrame, review_vectors: np.ndarray):
    """(features, rows): ``REVIEW_VECTOR`` and ``LABEL`` of the non-neutral reviews with text;
    ``rows`` are their positions in ``frame``. ``review_vectors`` [len(frame), dim]."""
    review_vectors = np.asarray(review_vectors, np.float32)
    if len(review_vectors) != len(frame):
        raise ValueError(f"{len(review_vectors)} vectors for {len(frame)} reviews")
    labelled = add_sentiment(frame)
    keep = ((labelled[schema.SENTIMENT] >= 0).to_numpy()
            & (np.linalg.norm(review_vectors, axis=1) > 0))
    rows = np.flatnonzero(keep)
    return ({REVIEW_VECTOR: review_vectors[rows],
             LABEL: labelled[schema.SENTIMENT].to_numpy()[rows].astype(np.float32)}, rows)


def retrieval_features(frame: pd.DataFrame, user_vectors) -> tuple[dict, np.ndarray]:
    """(features, users): ``QUERY_VECTOR`` (the user's interest vector) and ``schema.ITEM`` of
    each interaction whose user has a vector; ``users`` [n] for user-level sampling."""
    position = user_vectors.position()
    rows = frame[schema.USER].map(position)
    keep = rows.notna().to_numpy().copy()
    rows = rows[keep].astype(int).to_numpy()
    keep[keep] = ~user_vectors.empty[rows]
    rows = rows[~user_vectors.empty[rows]]
    return ({QUERY_VECTOR: user_vectors.vectors[rows].astype(np.float32),
             schema.ITEM: frame.loc[keep, schema.ITEM].astype(str).to_numpy(dtype=object)},
            frame.loc[keep, schema.USER].astype(str).to_numpy(dtype=object))


def train(model, features: dict, sampling_rate: float, epochs: float,
          noise_multiplier: float | None = None, l2_norm_clip: float = 1.0, units=None,
          max_examples_per_unit: int | None = None, learning_rate: float = 0.01,
          optimizer: str = "adam", clipping: str = "vectorized", map_batch=None,
          seed: int = config.SEED, verbose: int = 0):
    """Train ``model`` on Poisson batches; returns (the ``DPModel``, the Keras ``History``).

    All ``ceil(epochs / q)`` steps run as one Keras epoch; ``dp_model.steps`` holds their
    number, the one to give the accountant.

    Args:
      model: a model with ``per_example_losses`` (``textrec.privacy.models``).
      features: arrays, one row per example.
      sampling_rate: ``q``; ``epochs``: steps = ``ceil(epochs / q)``.
      noise_multiplier: ``sigma``; None trains without DP-SGD (no clipping, no noise).
      l2_norm_clip: ``C``.
      units: None (example-level) or the user of each row (user-level).
      max_examples_per_unit, map_batch, seed: see ``poisson_batches``.
      learning_rate, optimizer: "adam", "adagrad" or "sgd".
      clipping: "vectorized" or "ghost".
    """
    steps = steps_for_epochs(epochs, sampling_rate)
    n_units = len(np.unique(units)) if units is not None else len(next(iter(features.values())))
    dataset = poisson_batches(features, sampling_rate, steps, units=units,
                              max_examples_per_unit=max_examples_per_unit, seed=seed,
                              map_batch=map_batch)
    config.set_seeds(seed)
    private = noise_multiplier is not None
    dp_model = DPModel(model, l2_norm_clip if private else None, noise_multiplier or 0.0,
                       sampling_rate * n_units if private else None, clipping, seed=seed)
    xla = config.xla_applies(config.acceleration("dp_sgd"), dataset.element_spec)  # GPU only
    dp_model.compile(optimizer=make_optimizer(optimizer, learning_rate), jit_compile=xla)
    history = dp_model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=verbose)
    dp_model.steps = steps  # what the accountant must be told
    return dp_model, history


def build(model, features: dict) -> None:
    """Create ``model``'s variables by calling it on two rows of ``features``."""
    model({key: tf.constant(value[:2]) for key, value in features.items()
           if key in (REVIEW_VECTOR, QUERY_VECTOR, schema.ITEM)})
