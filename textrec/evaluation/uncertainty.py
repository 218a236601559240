"""How sure is a metric? Bootstrap intervals over users and paired tests between two models.

A mean over users is an estimate: with 1,400 test users, each with one held-out item, NDCG@10
moves by a few thousandths when the users change. Both tools resample *users*, the unit that
was sampled:

* :func:`bootstrap_ci`: draw n users with replacement ``n_resamples`` times, take the mean each
  time, and report the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of
  those means (the percentile method). Seeded: the same inputs give the same interval.
* :func:`paired_test`: two models scored on the *same* users. The per-user differences
  ``d = a - b`` carry the comparison; their mean's interval comes from the bootstrap, and the
  p-value from a sign-flip permutation test (under "no difference", each user's ``d`` is as
  likely to be ``-d``) or from the paired bootstrap. Pairing removes the variation between
  users, so it detects differences that two overlapping intervals hide.
* :func:`paired_bootstrap`: the same pairing for a metric that is not a mean over examples
  (macro-F1 of two classifiers on the same reviews): both are scored on each resample.

NaN entries (users without a target) are dropped; in a paired test, users missing from either
model are dropped from both.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 2**22  # resampled values held at once (~32 MB of float64)


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError("no values to resample (all NaN or empty)")
    return values


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def bootstrap_means(values, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """Means of ``n_resamples`` resamples (with replacement, same size) of the non-NaN
    ``values``: float [n_resamples]. Vectorised in chunks of resamples."""
    values = _finite(values)
    if n_resamples <= 0:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    rng = np.random.default_rng(seed)
    n = values.size
    step = max(1, _CHUNK_ELEMENTS // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, step):
        stop = min(start + step, n_resamples)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def bootstrap_ci(values, confidence: float = 0.95, n_resamples: int = 1000,
                 seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean of the non-NaN ``values`` and its percentile bootstrap
    interval at ``confidence``."""
    _check_confidence(confidence)
    values = _finite(values)
    means = bootstrap_means(values, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


def _paired(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must line up user by user; got {a.shape} and {b.shape}")
    both = ~(np.isnan(a) | np.isnan(b))
    if not both.any():
        raise ValueError("no user has a value for both models")
    return a[both] - b[both]


def permutation_p_value(differences, n_resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value of ``mean(differences) != 0``:
    ``(1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + n_resamples)`` over random signs ``s``."""
    d = _finite(differences)
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    step = max(1, _CHUNK_ELEMENTS // d.size)
    extreme = 0
    for start in range(0, n_resamples, step):
        stop = min(start + step, n_resamples)
        signs = rng.integers(0, 2, size=(stop - start, d.size)) * 2 - 1
        extreme += int((np.abs((signs * d).mean(axis=1)) >= observed - 1e-12).sum())
    return (1 + extreme) / (1 + n_resamples)


def paired_test(a, b, method: str = "permutation", confidence: float = 0.95,
                n_resamples: int = 10_000, seed: int = 0) -> dict:
    """Compare models a and b on the same users from their per-user metric values.

    Returns ``mean_a``, ``mean_b``, ``difference`` (mean of a - b), ``low`` and ``high`` (its
    percentile bootstrap interval), ``p_value`` (two-sided; ``method`` "permutation": sign-flip
    test; "bootstrap": twice the smaller share of bootstrap means of the difference on either
    side of 0), ``n_users`` and ``method``.
    """
    if method not in ("permutation", "bootstrap"):
        raise ValueError(f"method must be 'permutation' or 'bootstrap', got {method!r}")
    _check_confidence(confidence)
    a_values, b_values = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    d = _paired(a_values, b_values)
    both = ~(np.isnan(a_values) | np.isnan(b_values))
    means = bootstrap_means(d, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    if method == "permutation":
        p_value = permutation_p_value(d, n_resamples, seed)
    else:
        p_value = float(min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean())))
    return {"mean_a": float(a_values[both].mean()), "mean_b": float(b_values[both].mean()),
            "difference": float(d.mean()), "low": float(low), "high": float(high),
            "p_value": float(p_value), "n_users": int(d.size), "method": method}


def paired_bootstrap(metric, labels, predictions_a, predictions_b, confidence: float = 0.95,
                     n_resamples: int = 1000, seed: int = 0) -> dict:
    """Compare two classifiers on the same examples with a metric that is not a mean over them
    (macro-F1): resample the examples with replacement, score both on each resample.

    ``metric(labels, predictions) -> float``. Returns ``mean_a``, ``mean_b`` (the metric on all
    examples), ``difference`` (a - b), ``low`` and ``high`` (the percentile interval of the
    resampled differences) and ``n``.
    """
    _check_confidence(confidence)
    labels = np.asarray(labels).ravel()
    a, b = np.asarray(predictions_a).ravel(), np.asarray(predictions_b).ravel()
    if not labels.size or labels.shape != a.shape or a.shape != b.shape:
        raise ValueError(f"labels and both predictions must be non-empty and of one length, got "
                         f"{labels.shape}, {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    differences = np.empty(n_resamples)
    for index in range(n_resamples):
        rows = rng.integers(0, labels.size, labels.size)
        differences[index] = metric(labels[rows], a[rows]) - metric(labels[rows], b[rows])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    mean_a, mean_b = float(metric(labels, a)), float(metric(labels, b))
    return {"mean_a": mean_a, "mean_b": mean_b, "difference": mean_a - mean_b,
            "low": float(low), "high": float(high), "n": int(labels.size)}
