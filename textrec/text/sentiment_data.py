"""Sentiment examples for the encoder: labels from stars, sampling, class weights, batches.

Labels: 1 positive (4-5 stars), 0 negative (1-2 stars). Neutral 3-star reviews and empty texts
are left out. Batches use *dynamic padding*: texts sorted by token length, cut into batches,
each batch padded only to its own longest text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from textrec import config
from textrec.data import schema
from textrec.data.cleaning import sentiment_examples

LABELS = ("negative", "positive")  # class id -> name
PREDICT_BATCH_SIZE = 64


def sentiment_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` usable for sentiment: not neutral (3 stars), text not empty
    (:func:`textrec.data.cleaning.sentiment_examples`, the rule lesson 03 uses too)."""
    return sentiment_examples(frame)


def stratified_sample(frame: pd.DataFrame, max_examples: int | None, seed: int = config.SEED):
    """At most ``max_examples`` rows of ``frame``, keeping the label shares (seeded)."""
    if max_examples is None or len(frame) <= max_examples:
        return frame
    from sklearn.model_selection import train_test_split

    sample, _ = train_test_split(
        frame, train_size=int(max_examples), stratify=frame[schema.SENTIMENT], random_state=seed
    )
    return sample.sort_index()


def class_weights(labels) -> dict[int, float]:
    """Weights that make both classes count equally: ``n / (2 * n_class)`` for each class.

    This is scikit-learn's ``class_weight="balanced"``. Raises ``ValueError`` when a class has
    no example (a classifier cannot learn a class it never sees).
    """
    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=len(LABELS))
    if (counts == 0).any():
        raise ValueError(f"every class needs training examples; label counts: {counts.tolist()}")
    return {label: float(len(labels) / (len(LABELS) * count)) for label, count in enumerate(counts)}


def length_batches(tokenizer, texts, labels=None, *, batch_size, max_length, seed=None,
                   sample_weights=None):
    """A ``tf.data.Dataset`` of padded batches, and the order its examples come in.

    Texts are tokenised (truncated at ``max_length`` tokens), sorted by length (ties in a random
    order when ``seed`` is given) and cut into batches; each batch is padded to its longest
    text. With ``seed``, the *batches* are shuffled, in a new order every epoch. Elements are
    ``{"input_ids", "attention_mask"}`` (int32 [batch size, longest]) followed by the labels
    and sample weights when given. Returns ``(dataset, order)``: ``order[i]`` is the input
    position of the dataset's i-th example.
    """
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    lengths = np.array([len(row) for row in ids], np.int64)
    order = np.arange(len(ids))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(ids))
    order = order[np.argsort(lengths[order], kind="stable")]
    flat = np.concatenate([ids[i] for i in order] or [[]]).astype(np.int32)
    ragged = tf.RaggedTensor.from_row_lengths(flat, lengths[order])
    features = tf.data.Dataset.from_tensor_slices(ragged).map(
        lambda row: {"input_ids": row, "attention_mask": tf.ones_like(row)}
    )
    parts = [features]
    padding = [{"input_ids": tokenizer.pad_token_id or 0, "attention_mask": 0}]
    for extra, pad in ((labels, 0), (sample_weights, 0.0)):
        if extra is not None:
            parts.append(tf.data.Dataset.from_tensor_slices(np.asarray(extra)[order]))
            padding.append(tf.constant(pad, parts[-1].element_spec.dtype))
    dataset = parts[0] if len(parts) == 1 else tf.data.Dataset.zip(tuple(parts))
    padding = padding[0] if len(parts) == 1 else tuple(padding)
    dataset = dataset.padded_batch(batch_size, padding_values=padding)
    if seed is not None:
        n_batches = int(dataset.cardinality())
        dataset = dataset.shuffle(n_batches, seed=seed, reshuffle_each_iteration=True)
    return dataset.prefetch(tf.data.AUTOTUNE), order


def predict_proba(model, tokenizer, texts, *, max_length: int,
                  batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """Probability that each text is positive, shape [number of texts], in input order."""
    texts = list(texts)
    if not texts:
        return np.zeros(0, np.float32)
    dataset, order = length_batches(tokenizer, texts, batch_size=batch_size, max_length=max_length)
    logits = model.predict(dataset, verbose=0).logits
    probabilities = np.empty(len(texts), np.float32)
    probabilities[order] = tf.nn.softmax(logits, axis=-1).numpy()[:, 1]
    return probabilities
