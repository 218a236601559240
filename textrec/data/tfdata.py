"""``tf.data`` builders the later lessons train on.

Every builder takes a reviews frame (schema columns) and returns a ``tf.data.Dataset`` of
feature dictionaries keyed by the schema's column names, batched, optionally shuffled with a
fixed seed, and prefetched. Strings stay strings: the models own their ``StringLookup`` layers
(built from :func:`vocabulary`), so an exported model maps raw ids itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec import config
from textrec.data import schema


def vocabulary(values, min_count: int = 1) -> np.ndarray:
    """Sorted unique string ids with at least ``min_count`` occurrences (for ``StringLookup``)."""
    counts = pd.Series(values).astype(str).value_counts()
    return np.array(sorted(counts[counts >= min_count].index), dtype=object)


def _check_columns(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; it has {list(frame.columns)}")


def _as_tensor_ready(series: pd.Series) -> np.ndarray:
    if series.dtype.kind in "fc":
        return series.to_numpy(dtype="float32")
    if series.dtype.kind in "iub":
        return series.to_numpy(dtype="int64")
    return series.astype(str).to_numpy(dtype=object)


def features_dataset(
    frame: pd.DataFrame,
    columns=(schema.USER, schema.ITEM, schema.RATING),
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int = config.SEED,
    repeat: bool = False,
    extra: dict | None = None,
):
    """A dataset of ``{column: tensor}`` batches from ``frame``.

    ``batch_size`` defaults to the active profile's. Shuffling uses a buffer over the whole
    frame with a fixed seed, reshuffled each epoch, so runs are reproducible. ``extra``:
    ``{feature name: array}`` with one row per row of ``frame`` (e.g. each review's text
    vector [len(frame), dim]), shuffled and batched with it.
    """
    import tensorflow as tf

    _check_columns(frame, columns)
    if len(frame) == 0:
        raise ValueError("cannot build a dataset from an empty frame")
    batch_size = batch_size or config.get_profile().batch_size
    tensors = {column: _as_tensor_ready(frame[column]) for column in columns}
    for name, values in (extra or {}).items():
        values = np.asarray(values)
        if len(values) != len(frame):
            raise ValueError(f"extra feature {name!r} has {len(values)} rows; the frame has "
                             f"{len(frame)}")
        tensors[name] = values.astype(np.float32) if values.dtype == np.float64 else values
    dataset = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        dataset = dataset.shuffle(len(frame), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def interactions_dataset(frame: pd.DataFrame, batch_size: int | None = None,
                         shuffle: bool = False, seed: int = config.SEED):
    """(user, item, rating) batches for retrieval and rating models."""
    return features_dataset(frame, (schema.USER, schema.ITEM, schema.RATING),
                            batch_size=batch_size, shuffle=shuffle, seed=seed)


def sentiment_dataset(frame: pd.DataFrame, batch_size: int | None = None,
                      shuffle: bool = False, seed: int = config.SEED):
    """(text, label) pairs for sentiment fine-tuning; neutral (3-star) reviews are left out.

    Labels come from :func:`textrec.data.cleaning.add_sentiment` (1 positive, 0 negative).
    """
    import tensorflow as tf

    from textrec.data.cleaning import add_sentiment

    labelled = add_sentiment(frame)
    labelled = labelled[labelled[schema.SENTIMENT] >= 0]
    if labelled.empty:
        raise ValueError("no positive or negative reviews to build a sentiment dataset from")
    dataset = tf.data.Dataset.from_tensor_slices((
        labelled[schema.TEXT].astype(str).to_numpy(dtype=object),
        labelled[schema.SENTIMENT].to_numpy(dtype="int64"),
    ))
    if shuffle:
        dataset = dataset.shuffle(len(labelled), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size or config.get_profile().batch_size).prefetch(tf.data.AUTOTUNE)


def items_dataset(item_ids, batch_size: int = 512):
    """Candidate item ids as a batched string dataset (for indexing every item)."""
    import tensorflow as tf

    ids = np.asarray(list(item_ids), dtype=object)
    if ids.size == 0:
        raise ValueError("no item ids given")
    return tf.data.Dataset.from_tensor_slices(ids).batch(batch_size)
