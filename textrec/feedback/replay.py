"""Time-ordered replay: fit up to a cut-off, then serve the periods that follow, in order.

The reviews are sorted by time. Everything before the *cut-off* is the initial training
window; what follows is cut into periods holding equal numbers of reviews. Each period is
served once, at its start: a model's state at time ``t`` may read only reviews written
strictly before ``t``, so a period's own reviews never feed the model that predicts them.

A *schedule* says which window each side of a model reads:

* the item side (item text vectors, EASE's weights, popularity) is fitted at the cut-off and
  kept (``retrain_every=None``: frozen), or refitted at the start of every
  ``retrain_every``-th period on everything before it. The text model's refit only adds the new
  reviews to each item's running mean (a warm start, exact for a mean); EASE is refitted;
* the user side (interest vectors; the history EASE reads) is either read at the cut-off
  (``live=False``) or at the period's start (``live=True``: live interest-vector updates from
  every review written since).

For each period the targets are the items a user reviewed in it that they had not reviewed
before its start; the items they had are masked. Every schedule ranks the whole catalogue for
the same users, so their per-user NDCG@10 can be compared in pairs.
"""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textrec import ranking
from textrec.data import schema
from textrec.evaluation import metrics, uncertainty
from textrec.models import item_based
from textrec.interests import vectors as vectors_module

KINDS = ("text", "ease", "popularity")
GROUPS = ("all", "known", "new")
_UNKNOWN_ITEM = -2.0  # below every cosine: an item the text model has no words for


@dataclasses.dataclass(frozen=True)
class Period:
    """Reviews with ``start <= timestamp < end`` (Unix seconds)."""

    number: int
    start: int
    end: int

    def label(self) -> str:
        day = datetime.datetime.fromtimestamp(self.start, datetime.timezone.utc)
        return day.strftime("%Y-%m-%d")


def replay_periods(timestamps, cutoff_quantile: float = 0.6, n_periods: int = 5
                   ) -> tuple[int, list[Period]]:
    """(cut-off, periods): the cut-off is the ``cutoff_quantile`` of ``timestamps``; the rest
    is cut into ``n_periods`` periods of about equal numbers of reviews (fewer when many reviews
    share a timestamp)."""
    if not 0 < cutoff_quantile < 1:
        raise ValueError(f"cutoff_quantile must be in (0, 1), got {cutoff_quantile}")
    if n_periods < 1:
        raise ValueError(f"n_periods must be >= 1, got {n_periods}")
    times = np.sort(np.asarray(timestamps, np.int64))
    if times.size < 2:
        raise ValueError("replay needs at least two reviews")
    cutoff = int(times[min(int(cutoff_quantile * times.size), times.size - 1)])
    later = times[times >= cutoff]
    bounds = [int(later[min(int(q * later.size), later.size - 1)])
              for q in np.arange(n_periods) / n_periods]
    bounds = sorted(set(bounds)) + [int(times[-1]) + 1]
    return cutoff, [Period(n, bounds[n], bounds[n + 1]) for n in range(len(bounds) - 1)]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How one model is kept up to date during the replay (see the module docstring)."""

    name: str
    kind: str = "text"
    live: bool = False
    retrain_every: int | None = None
    min_reviews: int = 1  # users with fewer reviews (as of the user side's time) get popularity

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.retrain_every is not None and self.retrain_every < 1:
            raise ValueError(f"retrain_every must be >= 1 or None, got {self.retrain_every}")
        if self.min_reviews < 1:
            raise ValueError(f"min_reviews must be >= 1, got {self.min_reviews}")


def default_schedules(retrain_every=(1, 2), ease: bool = True) -> list[Schedule]:
    """Frozen text model, live interest vectors (also with popularity for users with fewer
    than 3 reviews), live + periodic retrains, and (``ease``) EASE frozen at the cut-off and
    refitted every period, and the frozen most-popular baseline."""
    schedules = [Schedule("text frozen"), Schedule("text live", live=True),
                 Schedule("text live, popular under 3 reviews", live=True, min_reviews=3)]
    schedules += [Schedule(f"text live + retrain every {n}", live=True, retrain_every=n)
                  for n in retrain_every]
    if ease:
        schedules += [Schedule("EASE frozen", "ease", live=True),
                      Schedule("EASE retrain every 1", "ease", live=True, retrain_every=1)]
    return schedules + [Schedule("most popular frozen", "popularity")]


class Replay:
    """Reviews in time order with their vectors, the cut-off and the periods.

    Args:
      reviews: every review (schema columns; ``timestamp`` in Unix seconds).
      vectors: float [len(reviews), dim], the reviews' vectors in the frame's order (zeros:
        no text).
      cutoff_quantile, n_periods: see :func:`replay_periods`.
      description_vectors: optional ``{item id: vector}`` of catalogue descriptions (they have
        no date: the catalogue is known from the start).
      l2: EASE's penalty.
    """

    def __init__(self, reviews: pd.DataFrame, vectors, cutoff_quantile: float = 0.6,
                 n_periods: int = 5, description_vectors: dict | None = None, l2: float = 100.0):
        vectors = np.asarray(vectors, np.float32)
        if len(vectors) != len(reviews):
            raise ValueError(f"{len(reviews)} reviews but {len(vectors)} vectors")
        missing = [c for c in (schema.USER, schema.ITEM, schema.TIMESTAMP) if c not in reviews]
        if missing:
            raise ValueError(f"reviews lack the columns {missing}")
        order = np.argsort(reviews[schema.TIMESTAMP].to_numpy(np.int64), kind="stable")
        self.reviews = reviews.iloc[order].reset_index(drop=True)
        self.vectors = vectors[order]
        self.times = self.reviews[schema.TIMESTAMP].to_numpy(np.int64)
        self.user_ids = np.array(sorted(set(self.reviews[schema.USER])), object)
        self.item_ids = np.array(sorted(set(self.reviews[schema.ITEM])), object)
        self.users = pd.Index(self.user_ids).get_indexer(self.reviews[schema.USER])
        self.items = pd.Index(self.item_ids).get_indexer(self.reviews[schema.ITEM])
        self.cutoff, self.periods = replay_periods(self.times, cutoff_quantile, n_periods)
        self.descriptions = self._descriptions(description_vectors or {})
        self.l2 = l2
        self._cache: dict = {}

    def _descriptions(self, by_id: dict) -> np.ndarray | None:
        if not by_id:
            return None
        dim = self.vectors.shape[1]
        rows = [np.asarray(by_id.get(item, np.zeros(dim)), np.float32) for item in self.item_ids]
        return vectors_module.normalize_rows(np.stack(rows))[0]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def before(self, time: int) -> np.ndarray:
        """Bool [n reviews]: written strictly before ``time``."""
        return self.times < time

    def inside(self, period: Period) -> np.ndarray:
        return (self.times >= period.start) & (self.times < period.end)

    def matrix(self, rows: np.ndarray) -> sp.csr_matrix:
        """Binary CSR [n users, n items] of the reviews selected by ``rows``."""
        return ranking.interaction_matrix(self.reviews[rows], self.user_ids, self.item_ids)

    def history(self, time: int) -> sp.csr_matrix:
        """What each user had reviewed before ``time``."""
        return self._cached(("history", time), lambda: self.matrix(self.before(time)))

    def targets(self, period: Period) -> sp.csr_matrix:
        """The items each user reviewed in ``period`` and had not reviewed before it."""
        new = self.matrix(self.inside(period)) - self.history(period.start).multiply(
            self.matrix(self.inside(period)))
        new = sp.csr_matrix(new)
        new.eliminate_zeros()
        return new

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # ------------------------------------------------------------------ model states at a time

    def interest_vectors(self, time: int) -> np.ndarray:
        """Users' unit mean review vectors from reviews before ``time``: [n users, dim] (zero
        rows for users without any)."""
        def make():
            rows = self.before(time)
            return vectors_module.weighted_mean_vectors(
                self.users[rows], self.vectors[rows], np.ones(int(rows.sum())),
                ids=np.arange(self.n_users)).vectors
        return self._cached(("users", time), make)

    def item_vectors(self, time: int) -> np.ndarray:
        """Items' text vectors from reviews before ``time`` (and descriptions): [n items,
        dim], ``normalize(description + mean of reviews)`` as in notebook 03."""
        def make():
            rows = self.before(time)
            reviews = vectors_module.weighted_mean_vectors(
                self.items[rows], self.vectors[rows], np.ones(int(rows.sum())),
                ids=np.arange(self.n_items), kind="item").vectors
            if self.descriptions is not None:
                reviews = reviews + self.descriptions
            return vectors_module.normalize_rows(reviews)[0]
        return self._cached(("items", time), make)

    def review_counts(self, time: int) -> np.ndarray:
        """Reviews per user written before ``time``: int [n users]."""
        return np.bincount(self.users[self.before(time)], minlength=self.n_users)

    def popularity(self, time: int) -> np.ndarray:
        """Reviews per item before ``time``, scaled to [0, 1]: float [n items]."""
        counts = np.bincount(self.items[self.before(time)], minlength=self.n_items)
        return counts / max(counts.max(), 1)

    def ease_weights(self, time: int) -> np.ndarray:
        return self._cached(("ease", time), lambda: item_based.EASE(self.l2).fit(
            self.history(time)).weights)

    def scores(self, schedule: Schedule, period: Period) -> np.ndarray:
        """Scores [n users, n items] of ``schedule``'s model as it stands at ``period``'s
        start."""
        fit_time = self.fit_time(schedule, period)
        user_time = period.start if schedule.live else self.cutoff
        fallback = self.popularity(fit_time)
        if schedule.kind == "popularity":
            return np.tile(fallback.astype(np.float32), (self.n_users, 1))
        if schedule.kind == "ease":
            scores = ranking.check_scores(np.asarray(
                self.history(user_time) @ self.ease_weights(fit_time), np.float32))
            empty = np.diff(self.history(user_time).indptr) == 0
        else:
            items = self.item_vectors(fit_time)
            users = self.interest_vectors(user_time)
            scores = users @ items.T
            scores[:, ~items.any(axis=1)] = _UNKNOWN_ITEM
            empty = ~users.any(axis=1)
        empty |= self.review_counts(user_time) < schedule.min_reviews
        scores[empty] = fallback[None, :]
        return scores

    def fit_time(self, schedule: Schedule, period: Period) -> int:
        """When ``schedule``'s item side was last fitted, as of ``period``."""
        if schedule.retrain_every is None:
            return self.cutoff
        last = period.number - period.number % schedule.retrain_every
        return self.periods[last].start

    def run(self, schedules=None, k: int = 10) -> "ReplayResult":
        """Serve every period with every schedule; per-user NDCG@k."""
        schedules = default_schedules() if schedules is None else list(schedules)
        per_user, users, chance, fit_times = {}, {}, {}, {}
        known = self.review_counts(self.cutoff) > 0
        for period in self.periods:
            targets, exclude = self.targets(period), self.history(period.start)
            evaluated = np.flatnonzero(np.diff(targets.indptr) > 0)
            if evaluated.size == 0:
                continue
            users[period.number] = evaluated
            expected = metrics.expected_random_metrics(targets[evaluated], exclude[evaluated],
                                                       self.n_items, (k,))
            chance[period.number] = float(np.nanmean(expected[f"ndcg@{k}"]))
            for schedule in schedules:
                scores = self.scores(schedule, period)[evaluated]
                result = metrics.ranking_metrics(scores, targets[evaluated], exclude[evaluated],
                                                 ks=(k,), per_user=True)
                per_user[schedule.name, period.number] = result["per_user"][f"ndcg@{k}"]
                fit_times[schedule.name, period.number] = self.fit_time(schedule, period)
        return ReplayResult(self.periods, [s.name for s in schedules], per_user, users, chance,
                            k, self.cutoff, {p: known[u] for p, u in users.items()}, fit_times)


@dataclasses.dataclass
class ReplayResult:
    """Per-user NDCG@k of each schedule in each period (arrays aligned with ``users``);
    ``known[period]`` flags the users who had written before the cut-off; ``fit_times[name,
    period]`` is when that schedule's item side was last fitted, as of the period's start."""

    periods: list[Period]
    names: list[str]
    per_user: dict
    users: dict
    chance: dict
    k: int
    cutoff: int
    known: dict
    fit_times: dict = dataclasses.field(default_factory=dict)

    @property
    def served(self) -> list[Period]:
        return [p for p in self.periods if p.number in self.users]

    def table(self, seed: int = 0) -> pd.DataFrame:
        """One row per (period, schedule): users, NDCG@k, its 95% bootstrap interval, and the
        expected NDCG@k of a random ranking."""
        rows = []
        for period in self.served:
            for name in self.names:
                values = self.per_user[name, period.number]
                mean, low, high = uncertainty.bootstrap_ci(values, n_resamples=1000, seed=seed)
                rows.append({"period": period.number, "from": period.label(),
                             "model": name, "users": int(len(values)),
                             f"ndcg@{self.k}": mean, "low": low, "high": high,
                             "random": self.chance[period.number]})
        return pd.DataFrame(rows)

    def pooled(self, name: str, group: str = "all", first_period: int = 0) -> np.ndarray:
        """``name``'s per-user values of the periods from ``first_period`` on, concatenated (a
        user active in several periods counts once per period). ``group``: "all", "known"
        (users who wrote before the cut-off) or "new" (users whose first review came after
        it)."""
        if group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
        parts = []
        for period in self.served:
            if period.number < first_period:
                continue
            values, known = self.per_user[name, period.number], self.known[period.number]
            parts.append(values if group == "all" else values[known == (group == "known")])
        if not parts:
            raise ValueError(f"no period served from period {first_period} on")
        return np.concatenate(parts)

    def compare(self, a: str, b: str, seed: int = 0, group: str = "all",
                first_period: int = 0) -> dict:
        """Paired comparison of ``a`` and ``b`` over every (period, user) pair of ``group``, in
        the periods from ``first_period`` on (1 leaves out period 0, which starts at the
        cut-off: there live vectors and retrains still equal the cut-off model)."""
        return uncertainty.paired_test(self.pooled(a, group, first_period),
                                       self.pooled(b, group, first_period),
                                       method="bootstrap", n_resamples=2000, seed=seed)

    def compare_by_period(self, a: str, b: str, seed: int = 0) -> pd.DataFrame:
        """Per period: the mean difference ``a - b`` and its 95% interval."""
        rows = []
        for period in self.served:
            test = uncertainty.paired_test(self.per_user[a, period.number],
                                           self.per_user[b, period.number], method="bootstrap",
                                           n_resamples=1000, seed=seed)
            rows.append({"period": period.number, "from": period.label(),
                         "difference": test["difference"], "low": test["low"],
                         "high": test["high"], "users": test["n_users"]})
        return pd.DataFrame(rows)
