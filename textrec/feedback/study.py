"""Lesson 09 in one call, for the pipeline's ``feedback`` stage and the benchmark: faithfulness
of the explanations, their cost at serving time, and the time-ordered replay with drift.

Notebook 09 writes each step out; this module runs the same steps with the package's pieces.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from textrec import ranking
from textrec.data import schema
from textrec.feedback import drift, explain, faithfulness, replay
from textrec.interests import recommender
from textrec.models import EASE


@dataclasses.dataclass
class FeedbackStudy:
    """Everything lesson 09 measures on one data set."""

    faithfulness: dict  # name -> faithfulness.Faithfulness
    latency: dict  # serve ms, serve+explain ms per user, users timed
    replay: replay.ReplayResult
    table: pd.DataFrame  # per (period, schedule): NDCG@k with interval
    comparisons: pd.DataFrame  # paired comparisons pooled over periods
    item_mix: pd.DataFrame
    interests: pd.DataFrame
    retrain: pd.DataFrame  # per period: retrain gains beside drift
    window: dict  # the data window: first review, cut-off, last review (dates)


# Pooled from period 1 on: period 0 starts at the cut-off, where every schedule serves the cut-off
# model (live vectors have nothing new yet, a retrain reads what the cut-off fit read).
COMPARISONS = (("text live", "text frozen", "all"),
               ("text live", "text frozen", "known"),
               ("text live", "text frozen", "new"),
               ("text live, popular under 3 reviews", "text frozen", "all"),
               ("text live + retrain every 1", "text live", "all"),
               ("text live + retrain every 2", "text live", "all"),
               ("EASE retrain every 1", "EASE frozen", "all"),
               ("EASE frozen", "text live", "all"))


def explanation_faithfulness(train: pd.DataFrame, items: pd.DataFrame, train_vectors,
                             description_vectors=None, l2: float = 100.0, k: int = 10,
                             per_user: int = 3):
    """(faithfulness by model, the text model, its ReviewIndex, seen items): each user's top
    ``per_user`` of the text-only recommender and of EASE (both fitted on ``train``)."""
    model = recommender.fit_text_recommender(train, items, train_vectors, description_vectors)
    seen = ranking.SeenItems.from_frame(train, model.users.ids, model.items.ids)
    reviews = explain.ReviewIndex.build(train, train_vectors)
    top = ranking.topk_items(model.scores(), k, exclude=seen)
    text_pairs = [(user, model.items.ids[i]) for row, user in enumerate(model.users.ids)
                  for i in top[row, :per_user] if i >= 0]
    ease = EASE(l2).fit(seen.matrix)
    ease_top = ranking.topk_items(ease.score(seen.matrix), k, exclude=seen)
    ease_pairs = [(row, int(i)) for row in range(len(model.users.ids))
                  for i in ease_top[row, :per_user] if i >= 0]
    results = {
        "text-only (cited review)": faithfulness.text_faithfulness(reviews, model.items,
                                                                    text_pairs),
        "EASE (cited history item)": faithfulness.collaborative_faithfulness(
            ease.weights, seen.lists(), ease_pairs),
    }
    return results, model, reviews, seen


def explanation_latency(model, reviews, seen, k: int = 10, explained: int = 3,
                        n_users: int = 200, rounds: int = 5) -> dict:
    """Mean milliseconds per user to serve the top ``k`` (NumPy) and to serve and explain the
    top ``explained`` (phrases ranked by count), after one warm-up pass each. The warm-up
    computes each user's and item's phrase counts, which are then kept (a server would compute
    them offline); ``first pass ms`` is that cold pass, per user. Then ``rounds`` rounds alternate
    the two; the medians over rounds are reported (a busy machine's spikes hit single rounds)."""
    explainer = explain.TextExplainer(reviews, model.users, model.items)
    users = model.users.ids[:n_users]
    rows, seen_lists = model.users.position(), seen.lists()

    def serve(user):
        row = rows[user]
        scores = model.items.vectors @ model.users.vectors[row]
        return ranking.topk_items(scores[None, :], k, exclude=[seen_lists[row]])[0]

    def serve_and_explain(user):
        return [explainer.explain(user, model.items.ids[i]) for i in serve(user)[:explained]]

    def per_user(function):
        start = time.perf_counter()
        for user in users:
            function(user)
        return (time.perf_counter() - start) / max(len(users), 1) * 1000

    per_user(serve)
    cold = per_user(serve_and_explain)
    rounds = [(per_user(serve), per_user(serve_and_explain)) for _ in range(rounds)]
    serving, explaining = np.median(np.array(rounds), axis=0)
    added = float(np.median([both - alone for alone, both in rounds]))
    return {"users": int(len(users)), "serve ms": float(serving),
            "serve and explain ms": float(explaining), "added ms": added, "first pass ms": cold}


def run_study(reviews: pd.DataFrame, all_vectors, train: pd.DataFrame, items: pd.DataFrame,
              train_vectors, description_vectors=None, cutoff_quantile: float = 0.6,
              n_periods: int = 5, retrain_every=(1, 2), l2: float = 100.0, k: int = 10,
              seed: int = 0, latency_users: int = 200) -> FeedbackStudy:
    """Faithfulness and latency on ``train`` (the leave-last-out train split), then the replay
    of all ``reviews`` (with ``all_vectors`` [len(reviews), dim])."""
    results, model, index, seen = explanation_faithfulness(
        train, items, train_vectors, description_vectors, l2, k)
    latency = explanation_latency(model, index, seen, k, n_users=latency_users)
    descriptions = (dict(zip(items[schema.ITEM], description_vectors))
                    if description_vectors is not None else None)
    served = replay.Replay(reviews, all_vectors, cutoff_quantile, n_periods, descriptions, l2)
    schedules = replay.default_schedules(retrain_every)
    result = served.run(schedules, k)
    names = {s.name for s in schedules}
    first = 1 if len(result.served) > 1 else 0
    comparisons = pd.DataFrame([{"a": a, "b": b, "users": group,
                                 **result.compare(a, b, seed, group, first_period=first)}
                                for a, b, group in COMPARISONS if a in names and b in names])
    mix = drift.item_mix_drift(served, seed)
    retrain = pd.concat({
        "text: retrain every 1 vs live": drift.retrain_value(
            result, mix, "text live + retrain every 1", "text live", seed),
        "EASE: retrain every 1 vs frozen": drift.retrain_value(
            result, mix, "EASE retrain every 1", "EASE frozen", seed)})
    times = served.times
    window = {"first review": _day(times.min()), "cut-off": _day(served.cutoff),
              "last review": _day(times.max())}
    return FeedbackStudy(results, latency, result, result.table(seed), comparisons, mix,
                         drift.interest_drift(served, seed), retrain, window)


def _day(timestamp) -> str:
    return pd.Timestamp(int(timestamp), unit="s").strftime("%Y-%m-%d")


def summary_metrics(study: FeedbackStudy) -> dict:
    """The headline numbers: faithfulness ratios, live vs frozen, the retrain's gain."""
    out = {f"faithfulness ratio, {name}": result.ratio
           for name, result in study.faithfulness.items()}
    for _, row in study.comparisons.iterrows():
        users = "" if row["users"] == "all" else f" ({row['users']} users)"
        out[f"replay ndcg gain, {row['a']} vs {row['b']}{users}"] = float(row["difference"])
    out["explanation added ms (top 3)"] = study.latency["added ms"]
    return out


def pooled_means(study: FeedbackStudy) -> pd.DataFrame:
    """Per schedule: NDCG@k over every (period, user) pair with its 95% interval."""
    from textrec.evaluation import uncertainty

    rows = []
    for name in study.replay.names:
        mean, low, high = uncertainty.bootstrap_ci(study.replay.pooled(name), seed=0)
        rows.append({"model": name, "ndcg": mean, "low": low, "high": high,
                     "pairs": int(len(study.replay.pooled(name)))})
    chance = np.average([study.replay.chance[p.number] for p in study.replay.served],
                        weights=[len(study.replay.users[p.number]) for p in study.replay.served])
    rows.append({"model": "random ranking (expected)", "ndcg": float(chance),
                 "low": float("nan"), "high": float("nan"), "pairs": rows[0]["pairs"]})
    return pd.DataFrame(rows)
