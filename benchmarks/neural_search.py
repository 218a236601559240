"""The course's neural models on the real reviews, their hyper-parameters chosen on validation.

Imported by ``models_benchmark.py``. Each model is built by its package recipe
(``textrec.models.recipes``); a search tries a budget of configurations from a grid (random
order, fixed seed; the recipe's current settings always first), each fit on TRAIN
``selection_seeds`` times with early stopping on the validation NDCG@10
(``Recipe.fit(stop_on=...)`` with ``textrec.evaluation.validation_ndcg``, through
``textrec.models.BestEpoch``): the first seed stops
``patience`` epochs after its best, the others run as many epochs, and the configuration's
score is the best epoch of the validation curve averaged over the seeds. The chosen
configuration is then trained ``seeds`` times for that number of epochs, once on train and
once on train + validation (text vectors rebuilt from those reviews), and scored on TEST.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pandas as pd

K = 10


@dataclasses.dataclass
class World:
    """What a model may learn from (``history``) and what it is scored on (``part``)."""

    split: object
    part: str                  # "validation" or "test"
    history: pd.DataFrame      # train, or train + validation
    vectors: np.ndarray        # one review vector per row of history
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_text: object = None
    item_text: object = None
    targets: object = None
    seen: object = None


def build_world(split, part, history, vectors, user_ids, item_ids, method="mean"):
    from textrec import interests
    from textrec.data import schema
    from textrec.evaluation import heldout

    world = World(split, part, history, vectors, user_ids, item_ids)
    world.user_text = interests.interest_vectors(history, vectors, method, half_life_days=180.0,
                                                 user_ids=user_ids)
    items = pd.DataFrame({schema.ITEM: item_ids, schema.DESCRIPTION: ""})
    world.item_text = interests.item_text_vectors(items, history, vectors, None,
                                                  item_ids=item_ids)
    world.targets, world.seen = heldout(split, part, user_ids, item_ids)
    return world


def ranking(world, scores, few):
    """HR@K and NDCG@K over all users and over ``few`` (bool [n users]), with per-user arrays."""
    from textrec.evaluation import ranking_metrics

    metrics = ranking_metrics(scores, world.targets, exclude=world.seen, ks=(K,), per_user=True)
    per_user = metrics["per_user"]
    return {"hr": metrics[f"hr@{K}"], "ndcg": metrics[f"ndcg@{K}"],
            "hr_few": float(np.nanmean(per_user[f"hr@{K}"][few])),
            "ndcg_few": float(np.nanmean(per_user[f"ndcg@{K}"][few])),
            "ndcg_per_user": per_user[f"ndcg@{K}"], "hr_per_user": per_user[f"hr@{K}"]}


# --- the models: one package recipe each -----------------------------------------------------

def recipe(kind: str, world: World, changes: dict):
    """The package recipe of ``kind`` on ``world``'s history, with ``changes`` to its settings."""
    from textrec import models

    if kind == "mf":
        return models.matrix_factorization_recipe(world.history, user_ids=world.user_ids,
                                                  item_ids=world.item_ids, **changes)
    if kind in ("id", "text"):
        return models.two_tower_recipe(world.user_text, world.item_text, world.history,
                                       user_ids=world.user_ids, item_ids=world.item_ids,
                                       **dict(changes, use_text=kind == "text"))
    if kind == "joint":
        return models.joint_model_recipe(world.user_text, world.item_text, world.history,
                                         world.vectors, user_ids=world.user_ids,
                                         item_ids=world.item_ids, **changes)
    raise ValueError(f"unknown model kind {kind!r}")


def scores_of(model, world) -> np.ndarray:
    from textrec import models

    return models.score_matrix(model.query_model, model.candidate_model, world.user_ids,
                               world.item_ids)


def joint_rmse(model, frame) -> float:
    """RMSE of the joint model's rating head on ``frame`` (predictions clipped to 1-5)."""
    import tensorflow as tf

    from textrec.data import schema
    from textrec.evaluation import rmse

    predicted = model.predict_rating({
        schema.USER: tf.constant(frame[schema.USER].astype(str).tolist()),
        schema.ITEM: tf.constant(frame[schema.ITEM].astype(str).tolist())}).numpy()
    return rmse(frame[schema.RATING].to_numpy(float), np.clip(predicted, 1.0, 5.0))


# --- search -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Search:
    """A model's search: its kind, fixed changes, the grid, the budget (configurations)."""

    name: str
    kind: str
    space: dict
    budget: int
    fixed: dict = dataclasses.field(default_factory=dict)


def searches(budgets: dict) -> list[Search]:
    """The four neural models and their grids (``budgets``: name -> configurations tried)."""
    towers = {"embedding_dim": [32, 64], "l2": [1.5, 2.2, 3.0], "learning_rate": [0.01, 0.02],
              "temperature": [None, 0.5]}
    return [
        Search("matrix factorisation", "mf",
               {"embedding_dim": [32, 64], "l2": [1.5, 2.2, 3.0], "learning_rate": [0.01, 0.02]},
               budgets["mf"]),
        Search("ID-only two-tower", "id", towers, budgets["id"]),
        Search("text-aware two-tower", "text",
               dict(towers, text_projection_units=[16, 32, 64], text_dropout=[0.0, 0.2, 0.5]),
               budgets["text"]),
        # On top of the chosen text-aware towers (filled in by run_searches).
        Search("joint model", "joint",
               {"w_U": [0.0, 0.03, 0.1, 0.3], "w_R": [0.0, 0.01, 0.03, 0.1]}, budgets["joint"]),
    ]


def configurations(search: Search, defaults, seed: int = 0) -> list[dict]:
    """``search.budget`` configurations of its grid: the settings' current values first (when
    they are on the grid), then others in a fixed random order."""
    names = list(search.space)
    grid = [dict(zip(names, values)) for values in itertools.product(*search.space.values())]
    default = {name: getattr(defaults, name) for name in names}
    rng = np.random.default_rng(seed)
    order = [grid[i] for i in rng.permutation(len(grid))]
    first = [default] if default in grid else []
    rest = [c for c in order if c != default]
    return (first + rest)[:search.budget]


def select(kind, world, changes, seeds, few, log):
    """Fit ``changes`` on train once per seed with early stopping on validation; the best
    epoch of the mean validation curve, its mean NDCG@10 and the seconds per epoch."""
    from textrec import evaluation, models

    validation_ndcg = evaluation.validation_ndcg(world.split, world.user_ids, world.item_ids,
                                                 lambda model: scores_of(model, world))
    curves, seconds, cold = [], [], []
    for seed in seeds:
        recipe_ = recipe(kind, world, changes)
        if not curves:
            history = recipe_.fit(stop_on=validation_ndcg, seed=seed)
        else:   # as many epochs as the first seed ran, scoring each, no stopping
            recording = models.BestEpoch(validation_ndcg, patience=None,
                                         restore_best_weights=False)
            history = recipe_.fit(epochs=len(curves[0]), seed=seed, callbacks=[recording])
        curves.append(history.history[f"val_ndcg@{K}"])
        seconds.extend(history.history["epoch_seconds"][1:])
        if not cold:
            cold.append(ranking(world, scores_of(history.model, world), few)["ndcg_few"])
    mean_curve = np.mean(curves, axis=0)
    best = int(np.argmax(mean_curve))
    return {"epochs": best + 1, "ndcg": float(mean_curve[best]),
            "ndcg_few_first_seed": cold[0], "epochs_run": len(mean_curve),
            "epoch_seconds": float(np.median(seconds)) if seconds else float("nan")}


def train_and_score(kind, world, changes, epochs, seeds, few, rating_frame=None):
    """Train ``changes`` for ``epochs`` once per seed on ``world``'s history, score its part;
    means over the seeds (per-user metrics averaged), seconds of one fit."""
    results = []
    for seed in seeds:
        start = time.perf_counter()
        model = recipe(kind, world, changes).fit(epochs=epochs, seed=seed).model
        fit_seconds = time.perf_counter() - start
        result = ranking(world, scores_of(model, world), few)
        result["fit_seconds"] = fit_seconds
        if kind == "joint" and rating_frame is not None:
            result["rmse"] = joint_rmse(model, rating_frame)
        results.append(result)
    out = {}
    for key in results[0]:
        values = [r[key] for r in results]
        out[key] = np.nanmean(np.stack(values), axis=0) if key.endswith("_per_user") \
            else float(np.mean(values))
    out["ndcg_seed_std"] = float(np.std([r["ndcg"] for r in results]))
    return out


def run_searches(worlds, budgets, selection_seeds, seeds, few, test_frame, log, smoke=False):
    """Every search; returns {name: {"changes", "selection", "tried", "train", "refit",
    "seconds"}} with test results of the fit on train and of the refit."""
    from textrec import models

    defaults = {"mf": models.MF_SETTINGS["quick"], "id": models.TWO_TOWER_SETTINGS["quick"],
                "text": models.TWO_TOWER_SETTINGS["quick"],
                "joint": models.JOINT_SETTINGS["quick"]}
    chosen = {}
    for search in searches(budgets):
        start = time.perf_counter()
        fixed = dict(search.fixed)
        if search.kind == "joint":          # the retrieval core: the text-aware towers chosen
            fixed.update(chosen["text-aware two-tower"]["changes"])
        tried = []
        for config in configurations(search, defaults[search.kind])[:1 if smoke else None]:
            tic = time.perf_counter()
            changes = dict(fixed, **config)
            result = select(search.kind, worlds["validation"], changes, selection_seeds, few,
                            log)
            tried.append({"changes": config, **result})
            log(f"  {search.name} {describe(config)}: epoch {result['epochs']} of "
                f"{result['epochs_run']}, validation NDCG@10 {result['ndcg']:.4f} "
                f"({time.perf_counter() - tic:.0f} s)")
        best = max(tried, key=lambda r: r["ndcg"])
        changes = dict(fixed, **best["changes"])
        rating = {"validation": None, "test": test_frame} if search.kind == "joint" else {}
        train = train_and_score(search.kind, _as_test(worlds), changes, best["epochs"], seeds,
                                few, rating.get("test"))
        refit = train_and_score(search.kind, worlds["test"], changes, best["epochs"], seeds,
                                few, rating.get("test"))
        chosen[search.name] = {"kind": search.kind, "changes": changes, "selection": best,
                               "tried": tried, "train": train, "refit": refit,
                               "budget": search.budget, "grid_size": grid_size(search),
                               "seconds": time.perf_counter() - start}
        log(f"{search.name}: {describe(changes)}, {best['epochs']} epochs; test NDCG@10 "
            f"{refit['ndcg']:.4f} refit, {train['ndcg']:.4f} fit on train "
            f"({chosen[search.name]['seconds'] / 60:.1f} min)")
    return chosen


def _as_test(worlds):
    """The train history scored on test (the models as chosen on validation)."""
    validation, test = worlds["validation"], worlds["test"]
    return dataclasses.replace(validation, part="test", targets=test.targets, seen=test.seen)


def grid_size(search: Search) -> int:
    return int(np.prod([len(values) for values in search.space.values()]))


def describe(changes: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in changes.items())
