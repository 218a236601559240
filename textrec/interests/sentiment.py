"""Per-review sentiment: the probability that a review is positive, read from its text.

Two scorers, both with ``predict_proba(texts) -> float array [n]``:

* the encoder fine-tuned on sentiment in lesson 02 (``textrec.text.load_finetuned``), when it
  has been saved;
* otherwise :class:`FrozenEncoderSentiment`: a logistic regression on the frozen
  :class:`~textrec.text.TextEmbedder` vectors, trained on the TRAIN reviews' star labels only
  (4-5 stars positive, 1-2 negative, 3 left out). Ratings are skewed positive, so the classes
  are balanced by weight: its probabilities rank reviews well but are not calibrated shares.

:func:`load_sentiment_scorer` picks one and says which (``SentimentScorer.kind``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.data.cleaning import sentiment_examples

FINETUNED = "fine-tuned encoder (lesson 02)"
FROZEN = "logistic regression on frozen encoder vectors"


class FrozenEncoderSentiment:
    """Logistic regression on frozen sentence vectors: P(positive | text).

    Args:
      embedder: a :class:`~textrec.text.TextEmbedder` (its cache makes repeated texts free).
      regularization: the inverse strength ``C`` of scikit-learn's L2 penalty.
    """

    def __init__(self, embedder, regularization: float = 1.0, seed: int = 0):
        from sklearn.linear_model import LogisticRegression

        self.embedder = embedder
        self.classifier = LogisticRegression(C=regularization, class_weight="balanced",
                                             max_iter=2000, random_state=seed)
        self.n_train = 0

    def fit(self, texts, labels, vectors: np.ndarray | None = None) -> "FrozenEncoderSentiment":
        """Train on ``texts`` with binary ``labels`` (1 positive, 0 negative); ``vectors``
        [n, dim] may be given when the texts were embedded already."""
        labels = np.asarray(labels)
        if set(np.unique(labels)) != {0, 1}:
            raise ValueError("labels must hold both classes, 0 (negative) and 1 (positive); "
                             "drop neutral reviews (sentiment -1) first")
        vectors = self.embedder.embed(list(texts)) if vectors is None else vectors
        self.classifier.fit(vectors, labels)
        self.n_train = len(labels)
        return self

    def predict_proba_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """P(positive) of each row of ``vectors`` [n, dim]: float array [n]."""
        return self.classifier.predict_proba(np.asarray(vectors))[:, 1]

    def predict_proba(self, texts) -> np.ndarray:
        """P(positive) of each text: float array [n]."""
        texts = list(texts)
        if not texts:
            return np.zeros(0)
        return self.predict_proba_vectors(self.embedder.embed(texts))


class SentimentScorer:
    """A sentiment model and a line saying which one it is.

    ``kind`` is :data:`FINETUNED` or :data:`FROZEN`; ``model`` the wrapped scorer.
    """

    def __init__(self, model, kind: str, detail: str = ""):
        self.model, self.kind, self.detail = model, kind, detail

    def predict_proba(self, texts) -> np.ndarray:
        """P(positive) of each text: float array [n]. Blank texts get 0.5 (no opinion)."""
        texts = ["" if not isinstance(t, str) else t for t in texts]
        blank = np.array([not t.strip() for t in texts], bool)
        out = np.full(len(texts), 0.5)
        if (~blank).any():
            scored = self.model.predict_proba([t for t, b in zip(texts, blank) if not b])
            out[~blank] = np.asarray(scored, float).ravel()
        return out

    def describe(self) -> str:
        return f"sentiment: {self.kind}" + (f" ({self.detail})" if self.detail else "")

    def __repr__(self) -> str:
        return f"SentimentScorer({self.describe()})"


def sentiment_training_data(train: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Texts and binary labels of the non-neutral, non-empty TRAIN reviews (the examples of
    lesson 02, :func:`textrec.data.cleaning.sentiment_examples`)."""
    labelled = sentiment_examples(train)
    return labelled[schema.TEXT].tolist(), labelled[schema.SENTIMENT].to_numpy(int)


def fit_frozen_sentiment(train: pd.DataFrame, embedder,
                         regularization: float = 1.0) -> SentimentScorer:
    """:class:`FrozenEncoderSentiment` trained on ``train`` (the TRAIN reviews only)."""
    texts, labels = sentiment_training_data(train)
    model = FrozenEncoderSentiment(embedder, regularization).fit(texts, labels)
    share = labels.mean()
    return SentimentScorer(model, FROZEN, f"{embedder.name}, {len(labels):,} train reviews, "
                                          f"{share:.0%} positive")


def load_sentiment_scorer(train: pd.DataFrame, embedder, prefer_finetuned: bool = True,
                          folder=None) -> SentimentScorer:
    """The fine-tuned model of lesson 02 when one tuned on these same ``train`` reviews is saved
    (and ``prefer_finetuned``), else a frozen-encoder logistic regression trained on
    ``train``. Prints which one it uses."""
    if prefer_finetuned:
        try:
            from textrec.text import load_finetuned

            scorer = SentimentScorer(load_finetuned(folder, data=train), FINETUNED)
        except FileNotFoundError as error:
            print(f"no fine-tuned sentiment model ({type(error).__name__}: {error}); "
                  "training the frozen-encoder fallback")
        else:
            print(scorer.describe())
            return scorer
    scorer = fit_frozen_sentiment(train, embedder)
    print(scorer.describe())
    return scorer
