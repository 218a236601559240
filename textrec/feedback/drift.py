"""Drift during a replay: how far users' interests and the item mix move from the cut-off.

* Item mix: the Jensen-Shannon divergence (base 2, in [0, 1]) between the distribution of a
  period's reviews over items and that of the window a model was fitted on, and the share of
  the period's reviews on items nobody had reviewed before the cut-off.
* Interests: for users with reviews both before the cut-off and before a period's start, the
  cosine between their interest vector at the cut-off and at the period's start (1: unchanged);
  and for users who write in a period, the cosine between what they write then (the mean of
  the period's review vectors) and their interest vector at its start: how well the profile
  anticipates the new words. These read a period's reviews to *measure* drift, never to
  predict the period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from textrec.evaluation import uncertainty
from textrec.feedback.replay import Replay
from textrec.interests import vectors as vectors_module


def js_divergence(p_counts, q_counts) -> float:
    """Jensen-Shannon divergence (base 2) of two count vectors over the same items: 0 for the
    same distribution, 1 for disjoint ones."""
    p, q = np.asarray(p_counts, float), np.asarray(q_counts, float)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"counts must be 1-D and of one length, got {p.shape} and {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0 or (p < 0).any() or (q < 0).any():
        raise ValueError("counts must be non-negative with a positive total")
    p, q = p / p.sum(), q / q.sum()
    middle = (p + q) / 2

    def kl(a):
        kept = a > 0
        return float(np.sum(a[kept] * np.log2(a[kept] / middle[kept])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def js_noise_floor(counts, n: int, other: int | None = None, draws: int = 200,
                   seed: int = 0, quantile: float | None = 0.95) -> float:
    """The JS divergence that sampling alone produces: over ``draws`` draws of ``n`` reviews
    from the mix ``counts``, the divergence between the sample and the mix itself, or
    (``other``) between it and an independent draw of ``other`` reviews; its ``quantile``
    (0.95: sampling alone exceeds it one time in twenty), or its mean with ``quantile=None``.

    A period of a few hundred reviews spread over hundreds of items differs from any other
    sample by a sizeable JS divergence even when nothing drifts; only a divergence above this
    floor is drift."""
    counts = np.asarray(counts, float)
    if n < 1 or (other is not None and other < 1):
        raise ValueError(f"sample sizes must be at least 1, got {n} and {other}")
    if quantile is not None and not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1) or None, got {quantile}")
    mix = counts / counts.sum()
    rng = np.random.default_rng(seed)
    values = np.array([js_divergence(rng.multinomial(n, mix), counts if other is None
                                     else rng.multinomial(other, mix)) for _ in range(draws)])
    return float(values.mean() if quantile is None else np.quantile(values, quantile))


def item_mix_drift(replay: Replay, seed: int = 0) -> pd.DataFrame:
    """Per period: JS divergence of its item mix from the cut-off window's and from the
    previous period's, each beside its sampling-noise floor (:func:`js_noise_floor`, 95th
    percentile: samples of the same sizes drawn from the unchanged cut-off window), and the
    share of its reviews on items new since the cut-off. Period 0's previous period is the
    cut-off window."""
    def counts(rows):
        return np.bincount(replay.items[rows], minlength=replay.n_items)

    initial = counts(replay.before(replay.cutoff))
    rows, previous = [], initial
    for period in replay.periods:
        current = counts(replay.inside(period))
        n, before = int(current.sum()), int(previous.sum())
        rows.append({"period": period.number, "from": period.label(),
                     "reviews": n,
                     "JS vs cut-off window": js_divergence(current, initial),
                     "noise floor vs window": js_noise_floor(initial, n, seed=seed),
                     "JS vs previous period": js_divergence(current, previous),
                     "noise floor vs previous": js_noise_floor(
                         initial, n, None if previous is initial else before, seed=seed),
                     "share on new items": float(current[initial == 0].sum() / n)})
        previous = current
    return pd.DataFrame(rows)


def interest_drift(replay: Replay, seed: int = 0) -> pd.DataFrame:
    """Per period: mean cosine (and 95% interval) between users' interest vectors at the
    cut-off and at the period's start, and between their vector at the start and the mean of
    the reviews they write in the period."""
    at_cutoff = replay.interest_vectors(replay.cutoff)
    rows = []
    for period in replay.periods:
        at_start = replay.interest_vectors(period.start)
        both = at_cutoff.any(axis=1) & at_start.any(axis=1)
        moved = np.sum(at_cutoff[both] * at_start[both], axis=1)
        inside = replay.inside(period)
        written = vectors_module.weighted_mean_vectors(
            replay.users[inside], replay.vectors[inside], np.ones(int(inside.sum())),
            ids=np.arange(replay.n_users)).vectors
        writers = written.any(axis=1) & at_start.any(axis=1)
        fit = np.sum(written[writers] * at_start[writers], axis=1)
        row = {"period": period.number, "from": period.label(), "users followed": int(both.sum())}
        for name, values in (("cos(cut-off, start)", moved), ("cos(start, new reviews)", fit)):
            if values.size:
                mean, low, high = uncertainty.bootstrap_ci(values, seed=seed)
            else:
                mean = low = high = float("nan")
            row.update({name: mean, f"{name} low": low, f"{name} high": high})
        row["writers"] = int(writers.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def retrain_value(result, drift: pd.DataFrame, retrained: str, kept: str,
                  seed: int = 0) -> pd.DataFrame:
    """Per period: the paired NDCG gain of ``retrained`` over ``kept`` (with its interval)
    beside the item-mix drift; ``refitted``: whether the two item sides differ by then (in
    period 0 a retrain at the period's start reads what the cut-off fit read, and a schedule
    that retrains every n periods first differs in period n); ``retrain paid``: refitted and
    the interval above 0."""
    gains = result.compare_by_period(retrained, kept, seed=seed)
    table = gains.merge(drift[["period", "JS vs cut-off window", "share on new items"]],
                        on="period")
    fitted = result.fit_times
    table["refitted"] = [fitted.get((retrained, p)) != fitted.get((kept, p))
                         if fitted else p > 0 for p in table["period"]]
    table["retrain paid"] = table["refitted"] & (table["low"] > 0)
    return table
