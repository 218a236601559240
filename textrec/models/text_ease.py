"""EASE with side information from review text, and a blend of collaborative and text scores.

EASE (:mod:`textrec.models.item_based`) learns an item-item matrix from the interactions
``X`` [n users, n items] alone. Text enters the same closed form in two ways (Jeunen et al.,
"Closed-form models for collaborative filtering with side-information", RecSys 2020, stack
item tags under ``X``; here the "tags" are text):

* **user text columns**: each user's text vector ``u`` (TF-IDF of the words of their reviews,
  or the mean MiniLM vector of their reviews) is appended to their row, ``[X, alpha U]``, so
  the model also learns which words predict which items;
* **item text rows**: each text dimension becomes a pseudo-user whose "interactions" are the
  items' text coordinates ``sqrt(beta) V^T`` (``V`` [n items, dim], unit item text vectors),
  which adds ``beta V V^T`` (the item-text similarity) to the Gram matrix.

EASE on the stacked matrix ``Z = [[X, alpha U], [sqrt(beta) V^T, 0]]``:
``G = Z^T Z + l2 I``, ``P = G^-1``, ``B = I - P / diag(P)``, and a user's scores are
``[x, alpha u] B[:, items]``. With ``alpha = beta = 0`` it is EASE exactly. The word block of
``G`` is never formed: by the block inverse and the push-through identity only the users x
users kernel ``U U^T`` is inverted, so a vocabulary of 10,000 words costs what 1,000 do. A
separate ridge on the word columns would add nothing: only the item columns of ``B`` are
used, and a ridge ``l2_w`` on the words with weight ``alpha`` gives the same item weights as
``l2`` with weight ``alpha sqrt(l2 / l2_w)``, so ``alpha`` is the one knob.

A **blend** adds ``gamma`` times the text-only score ``u . v`` (lesson 03) to the EASE score,
each standardised per user (mean 0, standard deviation 1 over the items); with
``blend_activity`` ``c`` the weight of a user with ``n`` interactions in their history is
``gamma c / (c + n)``: text counts most for the users with the least history.

No leakage by construction: the model reads only the reviews of the interactions present in the
matrix it is fitted on (and, when scoring, in the history it is given); the vocabulary, the
IDF weights and every vector are rebuilt from those reviews. Fitted on train it reads train
reviews; refitted on train + validation, train and validation reviews; a held-out review is
never in the matrix, so its text cannot change a score (``tests/test_text_ease.py`` checks).

NumPy, SciPy and pandas only; review vectors from the encoder are given, not computed here.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec.data import schema
from textrec.data.review_vectors import normalize_rows
from textrec.models.item_based import _binary_csr, _check_fitted

TEXT_KINDS = ("tfidf", "lm")
_TOKEN = re.compile(r"[a-z][a-z0-9']+")
STOP_WORDS = frozenset("""a an and are as at be been but by for from had has have he her his i if
in into is it it's its just me my no not of on or our so than that the their them then there
these they this to too was we were what when which who will with would you your i'm i've don't
very can one all get got also do does did more up out about only like""".split())


def tokenize(text) -> list[str]:
    """Lower-case words of ``text`` (letters first, then letters, digits or '), stop words
    removed; a non-string gives no words."""
    if not isinstance(text, str):
        return []
    return [word for word in _TOKEN.findall(text.lower()) if word not in STOP_WORDS]


@dataclasses.dataclass
class ReviewText:
    """Reviews keyed by the (user row, item column) of an interaction matrix.

    ``users``, ``items``: int [n reviews]; ``tokens``: the words of each review;
    ``vectors``: float32 [n reviews, dim] encoder vectors (or None: TF-IDF only).
    """

    users: np.ndarray
    items: np.ndarray
    tokens: list
    vectors: np.ndarray | None
    n_users: int
    n_items: int
    n_dropped: int = 0

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, user_ids, item_ids, vectors=None,
                   columns=(schema.SUMMARY, schema.TEXT)) -> "ReviewText":
        """The reviews of ``frame`` over the order of ``user_ids`` x ``item_ids`` (e.g. an
        :class:`InteractionData`'s); ``vectors`` [len(frame), dim] aligned with ``frame``.
        Rows with unknown users or items are dropped and counted in ``n_dropped``."""
        missing = [c for c in (schema.USER, schema.ITEM) if c not in frame.columns]
        if missing:
            raise ValueError(f"ReviewText.from_frame: the frame has no column(s) {missing}")
        if vectors is not None and len(vectors) != len(frame):
            raise ValueError(f"ReviewText.from_frame: {len(vectors)} vectors for "
                             f"{len(frame)} reviews; give one per row")
        users = pd.Index(user_ids).get_indexer(frame[schema.USER])
        items = pd.Index(item_ids).get_indexer(frame[schema.ITEM])
        known = (users >= 0) & (items >= 0)
        present = [c for c in columns if c in frame.columns]
        if not present:
            raise ValueError(f"ReviewText.from_frame: the frame has none of the text columns "
                             f"{list(columns)}")
        texts = frame[present].fillna("").astype(str).agg(" ".join, axis=1).to_numpy()
        tokens = [tokenize(text) for text in texts[known]]
        kept = None if vectors is None else np.asarray(vectors, np.float32)[known]
        return cls(users[known], items[known], tokens, kept, len(user_ids), len(item_ids),
                   int((~known).sum()))

    def rows_in(self, interactions) -> np.ndarray:
        """Indices of the reviews whose interaction is in the binary ``interactions``
        [n users, n items]: the only reviews a model fitted or scored on it may read."""
        if interactions.shape != (self.n_users, self.n_items):
            raise ValueError(f"interactions have shape {interactions.shape}; the reviews are "
                             f"keyed by {(self.n_users, self.n_items)} users x items")
        x = sp.csr_matrix(interactions)
        present = np.asarray(x[self.users, self.items]).ravel() != 0
        return np.flatnonzero(present)


def fit_vocabulary(token_lists, max_words: int, min_df: int) -> dict:
    """The ``max_words`` words found in most reviews (at least ``min_df``; ties by the word),
    as {word: column}, columns in alphabetical order."""
    counts = collections.Counter()
    for tokens in token_lists:
        counts.update(set(tokens))
    words = sorted((w for w, c in counts.items() if c >= min_df), key=lambda w: (-counts[w], w))
    return {word: column for column, word in enumerate(sorted(words[:max_words]))}


def count_matrix(token_lists, vocabulary: dict) -> sp.csr_matrix:
    """Word counts float64 [len(token_lists), len(vocabulary)] (words outside it ignored)."""
    rows, columns = [], []
    for row, tokens in enumerate(token_lists):
        found = [vocabulary[w] for w in tokens if w in vocabulary]
        rows.extend([row] * len(found))
        columns.extend(found)
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, columns)),
                           shape=(len(token_lists), len(vocabulary)))
    matrix.sum_duplicates()
    return matrix


def sum_by(keys, rows, n_keys: int):
    """Sum the ``rows`` [n, dim] (dense or sparse) of each key: [n_keys, dim]."""
    keys = np.asarray(keys, np.int64)
    indicator = sp.csr_matrix((np.ones(len(keys)), (keys, np.arange(len(keys)))),
                              shape=(n_keys, len(keys)))
    summed = indicator @ rows
    return summed.toarray() if sp.issparse(summed) else np.asarray(summed)


def _sum_rows(keys, rows, n_keys: int):
    """Like :func:`sum_by`, keeping sparse rows sparse (CSR)."""
    if not sp.issparse(rows):
        return sum_by(keys, rows, n_keys)
    keys = np.asarray(keys, np.int64)
    indicator = sp.csr_matrix((np.ones(len(keys)), (keys, np.arange(len(keys)))),
                              shape=(n_keys, len(keys)))
    return sp.csr_matrix(indicator @ rows)


def standardize_rows(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean, divided by its standard deviation (constant rows give 0)."""
    scores = np.asarray(scores, np.float64)
    centred = scores - scores.mean(axis=1, keepdims=True)
    spread = scores.std(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 1e-12)


def unit_rows(matrix):
    """Rows scaled to unit length (zero rows stay zero); sparse stays sparse (CSR)."""
    if sp.issparse(matrix):
        matrix = sp.csr_matrix(matrix, dtype=np.float64)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 1e-12)
        return sp.csr_matrix(sp.diags(scale) @ matrix)
    return normalize_rows(matrix)[0].astype(np.float64)


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix, np.float64)


def side_information_weights(interactions, l2: float, user_text=None, item_text=None,
                             word_weight: float = 0.0, similarity_weight: float = 0.0):
    """EASE on ``Z = [[X, alpha U], [sqrt(beta) V^T, 0]]``: float64 [n items + dim U, n items],
    the item columns of ``B = I - P / diag(P)``, ``P = (Z^T Z + l2 I)^-1``.

    ``user_text`` U [n users, dim U] and ``item_text`` V [n items, dim V] (dense or sparse) may
    be None when their weight (``word_weight`` alpha, ``similarity_weight`` beta) is 0.

    Computed without the [dim U, dim U] word block: with ``W = (alpha^2 U U^T + l2 I)^-1``
    [n users, n users], the item block of ``P`` is
    ``(X^T X + beta V V^T + l2 I - alpha^2 X^T U U^T W X)^-1`` and its word rows are
    ``-alpha U^T W X P_items``.
    """
    if not l2 > 0:
        raise ValueError(f"l2 must be positive, got {l2}")
    if word_weight < 0 or similarity_weight < 0:
        raise ValueError("word_weight and similarity_weight must be >= 0")
    x = _binary_csr(interactions)
    gram = (x.T @ x).toarray()                                       # [items, items]
    if similarity_weight > 0:
        v = item_text if sp.issparse(item_text) else np.asarray(item_text, np.float64)
        gram += similarity_weight * _dense(v @ v.T)
    gram[np.diag_indices_from(gram)] += l2
    if word_weight > 0:
        u = user_text if sp.issparse(user_text) else np.asarray(user_text, np.float64)
        kernel = _dense(u @ u.T)                                     # [users, users]
        inner = word_weight ** 2 * kernel
        inner[np.diag_indices_from(inner)] += l2
        solved = np.linalg.solve(inner, x.toarray())                 # W X [users, items]
        gram -= word_weight ** 2 * np.asarray(x.T @ (kernel @ solved))
    precision = np.linalg.inv(gram)                                  # P[items, items]
    diagonal = np.diag(precision).copy()
    weights = precision / -diagonal[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    if word_weight > 0:
        words = word_weight * np.asarray(u.T @ (solved @ precision))  # -P[words, items]
        weights = np.vstack([weights, words / diagonal[np.newaxis, :]])
    return weights


class TextEASE:
    """EASE with users' text as extra columns and item-text similarity in the Gram matrix,
    optionally blended with the text-only scores. Fits on an interaction matrix and reads only
    the reviews of the interactions in it.

    Args:
      reviews: a :class:`ReviewText` over the same users and items as the matrices.
      l2: EASE's lambda.
      word_weight: alpha, the weight of the user text columns (0: none).
      similarity_weight: beta, the weight of the item-text similarity ``V V^T`` (0: none).
      blend_weight: gamma, the weight of the standardised text-only scores (0: none).
      text: "tfidf" (review words, the vocabulary fitted on the reviews read) or "lm" (the
        encoder vectors of ``reviews``).
      max_words, min_df: the TF-IDF vocabulary: at most ``max_words`` words in at least
        ``min_df`` of the reviews read.
      normalize_reviews: scale each review's TF-IDF vector to unit length before summing a
        user's or an item's (each review counts once, however long).
      blend_activity: None (the same ``gamma`` for everyone) or ``c``: a user with ``n``
        interactions in the history scored gets ``gamma c / (c + n)``.
      center: subtract the mean item text vector before the similarity (MiniLM vectors all
        point one way, so raw cosines are high for every pair of items).
    """

    name = "text-EASE"

    def __init__(self, reviews: ReviewText, l2: float = 100.0, word_weight: float = 0.0,
                 similarity_weight: float = 0.0, blend_weight: float = 0.0, text: str = "tfidf",
                 max_words: int = 10000, min_df: int = 2, normalize_reviews: bool = True,
                 blend_activity: float | None = None, center: bool | None = None):
        if text not in TEXT_KINDS:
            raise ValueError(f"text must be one of {TEXT_KINDS}, got {text!r}")
        if text == "lm" and reviews.vectors is None:
            raise ValueError("text='lm' needs encoder vectors: build ReviewText with vectors=")
        if blend_weight < 0:
            raise ValueError(f"blend_weight must be >= 0, got {blend_weight}")
        if blend_activity is not None and not blend_activity > 0:
            raise ValueError(f"blend_activity must be None or > 0, got {blend_activity}")
        self.reviews = reviews
        self.l2, self.word_weight = float(l2), float(word_weight)
        self.similarity_weight, self.blend_weight = float(similarity_weight), float(blend_weight)
        self.text, self.max_words, self.min_df = text, int(max_words), int(min_df)
        self.normalize_reviews = bool(normalize_reviews)
        self.blend_activity = None if blend_activity is None else float(blend_activity)
        self.center = (text == "lm") if center is None else bool(center)
        self.weights = self.item_vectors = self.vocabulary = self.idf = None

    def params(self) -> dict:
        return {"l2": self.l2, "word_weight": self.word_weight,
                "similarity_weight": self.similarity_weight, "blend_weight": self.blend_weight,
                "blend_activity": self.blend_activity, "text": self.text}

    def _uses_text(self) -> bool:
        return self.word_weight > 0 or self.similarity_weight > 0 or self.blend_weight > 0

    def review_vectors(self, rows: np.ndarray):
        """The text vectors of the reviews ``rows``: TF-IDF (log(1 + count) x IDF, sparse CSR,
        unit rows with ``normalize_reviews``) or the encoder's, [len(rows), dim]."""
        if self.text == "lm":
            return self.reviews.vectors[rows].astype(np.float64)
        counts = count_matrix([self.reviews.tokens[r] for r in rows], self.vocabulary)
        counts.data = np.log1p(counts.data)
        weighted = sp.csr_matrix(counts @ sp.diags(self.idf))
        return unit_rows(weighted) if self.normalize_reviews else weighted

    def user_vectors(self, interactions):
        """Unit text vectors of every user from their reviews of the items in
        ``interactions``: float64 [n users, dim] (sparse for TF-IDF); users without such
        reviews get zeros."""
        rows = self.reviews.rows_in(interactions)
        return unit_rows(_sum_rows(self.reviews.users[rows], self.review_vectors(rows),
                                   self.reviews.n_users))

    def fit_text(self, x) -> tuple:
        """From the reviews of ``x``: the vocabulary and IDF (TF-IDF), the unit item text
        vectors ``item_vectors`` [n items, dim]; returns (U or None, V for the similarity)."""
        rows = self.reviews.rows_in(x)
        if self.text == "tfidf":
            tokens = [self.reviews.tokens[r] for r in rows]
            self.vocabulary = fit_vocabulary(tokens, self.max_words, self.min_df)
            frequency = np.asarray((count_matrix(tokens, self.vocabulary) > 0).sum(axis=0))
            self.idf = np.log((1 + len(rows)) / (1 + frequency.ravel())) + 1.0
        self.item_vectors = unit_rows(_sum_rows(self.reviews.items[rows],
                                                self.review_vectors(rows), self.reviews.n_items))
        item_text = self.item_vectors
        if self.center:
            item_text = _dense(item_text)
            has_text = np.linalg.norm(item_text, axis=1) > 0
            centred = np.where(has_text[:, None], item_text - item_text[has_text].mean(0), 0.0)
            item_text = normalize_rows(centred)[0].astype(np.float64)
        user_text = self.user_vectors(x) if self.word_weight > 0 else None
        return user_text, item_text

    def fit(self, interactions) -> "TextEASE":
        """Fit on the binary ``interactions`` [n users, n items], reading their reviews only."""
        x = _binary_csr(interactions)
        user_text, item_text = self.fit_text(x) if self._uses_text() else (None, None)
        self.weights = side_information_weights(x, self.l2, user_text, item_text,
                                                self.word_weight, self.similarity_weight)
        return self

    def score(self, history) -> np.ndarray:
        """float32 [n users, n items]: ``[x, alpha u] B`` for each user's binary ``history``
        [n users, n items] and the text ``u`` of its reviews, plus ``gamma`` x text-only
        (both standardised per user) when blending."""
        weights = _check_fitted(self.weights, self.name)
        x = _binary_csr(history)
        n_items = x.shape[1]
        if weights.shape[1] != n_items:
            raise ValueError(f"history has {n_items} items; the model was fitted on "
                             f"{weights.shape[1]}")
        scores = np.asarray(x @ weights[:n_items])
        users = self.user_vectors(x) if self._uses_text() else None
        if self.word_weight > 0:
            scores += self.word_weight * np.asarray(users @ weights[n_items:])
        if self.blend_weight > 0:
            text_scores = _dense(users @ self.item_vectors.T)
            weight = self.blend_weight
            if self.blend_activity is not None:
                activity = np.asarray(x.sum(axis=1), np.float64)             # [users, 1]
                weight = weight * self.blend_activity / (self.blend_activity + activity)
            scores = standardize_rows(scores) + weight * standardize_rows(text_scores)
        return scores.astype(np.float32)


class TextOnly(TextEASE):
    """Scores ``u . v``: the user's and the item's unit text vectors from the reviews read
    (lesson 03's text-only recommender, fitted like the matrix models). Users without text get
    the items' popularity in the fit matrix, scaled below any cosine gap, so it only orders."""

    name = "text-only"

    def __init__(self, reviews: ReviewText, text: str = "lm", max_words: int = 10000,
                 min_df: int = 2, normalize_reviews: bool = True):
        super().__init__(reviews, blend_weight=1.0, text=text, max_words=max_words,
                         min_df=min_df, normalize_reviews=normalize_reviews, center=False)
        self.popularity = None

    def params(self) -> dict:
        return {"text": self.text}

    def fit(self, interactions) -> "TextOnly":
        x = _binary_csr(interactions)
        self.fit_text(x)
        popularity = np.asarray(x.sum(axis=0)).ravel()
        self.popularity = popularity / max(popularity.max(), 1.0)
        self.weights = self.item_vectors  # marks the model as fitted
        return self

    def score(self, history) -> np.ndarray:
        _check_fitted(self.weights, self.name)
        scores = _dense(self.user_vectors(_binary_csr(history)) @ self.item_vectors.T)
        return (scores + 1e-6 * self.popularity).astype(np.float32)
