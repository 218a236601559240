"""Recommenders on the real reviews: baselines, EASE, text-only, EASE with text side information,
blends, user-based CF, and the course's neural models (matrix factorisation, the two towers, the
joint model) with their hyper-parameters chosen on validation; written to
``benchmarks/results/models.md`` and ``models.json``.

    python benchmarks/models_benchmark.py [--data PATH] [--max-length 128]
        [--selection-seeds 2] [--seeds 3] [--budget-mf 8] [--budget-id 8] [--budget-text 12]
        [--budget-joint 10] [--no-neural] [--no-synthetic] [--bootstrap 1000]
        [--out benchmarks/results/models.md]

The closed-form part (``benchmarks/text_models.py``: random-ranking expected value, most
popular, item-kNN, EASE, text-only and the ``textrec.models.text_ease`` models) goes through
``textrec.evaluation.Evaluator``: hyper-parameters chosen on validation, test reported for the
fit on train and for the refit on train + validation. Its report is written first; the rest
follows and the report is rewritten with it. ``models.json`` is a list of rows with ``model``,
``fit``, ``text_aware``, ``ndcg@10``, ``ndcg@10_cold``, ``hr@10``, ``diff_vs_ease`` (paired
per-user NDCG@10 difference against EASE in the same fit) and its ``diff_vs_ease_interval``
(95% bootstrap), the same for cold users and long-tail targets, ``seconds_to_train``; the neural
rows add ``epochs``, ``seconds`` (one fit), ``hyperparameters`` (the chosen settings),
``validation_ndcg@10`` and ``search`` (grid size, configurations tried, minutes).

Protocol (one run does all of it):

* data: the Amazon 2014 Musical Instruments 5-core reviews, cleaned and split leave-last-out
  (each user's last review is test, the one before validation, the rest train);
* text: all-MiniLM-L6-v2 (the offline package), at most ``--max-length`` tokens per review;
  user interest vectors and item text vectors from the reviews the models may see (the file has
  no item descriptions);
* metrics: HR@10 and NDCG@10 by full ranking over every item, with each user's seen items
  masked, for all users, users with at most 3 train interactions and long-tail targets;
* neural models: each built by its package recipe (``textrec.models.recipes``) and searched as
  ``benchmarks/neural_search.py`` describes (budgeted grid, early stopping on validation
  NDCG@10, curves averaged over ``--selection-seeds``); the chosen configuration trained
  ``--seeds`` times for the chosen epochs, on train and on train + validation, and scored on
  TEST (means over the seeds). The rating model (matrix factorisation of the stars) is kept as
  the counter-example: chosen on validation RMSE, ranked by predicted rating;
* the synthetic world (quick profile): the recipes with their default settings against EASE,
  fit on train with early stopping on validation, scored on test (``models_synthetic.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np
import pandas as pd

from common import git_revision, machine, markdown_table, real_data_path
from neural_search import K, build_world, ranking, run_searches

FEW = 3
NEURAL = ("matrix factorisation", "ID-only two-tower", "text-aware two-tower", "joint model")
RATING_MF = "matrix factorisation on stars (ranked by predicted rating)"
TEXT_ROWS = {"text-only (lesson 03)", "user-based CF, neighbours from text",
             "text-aware two-tower", "joint model"}



def rating_mf(worlds, few, seeds, log):
    """The counter-example: ``models.MatrixFactorization`` of the stars, L2 and epochs chosen on
    validation RMSE, refit on train + validation, items ranked by predicted rating."""
    import tensorflow as tf

    from textrec import models
    from textrec.data import schema, tfdata
    from textrec.evaluation import rmse

    def build(world, l2):
        mean = float(world.history[schema.RATING].mean())
        return lambda: models.MatrixFactorization(world.user_ids, world.item_ids, 32,
                                                  global_mean=mean, l2=l2)

    def predicted(model, frame):
        return np.clip(model({schema.USER: tf.constant(frame[schema.USER].astype(str).tolist()),
                              schema.ITEM: tf.constant(frame[schema.ITEM].astype(str).tolist())}
                             ).numpy(), 1, 5)

    world = worlds["validation"]
    frame = world.split.validation
    best = None
    for l2 in (1e-3, 1e-2, 1e-1):
        curve = []

        class Validate(tf.keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                curve.append(rmse(frame[schema.RATING].to_numpy(float),
                                  predicted(self.model, frame)))

        models.fit_model(build(world, l2), tfdata.interactions_dataset(
            world.history, batch_size=256, shuffle=True, seed=seeds[0]), epochs=20,
            learning_rate=0.01, callbacks=[Validate()], seed=seeds[0])
        epoch = int(np.argmin(curve))
        if best is None or curve[epoch] < best[2]:
            best = (l2, epoch + 1, curve[epoch])
    l2, epochs, validation_rmse = best
    results = []
    for seed in seeds:
        start = time.perf_counter()
        model = models.fit_model(build(worlds["test"], l2), tfdata.interactions_dataset(
            worlds["test"].history, batch_size=256, shuffle=True, seed=seed), epochs=epochs,
            learning_rate=0.01, seed=seed).model
        seconds = time.perf_counter() - start
        result = ranking(worlds["test"], model.rating_matrix(world.user_ids, world.item_ids), few)
        test = worlds["test"].split.test
        result.update(rmse=rmse(test[schema.RATING].to_numpy(float), predicted(model, test)),
                      fit_seconds=seconds)
        results.append(result)
    out = {key: (np.nanmean(np.stack([r[key] for r in results]), axis=0)
                 if key.endswith("_per_user") else float(np.mean([r[key] for r in results])))
           for key in results[0]}
    log(f"{RATING_MF}: l2 {l2:g}, {epochs} epochs, validation RMSE {validation_rmse:.4f}; test "
        f"NDCG@10 {out['ndcg']:.4f}, RMSE {out['rmse']:.4f}")
    return out, {"l2": l2, "epochs": epochs, "validation_rmse": round(validation_rmse, 4)}


def synthetic_check(log, seed: int = 42) -> dict:
    """The recipes with their default (quick) settings on the synthetic world, against EASE
    (lambda chosen on validation): fit on train, early stopping on validation, test NDCG@10."""
    from textrec import config, evaluation, interests, models
    from textrec.data.prepare import prepare_data
    from textrec.text import TextEmbedder

    config.set_seeds(seed)
    data = prepare_data("synthetic", profile="quick", seed=seed)
    split, train = data.split, data.split.train
    review_vectors, description_vectors = interests.embed_train_and_items(
        train, data.items, TextEmbedder())
    reviews = models.ReviewVectors(train, review_vectors)
    user_text = interests.interest_vectors(reviews)
    item_text = interests.item_text_vectors(data.items, reviews,
                                            description_vectors=description_vectors)
    interactions = evaluation.InteractionData.from_split(split, user_ids=user_text.ids,
                                                         item_ids=item_text.ids)
    evaluator = evaluation.Evaluator(interactions, ks=(K,))
    evaluator.run("EASE", models.EASE, grid={"l2": [10.0, 50.0, 200.0, 500.0, 1000.0]},
                  refit=False)
    evaluator.run("most popular", models.MostPopular, refit=False)
    recipes = {
        "matrix factorisation": models.matrix_factorization_recipe(
            train, user_ids=user_text.ids, item_ids=item_text.ids),
        "ID-only two-tower": models.two_tower_recipe(user_text, item_text, train,
                                                     use_text=False),
        "text-aware two-tower": models.two_tower_recipe(user_text, item_text, train),
        "joint model": models.joint_model_recipe(user_text, item_text, reviews),
    }
    epochs = {}
    validation_ndcg = evaluation.validation_ndcg(split, user_text.ids, item_text.ids,
                                                 models.tower_scores(user_text.ids, item_text.ids))
    for name, recipe in recipes.items():
        history = recipe.fit(stop_on=validation_ndcg, seed=seed)
        epochs[name] = history.best_epoch
        scores = models.score_matrix(history.model.query_model, history.model.candidate_model,
                                     user_text.ids, item_text.ids)
        for part in ("validation", "test"):
            evaluator.add(name, scores, part, "train")
    results = evaluator.results
    out = {"data": data.name, "users": int(interactions.n_users),
           "items": int(interactions.n_items), "seed": seed, "models": {}}
    for name in ("most popular", "EASE", *recipes):
        validation_run = results.get(name, "validation", "train")
        out["models"][name] = {
            "validation_ndcg@10": round(validation_run.mean("ndcg@10"), 4),
            "test_ndcg@10": round(results.get(name, "test", "train").mean("ndcg@10"), 4),
            "test_ndcg@10_cold": round(float(np.nanmean(results.values(
                name, "ndcg@10", "test", "train", "cold"))), 4),
            "epochs": epochs.get(name)}
        if name not in ("EASE", "most popular"):
            test = results.compare(name, "EASE", "ndcg@10", "test", "train", n_resamples=1000,
                                   seed=0, method="bootstrap")
            out["models"][name]["diff_vs_ease"] = round(test["difference"], 4)
            out["models"][name]["diff_vs_ease_interval"] = [round(test["low"], 4),
                                                            round(test["high"], 4)]
    out["models"]["EASE"]["params"] = results.get("EASE", "test", "train").params
    log("synthetic: " + ", ".join(f"{name} {m['test_ndcg@10']:.4f}"
                                  for name, m in out["models"].items()))
    return out


def synthetic_section(synthetic: dict) -> str:
    rows = []
    for name, m in synthetic["models"].items():
        rows.append({"model (synthetic, fit on train)": name,
                     "validation NDCG@10": f"{m['validation_ndcg@10']:.4f}",
                     "test NDCG@10": f"{m['test_ndcg@10']:.4f}",
                     "test NDCG@10 cold": f"{m['test_ndcg@10_cold']:.4f}",
                     "vs EASE [95%]": (f"{m['diff_vs_ease']:+.4f} "
                                       f"{_interval(m['diff_vs_ease_interval'])}"
                                       if "diff_vs_ease" in m else "-"),
                     "epochs": m["epochs"] or "-"})
    joint = synthetic["models"]["joint model"]
    met = joint["diff_vs_ease"] >= 0
    return (f"## The synthetic world (quick profile, the lessons' default data)\n\n"
            f"{synthetic['data']}: {synthetic['users']} users, {synthetic['items']} items. The "
            f"recipes with their default settings (the real data's choice), epochs by early "
            f"stopping on validation, fit on train; EASE's lambda chosen on validation "
            f"({synthetic['models']['EASE']['params']}); seed {synthetic['seed']}.\n\n"
            f"{markdown_table(rows, list(rows[0]))}\n\n"
            f"Aim: the joint model >= EASE on the synthetic world: "
            f"**{'met' if met else 'not met'}** "
            f"(test NDCG@10 {joint['test_ndcg@10']:.4f} against "
            f"{synthetic['models']['EASE']['test_ndcg@10']:.4f}, difference "
            f"{joint['diff_vs_ease']:+.4f} [{joint['diff_vs_ease_interval'][0]:+.4f}, "
            f"{joint['diff_vs_ease_interval'][1]:+.4f}]).\n")


def _interval(values) -> str:
    return f"[{values[0]:+.4f}, {values[1]:+.4f}]"


def aims_23(table: list[dict], comparisons: dict) -> str:
    """The issue's aims for the neural models, each met or not, from the refit rows."""
    rows = {row["model"]: row for row in table if row["fit"] == "train+validation"}
    knn = rows["item-kNN"]["ndcg@10"]
    lines = []
    for name in NEURAL:
        row = rows[name]
        bar = 0.055 if name == "matrix factorisation" else knn
        label = "0.055" if name == "matrix factorisation" else f"item-kNN's {knn:.4f}"
        lines.append(f"- {name}: test NDCG@10 {row['ndcg@10']:.4f} against {label}: "
                     f"**{'met' if row['ndcg@10'] >= bar else 'not met'}**.")
    joint, ease, popular = rows["joint model"], rows["EASE"], rows["most popular"]
    overall = joint["ratio_vs_ease"] >= 0.95
    cold = joint["diff_vs_ease_cold"] >= 0
    tail = joint["ndcg@10_tail"] > popular["ndcg@10_tail"]
    lines.append(
        f"- joint model >= 0.95 x EASE overall: {joint['ratio_vs_ease']:.3f} x "
        f"({joint['ndcg@10']:.4f} against {ease['ndcg@10']:.4f}; paired difference "
        f"{joint['diff_vs_ease']:+.4f} {_interval(joint['diff_vs_ease_interval'])}): "
        f"**{'met' if overall else 'not met'}**.")
    lines.append(
        f"- joint model >= EASE on users with <= {FEW} train interactions: "
        f"{joint['ndcg@10_cold']:.4f} against {ease['ndcg@10_cold']:.4f} (paired difference "
        f"{joint['diff_vs_ease_cold']:+.4f} {_interval(joint['diff_vs_ease_cold_interval'])}): "
        f"**{'met' if cold else 'not met'}**"
        + ("" if not cold or joint["diff_vs_ease_cold_interval"][0] > 0 else
           " in the mean, within noise") + ".")
    lines.append(f"- joint model's long-tail NDCG@10 above most popular's: "
                 f"{joint['ndcg@10_tail']:.4f} against {popular['ndcg@10_tail']:.4f}: "
                 f"**{'met' if tail else 'not met'}**.")
    text = comparisons[("text-aware two-tower", "ID-only two-tower")]
    lines.append(f"- text-aware two-tower >= its ID-only twin: paired difference "
                 f"{text['difference']:+.4f} [{text['low']:+.4f}, {text['high']:+.4f}]: "
                 f"**{'met' if text['difference'] >= 0 else 'not met'}**"
                 + ("" if text["low"] > 0 or text["difference"] < 0 else
                    " in the mean, within noise") + ".")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--selection-seeds", type=int, default=2,
                        help="fits per configuration on train, validation curves averaged")
    parser.add_argument("--seeds", type=int, default=3,
                        help="fits of the chosen configuration, on train and on train + validation")
    for name, budget in (("mf", 8), ("id", 8), ("text", 12), ("joint", 10)):
        parser.add_argument(f"--budget-{name}", type=int, default=budget,
                            help=f"configurations tried for the {name} model")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.md"))
    parser.add_argument("--smoke", action="store_true",
                        help="one configuration per model, one seed, no text side-information "
                             "models (to check the script runs)")
    parser.add_argument("--no-neural", action="store_true",
                        help="only the closed-form and text side-information models")
    parser.add_argument("--no-synthetic", action="store_true",
                        help="skip the synthetic world's check")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap resamples of the users for every interval")
    args = parser.parse_args()
    started = time.perf_counter()

    from textrec import config, interests
    from textrec.data import schema, tfdata
    from textrec.data.prepare import prepare_data
    from textrec import evaluation
    from textrec.models import popularity as baselines, text_ease
    from textrec.text import TextEmbedder

    import text_models

    log = lambda line: print(line, flush=True)  # noqa: E731
    path = real_data_path(args.data)
    data = prepare_data(str(path), profile="quick", seed=config.SEED)
    split = data.split
    train, validation, test = split.train, split.validation, split.test
    user_ids = tfdata.vocabulary(train[schema.USER])
    item_ids = tfdata.vocabulary(data.reviews[schema.ITEM])
    n_train = train[schema.USER].value_counts().reindex(user_ids).fillna(0).to_numpy()
    few = n_train <= FEW
    print(f"{data.name}: {len(data.reviews):,} reviews, {len(user_ids):,} users "
          f"({few.sum()} with <= {FEW} train interactions), {len(item_ids):,} items", flush=True)

    embedder = TextEmbedder(max_length=args.max_length)
    train_vectors = interests.embed_texts(embedder, train[schema.TEXT].tolist())
    validation_vectors = interests.embed_texts(embedder, validation[schema.TEXT].tolist())
    print(f"embedded {len(train) + len(validation):,} reviews in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    both = pd.concat([train, validation], ignore_index=True)
    both_vectors = np.concatenate([train_vectors, validation_vectors])

    # Closed-form models, text-only and EASE with text side information (benchmarks/text_models).
    # They get the train and validation reviews only, and read those of the interactions they
    # are fitted on: train for the fit on train, train + validation for the refit.
    interactions = evaluation.InteractionData.from_split(split, item_ids=item_ids)
    reviews = text_ease.ReviewText.from_frame(both, interactions.user_ids, interactions.item_ids,
                                              vectors=both_vectors)
    evaluator, text_aware = text_models.run_matrix_models(
        interactions, reviews, log=lambda line: print(line, flush=True),
        with_text=not args.smoke)
    out = Path(args.out)

    def report(extra: str) -> None:
        minutes = (time.perf_counter() - started) / 60
        command = "python benchmarks/models_benchmark.py " + " ".join(sys.argv[1:])
        header = (
            f"{dt.date.today()} · {machine()} · git {git_revision()} · `{command.strip()}` · "
            f"{minutes:.0f} min\n\n"
            f"{data.name}: {len(data.reviews):,} reviews, {interactions.n_users:,} users "
            f"({int((interactions.train_counts() <= FEW).sum())} cold: at most {FEW} train "
            f"interactions), {interactions.n_items:,} items; leave-last-out; TEST, full ranking "
            f"over all items with train + validation items masked. `fit` says what a model was "
            f"fitted on: `train` (hyper-parameters chosen on validation) or `train+validation` "
            f"(the same hyper-parameters refitted; text features rebuilt from train + "
            f"validation reviews; test reviews are never read). Means over users; `diff` is the "
            f"paired per-user NDCG@10 difference against EASE in the same fit regime with its "
            f"95% bootstrap interval ({args.bootstrap} resamples of the users); `tail`: users "
            f"whose held-out item is below the 50th popularity percentile. Text: TF-IDF of the "
            f"review words (summary + text; at most 10,000 words found in at least 2 reviews; "
            f"log(1 + count) x IDF, each review's vector scaled to unit length before a "
            f"user's or an item's are summed) or all-MiniLM-L6-v2 at most "
            f"{args.max_length} tokens. `train s`: seconds to fit once with the chosen "
            f"hyper-parameters (noisy: a shared 2-core machine). Also in "
            f"`{out.with_suffix('.json').name}`.")
        table = text_models.rows(evaluator.results, text_aware, n_resamples=args.bootstrap)
        text_models.add_validation(table, evaluator.results)
        decorate(table)
        if callable(extra):
            extra = extra(table)
        text_models.write(table, header, extra, out, out.with_suffix(".json"))
        print(f"wrote {out} and {out.with_suffix('.json')}", flush=True)

    neural_rows = {}   # model -> extra JSON fields of its rows

    def decorate(table):
        for row in table:
            row.update(neural_rows.get((row["model"], row["fit"]), {}))

    report("Neural models (two-tower, joint, matrix factorisation) and user-based CF: not in "
           "this file (run without `--no-neural`; the file is rewritten when they finish).")
    if args.no_neural:
        return

    worlds = {}

    def world(part, method="mean"):
        if (part, method) not in worlds:
            history, vectors = (train, train_vectors) if part == "validation" \
                else (both, both_vectors)
            worlds[part, method] = build_world(split, part, history, vectors, user_ids,
                                               item_ids, method)
        return worlds[part, method]

    rows, chosen = [], {}
    seeds = [config.SEED + s for s in range(args.seeds)]
    selection_seeds = [config.SEED + s for s in range(args.selection_seeds)]

    # Baselines without training.
    popular = {part: ranking(world(part), baselines.most_popular_scores(
        world(part).history, item_ids, len(user_ids)), few) for part in ("validation", "test")}
    rows.append(("most popular", popular["test"], popular["validation"], "none"))

    text_only = {}
    for method in ("mean", "recency"):
        w = world("validation", method)
        popularity = baselines.item_popularity(w.history, item_ids)
        text_only[method] = ranking(w, interests.text_scores(
            w.user_text, w.item_text, fallback=popularity / popularity.max()), few)
    method = max(text_only, key=lambda m: text_only[m]["ndcg"])
    w = world("test", method)
    popularity = baselines.item_popularity(w.history, item_ids)
    rows.append(("text-only (lesson 03)", ranking(w, interests.text_scores(
        w.user_text, w.item_text, fallback=popularity / popularity.max()), few),
        text_only[method], f"interest vectors: {method}" + (" (half-life 180 days)"
                                                            if method == "recency" else "")))

    # User-based CF (lesson 05): neighbours by text interest vectors or by interaction history;
    # ties (items no neighbour liked) broken by popularity.
    from textrec import models

    def neighbour_scores(w, source, n_neighbours, min_rating):
        popularity = baselines.item_popularity(w.history, item_ids)
        if source == "text":
            scores = models.text_neighbour_scores(w.user_text.vectors, w.history, user_ids,
                                                  item_ids, n_neighbours, min_rating=min_rating)
        else:
            scores = models.history_neighbour_scores(w.history, user_ids, item_ids, n_neighbours,
                                                     min_rating=min_rating)
        return scores + 1e-6 * popularity / popularity.max()

    for source in ("history", "text"):
        options = list(itertools.product((10, 20, 50, 100, 200), (1.0, 4.0)))
        results = {option: ranking(world("validation"), neighbour_scores(
            world("validation"), source, *option), few) for option in options}
        best = max(options, key=lambda option: results[option]["ndcg"])
        rows.append((f"user-based CF, neighbours from {source}",
                     ranking(world("test"), neighbour_scores(world("test"), source, *best), few),
                     results[best], f"{best[0]} neighbours, liked = rating >= {best[1]:g}"))
        print(f"neighbours from {source}: {best}, validation NDCG@10 {results[best]['ndcg']:.4f}",
              flush=True)


    # The neural models: searched on validation, trained on train and on train + validation.
    if args.smoke:
        selection_seeds, seeds = selection_seeds[:1], seeds[:1]
    budgets = {"mf": args.budget_mf, "id": args.budget_id, "text": args.budget_text,
               "joint": args.budget_joint}
    parts = {"validation": world("validation"), "test": world("test")}
    chosen = run_searches(parts, budgets, selection_seeds, seeds, few, test, log,
                          smoke=args.smoke)
    star_result, star_params = rating_mf(parts, few, seeds, log)

    position = pd.Index(user_ids).get_indexer(interactions.user_ids.astype(str))

    def per_user(result):
        return {f"ndcg@{K}": np.where(position >= 0, result["ndcg_per_user"][position], np.nan),
                f"hr@{K}": np.where(position >= 0, result["hr_per_user"][position], np.nan)}

    for name, result, _, description in rows:
        if name == "most popular":
            continue            # the Evaluator's row is the same model
        text_models.add_external_run(evaluator.results, name, "train+validation",
                                     per_user(result), result.get("fit_seconds"),
                                     {"chosen": description})
    text_models.add_external_run(evaluator.results, RATING_MF, "train+validation",
                                 per_user(star_result), star_result["fit_seconds"], star_params)
    for name, found in chosen.items():
        params = dict(found["changes"], epochs=found["selection"]["epochs"])
        for fit, key in (("train", "train"), ("train+validation", "refit")):
            text_models.add_external_run(evaluator.results, name, fit, per_user(found[key]),
                                         found[key]["fit_seconds"], params)
            neural_rows[name, fit] = {
                "epochs": found["selection"]["epochs"],
                "seconds": round(found[key]["fit_seconds"], 2),
                "hyperparameters": found["changes"],
                "validation_ndcg@10": round(found["selection"]["ndcg"], 5),
                "search": {"grid_size": found["grid_size"], "budget": found["budget"],
                           "tried": len(found["tried"]),
                           "selection_seeds": len(selection_seeds), "seeds": len(seeds),
                           "minutes": round(found["seconds"] / 60, 1)},
                "ndcg@10_seed_std": round(found[key]["ndcg_seed_std"], 5)}
            if "rmse" in found[key]:
                neural_rows[name, fit]["rmse"] = round(found[key]["rmse"], 4)
    neural_rows[RATING_MF, "train+validation"] = {"rmse": round(star_result["rmse"], 4),
                                                  "hyperparameters": star_params}
    text_aware.update(name for name in TEXT_ROWS)

    comparisons = {}
    pairs = [("text-aware two-tower", "ID-only two-tower"), ("joint model", "ID-only two-tower"),
             ("joint model", "text-aware two-tower"), ("matrix factorisation", RATING_MF),
             ("user-based CF, neighbours from text", "user-based CF, neighbours from history")]
    for better, worse in pairs:
        comparisons[better, worse] = evaluator.results.compare(
            better, worse, f"ndcg@{K}", "test", "train+validation", n_resamples=args.bootstrap,
            seed=0, method="bootstrap")
        comparisons[better, worse, "cold"] = evaluator.results.compare(
            better, worse, f"ndcg@{K}", "test", "train+validation", "cold",
            n_resamples=args.bootstrap, seed=0, method="bootstrap")

    synthetic = None if args.no_synthetic else synthetic_check(log)
    if synthetic is not None:
        out.with_name(out.stem + "_synthetic.json").write_text(json.dumps(synthetic, indent=1)
                                                              + "\n")

    def extra(table):
        return neural_report(table, chosen, rows, star_params, comparisons, selection_seeds,
                             seeds, mean_rmse, synthetic)

    mean_rmse = evaluation.rmse(test[schema.RATING].to_numpy(float),
                                np.full(len(test), float(both[schema.RATING].mean())))
    report(extra)


def neural_report(table, chosen, rows, star_params, comparisons, selection_seeds, seeds,
                  mean_rmse, synthetic) -> str:
    """The sections after the tables: the aims, how each model was chosen, paired differences,
    the synthetic world."""
    from neural_search import describe

    details = []
    for name, result, validation_result, description in rows:
        details.append({"model": name, "chosen on validation": description,
                        "validation NDCG@10": f"{validation_result['ndcg']:.4f}",
                        "epochs": "-", "configurations (grid)": "-", "search min": "-",
                        "s / fit": "-", "test RMSE (refit)": "-"})
    for name, found in chosen.items():
        selection = found["selection"]
        details.append({"model": name, "chosen on validation": describe(found["changes"]),
                        "validation NDCG@10": f"{selection['ndcg']:.4f}",
                        "epochs": selection["epochs"],
                        "configurations (grid)": f"{len(found['tried'])} ({found['grid_size']})",
                        "search min": f"{found['seconds'] / 60:.1f}",
                        "s / fit": f"{found['refit']['fit_seconds']:.1f}",
                        "test RMSE (refit)": (f"{found['refit']['rmse']:.4f}"
                                              if "rmse" in found["refit"] else "-")})
    star = next(r for r in table if r["model"] == RATING_MF)
    details.append({"model": RATING_MF, "chosen on validation":
                    f"l2 {star_params['l2']:g} (validation RMSE "
                    f"{star_params['validation_rmse']})",
                    "validation NDCG@10": "-", "epochs": star_params["epochs"],
                    "configurations (grid)": "3 (3)", "search min": "-", "s / fit": "-",
                    "test RMSE (refit)": f"{star['rmse']:.4f}"})
    details.append({"model": "predict the mean rating", "chosen on validation": "-",
                    "validation NDCG@10": "-", "epochs": "-", "configurations (grid)": "-",
                    "search min": "-", "s / fit": "-", "test RMSE (refit)": f"{mean_rmse:.4f}"})
    paired = []
    for key, test in comparisons.items():
        if len(key) == 3:
            continue
        cold = comparisons[key + ("cold",)]
        paired.append({"comparison (test, refit)": f"{key[0]} - {key[1]}",
                       "NDCG@10 difference, all users [95%]":
                           f"{test['difference']:+.4f} [{test['low']:+.4f}, {test['high']:+.4f}]",
                       f"users with <= {FEW} [95%]":
                           f"{cold['difference']:+.4f} [{cold['low']:+.4f}, {cold['high']:+.4f}]"})
    tried = []
    for name, found in chosen.items():
        for attempt in sorted(found["tried"], key=lambda r: -r["ndcg"]):
            tried.append({"model": name, "configuration": describe(attempt["changes"]),
                          "validation NDCG@10": f"{attempt['ndcg']:.4f}",
                          "epochs (of run)": f"{attempt['epochs']} ({attempt['epochs_run']})",
                          "s / epoch": f"{attempt['epoch_seconds']:.2f}"})
    return (f"## Aims of issue #23 (the neural models, refit on train + validation)\n\n"
            f"{aims_23(table, comparisons)}\n\n"
            f"## The neural models: how they were chosen\n\n"
            f"Each neural model is its package recipe (`textrec.models.recipes`). Search: a "
            f"budget of configurations from each grid (the recipe's current settings first, the "
            f"rest in a fixed random order), each fit on train {len(selection_seeds)} time(s) with "
            f"early stopping on validation NDCG@10 (`Recipe.fit(stop_on=...)` with "
            f"`evaluation.validation_ndcg`); the score is "
            f"the best epoch of the mean validation curve. The joint model's search varies its "
            f"loss weights on the chosen text-aware towers. The chosen configuration is trained "
            f"{len(seeds)} time(s) for the chosen epochs on train (rows `train`) and on train + "
            f"validation (rows `train+validation`); rows are means over those seeds. `l2` is the "
            f"penalty per average item (`models.penalty_weight`).\n\n"
            f"{markdown_table(details, list(details[0]))}\n\n"
            f"Paired differences on test (per-user NDCG@10, same users, 95% bootstrap):\n\n"
            f"{markdown_table(paired, list(paired[0]))}\n\n"
            + (synthetic_section(synthetic) + "\n" if synthetic else "")
            + f"## Every configuration tried (validation NDCG@10, fit on train)\n\n"
            f"{markdown_table(tried, list(tried[0]))}\n")


if __name__ == "__main__":
    main()
