"""Evaluating a sentiment classifier, and the baselines a fine-tuned model must beat.

Reviews are mostly positive, so **accuracy flatters**: saying "positive" to everything scores
the share of positive reviews. Macro-F1 (the unweighted mean of the F1 of each class) does not:
that majority-class baseline gets F1 0 on the negative class, so its macro-F1 is below 0.5.

Two baselines, "before fine-tuning":

* :func:`majority_baseline`: the most common training label, always;
* :func:`frozen_embedding_baseline`: the pretrained encoder left as it is (mean-pooled sentence
  vectors from :class:`TextEmbedder`) with a logistic regression on top, trained on the same
  examples as the fine-tuned model.
"""

from __future__ import annotations

import numpy as np

from textrec import config
from textrec.data import schema
from textrec.text.sentiment_data import LABELS, sentiment_frame


def sentiment_metrics(labels, predictions) -> dict:
    """Accuracy, macro-F1, the classification report (dict and text) and confusion matrix.

    ``labels`` and ``predictions`` are 0 (negative) / 1 (positive), shape [number of texts].
    ``confusion_matrix[i][j]`` counts texts of true class i predicted as class j.
    """
    from sklearn import metrics

    labels, predictions = np.asarray(labels).astype(int), np.asarray(predictions).astype(int)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.shape[0]} labels but {predictions.shape[0]} predictions")
    options = {"labels": [0, 1], "target_names": list(LABELS), "zero_division": 0}
    return {
        "n": int(len(labels)),
        "accuracy": float(metrics.accuracy_score(labels, predictions)),
        "macro_f1": float(metrics.f1_score(labels, predictions, labels=[0, 1], average="macro",
                                           zero_division=0)),
        "report": metrics.classification_report(labels, predictions, output_dict=True, **options),
        "report_text": metrics.classification_report(labels, predictions, digits=3, **options),
        "confusion_matrix": metrics.confusion_matrix(labels, predictions, labels=[0, 1]).tolist(),
    }


def binary_macro_f1(labels, predictions) -> float:
    """Macro-F1 of 0/1 predictions, in NumPy (a class with no true and no predicted example
    scores 0, as with ``zero_division=0``): fast enough to be resampled a thousand times."""
    labels, predictions = np.asarray(labels).astype(bool), np.asarray(predictions).astype(bool)
    scores = []
    for truth, guess in ((labels, predictions), (~labels, ~predictions)):
        true_positive = np.sum(truth & guess)
        denominator = truth.sum() + guess.sum()
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def evaluate_sentiment(model_or_result, frame, threshold: float = 0.5) -> dict:
    """:func:`sentiment_metrics` of a model on the non-neutral, non-empty reviews of ``frame``.

    ``model_or_result``: anything with ``predict_proba(texts) -> [number of texts]``
    probabilities of "positive" (a :class:`FineTuneResult`, a loaded :class:`FineTunedSentiment`),
    or such a function itself. A text is called positive when its probability is at least
    ``threshold``. The result also holds the ``probabilities``.
    """
    examples = sentiment_frame(frame)
    predict = getattr(model_or_result, "predict_proba", model_or_result)
    if not callable(predict):
        raise TypeError("model_or_result needs a predict_proba(texts) method, or is a function")
    probabilities = np.asarray(predict(examples[schema.TEXT].tolist()), np.float64).reshape(-1)
    labels = examples[schema.SENTIMENT].to_numpy()
    result = sentiment_metrics(labels, probabilities >= threshold)
    result["probabilities"] = probabilities
    return result


def majority_baseline(train_frame, eval_frame) -> dict:
    """Metrics of always predicting the most common sentiment of ``train_frame``."""
    majority = int(sentiment_frame(train_frame)[schema.SENTIMENT].mode().iloc[0])
    labels = sentiment_frame(eval_frame)[schema.SENTIMENT].to_numpy()
    return sentiment_metrics(labels, np.full(len(labels), majority))


def frozen_embedding_baseline(train_frame, eval_frame, embedder=None,
                              seed: int = config.SEED) -> dict:
    """Metrics of a logistic regression on frozen sentence vectors.

    The encoder is not trained: each review becomes its mean-pooled, unit-length vector
    (``embedder``, default ``TextEmbedder()``), and a class-balanced logistic regression
    learns the sentiment from the vectors of ``train_frame``. ``eval_frame`` is then scored.
    """
    from sklearn.linear_model import LogisticRegression

    from textrec.text.embedding import TextEmbedder

    embedder = embedder or TextEmbedder()
    train, evaluation = sentiment_frame(train_frame), sentiment_frame(eval_frame)
    classifier = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    classifier.fit(embedder.embed(train[schema.TEXT].tolist()), train[schema.SENTIMENT])
    vectors = embedder.embed(evaluation[schema.TEXT].tolist())
    result = sentiment_metrics(evaluation[schema.SENTIMENT], classifier.predict(vectors))
    result["probabilities"] = classifier.predict_proba(vectors)[:, 1]
    return result
