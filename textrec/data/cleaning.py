"""Cleaning review data as the course teaches it, with a report of every row removed and why.

Steps of :func:`clean_reviews`, in order:

1. text normalisation (:func:`clean_text`): HTML entities and tags, URLs, control and
   zero-width characters, Unicode NFKC, repeated whitespace. Emoji and other scripts stay:
   they carry meaning and the tokenizer handles them;
2. duplicate (user, item) pairs: the earliest review is kept (time, then file order);
3. the same review attached to several items: same user, same non-empty text on different
   items. At the same time, it is one review copied across a product's variants (the 2018
   Amazon files do this); at another time, a review the user posted again (the 2014 Musical
   Instruments file has one, four days apart). Either way the earliest is kept: a copy left in
   train would leak a held-out review's text;
4. optional k-core filtering: repeatedly drop users and items with fewer than k reviews.

Removed rows are listed in :class:`CleaningReport` with their file order, user, item, reason
and detail; nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata

import numpy as np
import pandas as pd

from textrec.data import schema

_TAG = re.compile(r"<[^>]{0,200}>")
_BREAK = re.compile(r"<\s*br\s*/?\s*>|</\s*p\s*>", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u2028-\u202f\u2060\ufeff]")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def clean_text(text: str) -> str:
    """Normalise one review text: no HTML, URLs or invisible characters; single spaces."""
    if not isinstance(text, str) or not text:
        return ""
    text = html.unescape(html.unescape(text))  # Amazon text is sometimes escaped twice
    text = _BREAK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits, with an apostrophe suffix: "don't")."""
    return _TOKEN.findall(text.lower())


def remove_stop_words(tokens: list[str]) -> list[str]:
    """Drop English stop words (scikit-learn's list), for the classic text baselines."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [token for token in tokens if token not in ENGLISH_STOP_WORDS]


def add_sentiment(reviews: pd.DataFrame) -> pd.DataFrame:
    """Add ``schema.SENTIMENT``: 1 for 4-5 stars, 0 for 1-2 stars, -1 (neutral) for 3 stars.

    The sentiment lessons leave neutral reviews out of training and evaluation: a 3-star
    review is often mixed, and calling it either side would teach the model noise.
    """
    rating = reviews[schema.RATING].to_numpy()
    sentiment = np.where(rating >= 4, 1, np.where(rating <= 2, 0, -1)).astype("int8")
    return reviews.assign(**{schema.SENTIMENT: sentiment})


def sentiment_examples(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` usable as sentiment examples: not neutral (3 stars), text not
    empty; ``schema.SENTIMENT`` added (by :func:`add_sentiment`) when missing."""
    if schema.SENTIMENT not in frame:
        frame = add_sentiment(frame)
    text = frame[schema.TEXT].fillna("").astype(str)
    keep = (frame[schema.SENTIMENT] >= 0) & (text.str.strip() != "")
    return frame.loc[keep].assign(**{schema.TEXT: text[keep]})


@dataclasses.dataclass
class CleaningReport:
    """Rows removed by :func:`clean_reviews` (one row each, with reason) and summary counts."""

    removed: pd.DataFrame
    rows_in: int
    rows_out: int
    texts_changed: int
    empty_texts: int

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.removed["reason"].value_counts().items()}

    def summary(self) -> str:
        lines = [f"{self.rows_in:,} reviews in, {self.rows_out:,} kept, "
                 f"{self.rows_in - self.rows_out:,} removed; {self.texts_changed:,} texts "
                 f"normalised; {self.empty_texts:,} kept with empty text"]
        lines += [f"  removed {count:,} x {reason}" for reason, count in self.counts().items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"rows_in": self.rows_in, "rows_out": self.rows_out,
                "texts_changed": self.texts_changed, "empty_texts": self.empty_texts,
                "removed": self.counts()}

    def __str__(self) -> str:
        return self.summary()


def _removed(frame: pd.DataFrame, reason: str, detail) -> pd.DataFrame:
    return pd.DataFrame({
        schema.ORDER: frame[schema.ORDER].to_numpy(), schema.USER: frame[schema.USER].to_numpy(),
        schema.ITEM: frame[schema.ITEM].to_numpy(), "reason": reason, "detail": detail,
    })


def _drop_duplicates(frame: pd.DataFrame, keys: list[str], reason: str, what: str):
    """Keep the first row of each group of ``keys`` (frame is sorted by time, then order)."""
    duplicated = frame.duplicated(keys, keep="first")
    first_order = frame.groupby(keys, sort=False)[schema.ORDER].transform("first")
    detail = [f"{what} of the review at order {o}" for o in first_order[duplicated]]
    return frame[~duplicated], _removed(frame[duplicated], reason, detail)


def k_core(frame: pd.DataFrame, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Repeatedly drop users and items with fewer than ``k`` reviews; returns (kept, removed)."""
    removed = []
    for round_number in range(1, 1000):
        user_counts = frame[schema.USER].map(frame[schema.USER].value_counts())
        item_counts = frame[schema.ITEM].map(frame[schema.ITEM].value_counts())
        low = (user_counts < k) | (item_counts < k)
        if not low.any():
            break
        detail = np.where(user_counts[low] < k, f"user has < {k} reviews",
                          f"item has < {k} reviews")
        removed.append(_removed(frame[low], f"{k}-core filter",
                                [f"{d} (round {round_number})" for d in detail]))
        frame = frame[~low]
    return frame, (pd.concat(removed) if removed else _removed(frame.iloc[:0], "", []))


def clean_reviews(reviews: pd.DataFrame,
                  k: int | None = None) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean a reviews frame (schema columns); returns (clean frame, report).

    The clean frame is sorted by user, time and file order and has a fresh index.
    """
    missing = [c for c in schema.REVIEW_COLUMNS if c not in reviews.columns]
    if missing:
        raise ValueError(f"reviews frame lacks columns {missing}; "
                         f"expected {list(schema.REVIEW_COLUMNS)}")
    frame = reviews.sort_values([schema.USER, schema.TIMESTAMP, schema.ORDER], kind="stable")
    texts = frame[schema.TEXT].map(clean_text)
    changed = int((texts != frame[schema.TEXT].fillna("")).sum())
    frame = frame.assign(**{schema.TEXT: texts,
                            schema.SUMMARY: frame[schema.SUMMARY].map(clean_text)})

    frame, dup_pairs = _drop_duplicates(frame, [schema.USER, schema.ITEM],
                                        "duplicate (user, item)", "later duplicate")
    has_text = frame[schema.TEXT] != ""
    kept, same_time = _drop_duplicates(frame[has_text],
                                       [schema.USER, schema.TEXT, schema.TIMESTAMP],
                                       "same review on several items", "copy")
    kept, reposted = _drop_duplicates(kept, [schema.USER, schema.TEXT],
                                      "same review posted again on another item", "repost")
    frame = pd.concat([kept, frame[~has_text]]).sort_values(
        [schema.USER, schema.TIMESTAMP, schema.ORDER], kind="stable")
    removed = [dup_pairs, same_time, reposted]
    if k:
        frame, core_removed = k_core(frame, k)
        removed.append(core_removed)
    frame = frame.reset_index(drop=True)
    report = CleaningReport(
        removed=pd.concat(removed, ignore_index=True).sort_values(schema.ORDER, kind="stable"),
        rows_in=len(reviews), rows_out=len(frame), texts_changed=changed,
        empty_texts=int((frame[schema.TEXT] == "").sum()),
    )
    return frame, report
