"""Evaluating models the same way: full ranking, per-user metrics, beyond accuracy, timings.

:func:`per_user_metrics` is the vectorised core: one batched top-k over every user and item
(seen items masked), then every metric for every user from the hit matrix, with no Python loop
over users. :class:`Evaluator` applies it to each model of a comparison and collects the
runs in :class:`textrec.evaluation.results.EvaluationResults`:

* :meth:`Evaluator.add` takes a score matrix [n users, n items] (any model: text, two tower),
  and puts a random ranking's expected metrics beside it (:data:`RANDOM`);
* :meth:`Evaluator.run` takes a model factory (``fit(X)`` / ``score(history)``), tunes it on
  validation when given a grid, reports validation and test for the fit on train, and test
  again for a refit on train + validation with the chosen hyper-parameters.
"""

from __future__ import annotations

import time

import numpy as np

from textrec.evaluation import metrics
from textrec.evaluation.beyond_accuracy import beyond_accuracy
from textrec.evaluation.protocol import InteractionData
from textrec.evaluation.results import EvaluationResults, Run
from textrec.evaluation.slices import target_popularity_percentile
from textrec.evaluation.tuning import tune

RANDOM = "random ranking (expected)"


def per_user_metrics(scores, targets, exclude=None,
                     ks=(10,)) -> tuple[dict, np.ndarray, np.ndarray]:
    """Every metric of :func:`textrec.evaluation.metrics.ranking_metrics` for every user.

    Returns (per-user metrics {"ndcg@10": float [n users], ...} with NaN for users without a
    target, the top max(ks) items of the evaluated users int [n evaluated, max(ks)], and the
    evaluated users' indices int [n evaluated]).
    """
    result = metrics.ranking_metrics(scores, targets, exclude, ks, per_user=True, with_top=True)
    return result["per_user"], result["top"], result["evaluated"]


class Evaluator:
    """Scores models on one :class:`InteractionData` and keeps their runs.

    Args:
      data: the protocol's matrices.
      ks: cut-offs of the metrics; beyond-accuracy figures use the largest.
      item_vectors: item text vectors [n items, dim] in ``data.item_ids`` order, for the
        intra-list diversity (None: no diversity).
    """

    def __init__(self, data: InteractionData, ks=(10,), item_vectors=None, **result_options):
        self.data = data
        self.ks = tuple(ks)
        self.item_vectors = item_vectors
        self.tuning = {}
        percentiles = {part: target_popularity_percentile(data.targets(part),
                                                          data.item_popularity())
                       for part in ("validation", "test") if data.targets(part).nnz}
        self.results = EvaluationResults(data.user_ids, data.train_counts(), percentiles,
                                         protocol=data.protocol, **result_options)

    def add(self, name: str, scores, part: str = "test", fit: str = "train", params=None,
            fit_seconds: float | None = None, score_seconds: float = 0.0) -> Run:
        """Evaluate a score matrix [n users, n items] of model ``name`` on ``part`` after
        ``fit``; ``score_seconds`` (the time to produce the scores) is added to the
        evaluation time."""
        scores = np.asarray(scores)
        if scores.shape != (self.data.n_users, self.data.n_items):
            raise ValueError(f"{name}: scores have shape {scores.shape}; expected "
                             f"{(self.data.n_users, self.data.n_items)} (data.user_ids x item_ids)")
        start = time.perf_counter()
        per_user, top, _ = per_user_metrics(scores, self.data.targets(part),
                                            self.data.exclude(part), self.ks)
        popularity = self.data.item_popularity(fit)
        n_fit_users = int((np.diff(self.data.fit_matrix(fit).indptr) > 0).sum())
        beyond = beyond_accuracy(top, popularity, n_fit_users, self.item_vectors)
        seconds = score_seconds + time.perf_counter() - start
        run = Run(name, part, fit, per_user, beyond, dict(params or {}), fit_seconds, seconds)
        self.add_random_reference(part, fit)
        return self.results.add(run)

    def add_random_reference(self, part: str = "test", fit: str = "train") -> Run:
        """The expected metrics of a uniformly random ranking on ``part`` (exact, per user;
        :func:`textrec.evaluation.metrics.expected_random_metrics`), as the run
        :data:`RANDOM`. :meth:`add` puts it beside every (part, fit) it evaluates, so every
        table shows how far above chance each model is."""
        for run in self.results.runs:
            if (run.model, run.part, run.fit) == (RANDOM, part, fit):
                return run
        per_user = metrics.expected_random_metrics(self.data.targets(part), self.data.exclude(part),
                                                   self.data.n_items, self.ks)
        return self.results.add(Run(RANDOM, part, fit, per_user))

    def run(self, name: str, factory, grid: dict | None = None, params: dict | None = None,
            metric: str = "ndcg@10", refit: bool = True):
        """Tune (when ``grid``), fit on train, evaluate validation and test; then refit on
        train + validation and evaluate test again. Returns the fitted (train) model.

        ``params`` fixes hyper-parameters instead of tuning; the validation grid search is kept
        in ``self.tuning[name]`` (a frame).
        """
        if grid:
            params, self.tuning[name] = tune(factory, self.data, grid, metric)
        params = dict(params or {})
        fits = ("train", "train+validation") if refit else ("train",)
        trained = None
        for fit in fits:
            start = time.perf_counter()
            model = factory(**params).fit(self.data.fit_matrix(fit))
            fit_seconds = time.perf_counter() - start
            parts = ("validation", "test") if fit == "train" else ("test",)
            for part in parts:
                start = time.perf_counter()
                scores = model.score(self.data.history(part, fit))
                self.add(name, scores, part, fit, params, fit_seconds,
                         score_seconds=time.perf_counter() - start)
            if trained is None:
                trained = model
        return trained
