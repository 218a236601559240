"""Each user's items in time order, as the integer sequences a sequence model reads.

Items are numbered by their position in an id order plus one (``item_ids[j]`` is item
``j + 1``), so that 0 is free for padding. Time order is the splits' rule: ``timestamp``, then
``order`` (file order) for equal timestamps (see :mod:`textrec.data.splits`).

* :func:`user_sequences`: every user's item numbers, oldest first;
* :func:`left_padded`: the last ``max_length`` of each sequence, zeros on the left, so the
  most recent item is always in the last column;
* :func:`next_item_dataset`: training batches, ``history`` (items 1..n-1) and ``next``
  (items 2..n): at every position the model must predict the item that came next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec import config
from textrec.data import schema

HISTORY = "history"
NEXT = "next"
PAD = 0


def user_sequences(frame: pd.DataFrame, user_ids, item_ids) -> list[np.ndarray]:
    """Item numbers (1 + position in ``item_ids``) of each user of ``user_ids``, oldest first:
    a list of int32 arrays, empty for users without a row in ``frame``.

    Rows whose user or item is not in the id orders are dropped; their number is returned in
    ``user_sequences.dropped`` of the list (``sequences.dropped``), so nothing is lost silently.
    """
    for column in (schema.USER, schema.ITEM, schema.TIMESTAMP, schema.ORDER):
        if column not in frame.columns:
            raise ValueError(f"the frame needs a {column!r} column to order each user's items; "
                             f"it has {list(frame.columns)}")
    user_index = pd.Index(np.asarray(user_ids, dtype=object).astype(str))
    item_index = pd.Index(np.asarray(item_ids, dtype=object).astype(str))
    if user_index.has_duplicates or item_index.has_duplicates:
        raise ValueError("user_ids and item_ids must not repeat an id")
    ordered = frame.sort_values([schema.TIMESTAMP, schema.ORDER], kind="stable")
    users = user_index.get_indexer(ordered[schema.USER].astype(str))
    items = item_index.get_indexer(ordered[schema.ITEM].astype(str))
    known = (users >= 0) & (items >= 0)
    users, items = users[known], items[known] + 1
    by_user = np.argsort(users, kind="stable")          # time order kept within each user
    users, items = users[by_user], items[by_user]
    sequences = _Sequences(np.split(items.astype(np.int32),
                                    np.cumsum(np.bincount(users, minlength=len(user_index)))[:-1]))
    sequences.dropped = int((~known).sum())
    return sequences


class _Sequences(list):
    """A list of sequences that also says how many rows were dropped (``dropped``)."""

    dropped: int = 0


def left_padded(sequences, max_length: int) -> np.ndarray:
    """The last ``max_length`` items of each sequence, left-padded with 0: int32
    [len(sequences), max_length]; the most recent item is in the last column."""
    if max_length <= 0:
        raise ValueError(f"max_length must be positive, got {max_length}")
    out = np.zeros((len(sequences), max_length), np.int32)
    for row, sequence in enumerate(sequences):
        tail = np.asarray(sequence, np.int32)[-max_length:]
        if tail.size:
            out[row, max_length - tail.size:] = tail
    return out


def next_item_arrays(sequences, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(history, next), int32 [n, max_length] each, for the users with at least two items:
    ``history`` holds a user's last ``max_length + 1`` items but the last, ``next`` the same
    shifted by one, both left-padded, so ``next[:, t]`` is the item that followed
    ``history[:, t]``."""
    long_enough = [np.asarray(s, np.int32)[-(max_length + 1):] for s in sequences if len(s) >= 2]
    if not long_enough:
        raise ValueError("no user has two items in time order: nothing to learn 'next' from")
    return (left_padded([s[:-1] for s in long_enough], max_length),
            left_padded([s[1:] for s in long_enough], max_length))


def next_item_dataset(sequences, max_length: int, batch_size: int | None = None,
                      shuffle: bool = True, seed: int = config.SEED):
    """Batches of ``{HISTORY: int32 [B, max_length], NEXT: int32 [B, max_length]}`` (see
    :func:`next_item_arrays`), shuffled with ``seed`` and reshuffled each epoch."""
    import tensorflow as tf

    history, following = next_item_arrays(sequences, max_length)
    dataset = tf.data.Dataset.from_tensor_slices({HISTORY: history, NEXT: following})
    if shuffle:
        dataset = dataset.shuffle(len(history), seed=seed, reshuffle_each_iteration=True)
    batch_size = batch_size or config.get_profile().batch_size
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
