"""A readable profile per user: what their TRAIN reviews say they care about.

For each user: how many train reviews, the share read as positive, the key phrases of their
reviews closest to their interest vector (KeyBERT against the user rather than one review),
the aspect of a fixed vocabulary that stands out most (compared with the average user), and
their favourite categories (the categories of the items they reviewed positively, when the
items have categories).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.interests.phrases import DEFAULT_ASPECTS, candidate_phrases, rank_phrases
from textrec.interests.vectors import TextVectors


def favourite_categories(train: pd.DataFrame, items: pd.DataFrame, positive_probability=None,
                         top_n: int = 2) -> pd.Series:
    """Per user, the ``top_n`` most frequent categories of the items they reviewed (only the
    positively read reviews when ``positive_probability`` is given), as "name (count)" lists.
    Empty lists when the items have no categories (e.g. Amazon review files alone)."""
    category = dict(zip(items[schema.ITEM], items[schema.CATEGORY].fillna("")))
    frame = train.assign(category=train[schema.ITEM].map(category).fillna(""))
    if positive_probability is not None:
        frame = frame[np.asarray(positive_probability) >= 0.5]
    frame = frame[frame["category"] != ""]
    counts = frame.groupby([schema.USER, "category"]).size().rename("n").reset_index()
    counts = counts.sort_values([schema.USER, "n", "category"], ascending=[True, False, True])
    top = counts.groupby(schema.USER).head(top_n)
    lists = {user: [f"{c} ({n})" for c, n in zip(group["category"], group["n"])]
             for user, group in top.groupby(schema.USER)}
    users = sorted(train[schema.USER].unique())
    return pd.Series([lists.get(user, []) for user in users], index=users, dtype=object)


def user_profiles(user_ids, train: pd.DataFrame, interests: TextVectors, embedder,
                  positive_probability=None, items: pd.DataFrame | None = None,
                  top_n: int = 5, max_words: int = 3, diversity: float = 0.3,
                  aspects=DEFAULT_ASPECTS) -> pd.DataFrame:
    """Profiles of ``user_ids`` (a few: every candidate phrase of their reviews is embedded).

    Args:
      user_ids: the users to describe.
      train: the train reviews (only these are read).
      interests: the users' interest vectors (e.g. from :func:`interest_vectors`).
      embedder: the encoder that made ``interests``.
      positive_probability: P(positive) of each train row, or None.
      items: the item frame, for favourite categories, or None.

    Returns:
      A DataFrame indexed by user: reviews, positive_share, key_phrases, top_aspect,
      favourite_categories.
    """
    user_ids = list(user_ids)
    position = interests.position()
    probability = None if positive_probability is None else np.asarray(positive_probability)
    mine = train[schema.USER].isin(user_ids).to_numpy()
    frame = train[mine]
    candidates = {user: [] for user in user_ids}
    for user, text in zip(frame[schema.USER], frame[schema.TEXT]):
        candidates[user].extend(p for p in candidate_phrases(text, max_words)
                                if p not in candidates[user])
    unique = sorted({p for phrases in candidates.values() for p in phrases})
    vectors = embedder.embed(unique) if unique else np.zeros((0, embedder.dim), np.float32)
    row = {p: i for i, p in enumerate(unique)}
    aspect_vectors = embedder.embed(list(aspects))
    # An aspect "stands out" for a user when it is closer to them than to the average user.
    average = interests.vectors[~interests.empty].mean(axis=0)
    baseline = aspect_vectors @ (average / max(np.linalg.norm(average), 1e-9))
    favourites = (favourite_categories(frame, items,
                                       None if probability is None else probability[mine])
                  if items is not None else pd.Series(dtype=object))
    records = []
    for user in user_ids:
        target = interests.vectors[position[user]] if user in position else None
        phrases = candidates[user]
        ranked = (rank_phrases(target, phrases, vectors[[row[p] for p in phrases]], top_n,
                               diversity)
                  if target is not None and np.any(target) and phrases else [])
        users_rows = frame[schema.USER].to_numpy() == user
        records.append({
            schema.USER: user,
            "reviews": int(users_rows.sum()),
            "positive_share": (float((probability[mine][users_rows] >= 0.5).mean())
                               if probability is not None and users_rows.any() else np.nan),
            "key_phrases": [p for p, _ in ranked],
            "top_aspect": (aspects[int(np.argmax(aspect_vectors @ target - baseline))]
                           if target is not None and np.any(target) else ""),
            "favourite_categories": favourites.get(user, []),
        })
    return pd.DataFrame(records).set_index(schema.USER)
