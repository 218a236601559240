"""Recommenders on the real reviews: baselines, EASE, text-only, EASE with text side information,
blends, two towers (ids / text), MF, joint; written to ``benchmarks/results/models.md`` and
``models.json``.

    python benchmarks/models_benchmark.py [--data PATH] [--max-length 128] [--max-epochs 20]
        [--selection-seeds 2] [--seeds 3] [--no-neural] [--bootstrap 1000]
        [--out benchmarks/results/models.md]

The closed-form part (``benchmarks/text_models.py``: random-ranking expected value, most
popular, item-kNN, EASE, text-only and the ``textrec.models.text_ease`` models) goes
through ``textrec.evaluation.Evaluator``: hyper-parameters chosen on validation, test reported
for the fit on train and for the refit on train + validation. Its report is written first; the
neural models (and user-based CF with neighbours from text or from history, lesson 05) follow
and the report is rewritten with their refit rows. ``models.json`` is a list of rows with
``model``, ``fit``, ``text_aware``, ``ndcg@10``, ``ndcg@10_cold``, ``hr@10``, ``diff_vs_ease``
(paired per-user NDCG@10 difference against EASE in the same fit) and its
``diff_vs_ease_interval`` (95% bootstrap), the same for cold users and long-tail targets, and
``seconds_to_train``.

Protocol (one run does all of it):

* data: the Amazon 2014 Musical Instruments 5-core reviews, cleaned and split leave-last-out
  (each user's last review is test, the one before validation, the rest train);
* text: all-MiniLM-L6-v2 (the offline package), at most ``--max-length`` tokens per review;
  user interest vectors and item text vectors from the reviews the models may see (the file has
  no item descriptions);
* metrics: HR@10 and NDCG@10 by full ranking over every item, with each user's seen items masked,
  for all users and for users with at most 3 train interactions; RMSE of predicted ratings
  (clipped to 1-5) for the models that predict ratings; seconds per training epoch (median over
  the epochs after the first, which traces the graph);
* selection: every hyper-parameter, the number of epochs included, is chosen on VALIDATION with
  models fit on train: each configuration is fit ``--selection-seeds`` times and its validation
  curves (NDCG@10 per epoch; RMSE for matrix factorisation) are averaged, so that one lucky seed
  does not pick the winner; training stops after ``--patience`` epochs without improvement, at
  most ``--max-epochs``;
* test: each chosen configuration is refit on train + validation (text vectors rebuilt from
  those reviews) for the chosen number of epochs, once per seed, and scored on test with train
  and validation items masked. Reported numbers are means over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import sys
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np
import pandas as pd

from common import git_revision, machine, markdown_table, real_data_path

FEW = 3
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
    targets: list = None
    seen: list = None


def build_world(split, part, history, vectors, user_ids, item_ids, method="mean"):
    from textrec import interests
    from textrec.evaluation import heldout

    world = World(split, part, history, vectors, user_ids, item_ids)
    world.user_text = interests.interest_vectors(history, vectors, method, half_life_days=180.0,
                                                 user_ids=user_ids)
    world.item_text = interests.item_text_vectors(_items_frame(item_ids), history, vectors,
                                                  None, item_ids=item_ids)
    world.targets, world.seen = heldout(split, part, user_ids, item_ids)
    return world


def _items_frame(item_ids):
    from textrec.data import schema

    return pd.DataFrame({schema.ITEM: item_ids, schema.DESCRIPTION: ""})


def ranking(world, scores, few):
    from textrec.evaluation import ranking_metrics

    metrics = ranking_metrics(scores, world.targets, exclude=world.seen, ks=(K,), per_user=True)
    per_user = metrics["per_user"]
    return {"hr": metrics[f"hr@{K}"], "ndcg": metrics[f"ndcg@{K}"],
            "hr_few": float(np.nanmean(per_user[f"hr@{K}"][few])),
            "ndcg_few": float(np.nanmean(per_user[f"ndcg@{K}"][few])),
            "ndcg_per_user": per_user[f"ndcg@{K}"], "hr_per_user": per_user[f"hr@{K}"]}


# --- models -------------------------------------------------------------------------------------

def two_tower_builder(world, config):
    """Lesson 04's recipe (``models.two_tower_recipe``) with this run's settings."""
    from textrec import models

    return models.two_tower_recipe(
        world.user_text, world.item_text, world.history, user_ids=world.user_ids,
        item_ids=world.item_ids, embedding_dim=config["dim"],
        hidden_units=tuple(config["hidden"]), use_text=config["text"],
        use_query_ids=config.get("query_ids", True),
        normalize=config["temperature"] is not None, temperature=config["temperature"]).build


def joint_builder(world, config):
    """Lesson 05's recipe (``models.joint_model_recipe``) with this run's settings."""
    from textrec import models

    w_U, w_A, w_R = config["weights"]
    return models.joint_model_recipe(
        world.user_text, world.item_text, world.history, world.vectors,
        user_ids=world.user_ids, item_ids=world.item_ids, embedding_dim=config["dim"],
        use_query_ids=config.get("query_ids", True),
        w_U=w_U, w_A=w_A, w_R=w_R).build


def mf_builder(world, config):
    from textrec import models
    from textrec.data import schema

    mean_rating = float(world.history[schema.RATING].mean())
    return lambda: models.MatrixFactorization(world.user_ids, world.item_ids, config["dim"],
                                              global_mean=mean_rating, l2=config["l2"])


def dataset_for(kind, world, config, seed):
    from textrec import models
    from textrec.data import tfdata

    if kind == "joint":
        return models.joint_model_recipe(world.user_text, world.item_text, world.history,
                                         world.vectors).train_dataset(batch_size=config["batch"],
                                                                      seed=seed)
    return tfdata.interactions_dataset(world.history, batch_size=config["batch"], shuffle=True,
                                       seed=seed)


def model_scores(kind, world, model):
    from textrec import models

    if kind == "mf":
        return model.rating_matrix(world.user_ids, world.item_ids)
    return models.score_matrix(model.query_model, model.candidate_model, world.user_ids,
                               world.item_ids)


def predicted_ratings(kind, model, frame):
    import tensorflow as tf

    from textrec.data import schema

    features = {schema.USER: tf.constant(frame[schema.USER].astype(str).tolist()),
                schema.ITEM: tf.constant(frame[schema.ITEM].astype(str).tolist())}
    predicted = model(features) if kind == "mf" else model.predict_rating(features)
    return np.clip(np.asarray(predicted).ravel(), 1.0, 5.0)


def rating_rmse(kind, model, frame):
    from textrec.data import schema
    from textrec.evaluation import rmse

    return rmse(frame[schema.RATING].to_numpy(float), predicted_ratings(kind, model, frame))


def select_epochs(kind, world, config, few, max_epochs, patience, seeds):
    """Fit on ``world`` (train) once per seed, scoring validation after every epoch; the best
    epoch of the curve averaged over the seeds, and its mean metrics (NDCG@10 decides, RMSE for
    MF). The first seed stops after ``patience`` epochs without improvement; the others run as
    many epochs as it did."""
    import tensorflow as tf

    from textrec import models

    builders = {"two_tower": two_tower_builder, "joint": joint_builder, "mf": mf_builder}
    frame = getattr(world.split, world.part)
    curves, seconds = [], []
    for seed in seeds:
        log = []

        class Validate(tf.keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                result = ranking(world, model_scores(kind, world, self.model), few)
                result.pop("ndcg_per_user")
                result.pop("hr_per_user")
                if kind in ("mf", "joint"):
                    result["rmse"] = rating_rmse(kind, self.model, frame)
                result["objective"] = -result["rmse"] if kind == "mf" else result["ndcg"]
                log.append(result)
                best = int(np.argmax([r["objective"] for r in log]))
                if not curves and len(log) - 1 - best >= patience:
                    self.model.stop_training = True

        epochs = len(curves[0]) if curves else max_epochs
        history = models.fit_model(builders[kind](world, config),
                                   dataset_for(kind, world, config, seed), epochs=epochs,
                                   learning_rate=config["lr"], callbacks=[Validate()], seed=seed)
        curves.append(log)
        # EpochTimer runs before Validate: these are training seconds only. The first epoch
        # also traces the graph.
        seconds.extend(history.history["epoch_seconds"][1:])
    mean_curve = [{key: float(np.mean([curve[epoch][key] for curve in curves]))
                   for key in curves[0][epoch]} for epoch in range(len(curves[0]))]
    best = int(np.argmax([r["objective"] for r in mean_curve]))
    result = dict(mean_curve[best], epoch_seconds=float(np.median(seconds)) if seconds else np.nan)
    return best + 1, result


def refit(kind, world, config, epochs, few, seeds):
    """Fit ``world`` (train + validation) once per seed; mean test metrics and epoch time."""
    from textrec import models

    builders = {"two_tower": two_tower_builder, "joint": joint_builder, "mf": mf_builder}
    frame = getattr(world.split, world.part)
    results = []
    for seed in seeds:
        start = time.perf_counter()
        history = models.fit_model(builders[kind](world, config),
                                   dataset_for(kind, world, config, seed), epochs=epochs,
                                   learning_rate=config["lr"], seed=seed)
        fit_seconds = time.perf_counter() - start
        result = ranking(world, model_scores(kind, world, history.model), few)
        result["fit_seconds"] = fit_seconds
        if kind in ("mf", "joint"):
            result["rmse"] = rating_rmse(kind, history.model, frame)
        results.append(result)
    return _mean(results)


def _mean(results):
    out = {}
    for key in results[0]:
        values = [r[key] for r in results]
        out[key] = np.nanmean(np.stack(values), axis=0) if key.endswith("_per_user") \
            else float(np.mean(values))
    out["ndcg_seed_std"] = float(np.std([r["ndcg"] for r in results]))
    return out


# --- grids ------------------------------------------------------------------------------------

def grids():
    towers = [dict(dim=64, lr=0.003, hidden=hidden, temperature=temperature, batch=batch)
              for hidden, temperature, batch in itertools.product(
                  [(), (64,)], [None, 0.1], [256, 1024])]
    return {
        "ID-only two-tower": ("two_tower", [dict(c, text=False) for c in towers]),
        # query_ids False: users are what they wrote (no user id embedding), a guess that
        # should help users with few interactions.
        "text-aware two-tower": ("two_tower", [dict(c, text=True, query_ids=True) for c in towers]
                                 + [dict(c, text=True, query_ids=False) for c in towers
                                    if c["hidden"] and c["batch"] == 256]),
        "matrix factorisation": ("mf", [dict(dim=32, lr=0.01, l2=l2, batch=256)
                                        for l2 in (1e-3, 1e-2, 1e-1)]),
        "joint model": ("joint", [dict(dim=64, lr=0.003, batch=256, weights=weights,
                                       query_ids=query_ids)
                                  for weights, query_ids in [((1, 1, 1), True), ((1, 1, 1), False),
                                                             ((0.1, 1, 1), True),
                                                             ((1, 1, 0.1), True),
                                                             ((1, 1, 0.1), False)]]),
    }


def describe(config):
    parts = []
    for key, value in config.items():
        if key == "hidden":
            value = "-".join(map(str, value)) or "none"
        if key == "weights":
            key, value = "w_U/w_A/w_R", "/".join(f"{w:g}" for w in value)
        parts.append(f"{key} {value}")
    return ", ".join(parts)


# --- main -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--selection-seeds", type=int, default=2,
                        help="fits per configuration on train, validation curves averaged")
    parser.add_argument("--seeds", type=int, default=3, help="refits on train + validation")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.md"))
    parser.add_argument("--smoke", action="store_true",
                        help="only the first configuration of each grid (to check the script runs)")
    parser.add_argument("--no-neural", action="store_true",
                        help="only the closed-form and text side-information models")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap resamples of the users for every interval")
    args = parser.parse_args()
    started = time.perf_counter()

    from textrec import config, interests
    from textrec.data import schema, tfdata
    from textrec.data.prepare import prepare_data
    from textrec import evaluation
    from textrec.evaluation import rmse
    from textrec.models import popularity as baselines, text_ease
    from textrec.text import TextEmbedder

    import text_models

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
        interactions, reviews, log=lambda line: print(line, flush=True))
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
        text_models.write(table, header, extra, out, out.with_suffix(".json"))
        print(f"wrote {out} and {out.with_suffix('.json')}", flush=True)

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

    mean_rating = {part: float(world(part).history[schema.RATING].mean())
                   for part in ("validation", "test")}
    mean_row = {"rmse": rmse(test[schema.RATING], np.full(len(test), mean_rating["test"]))}
    validation_mean_rmse = rmse(validation[schema.RATING],
                                np.full(len(validation), mean_rating["validation"]))

    # Trained models: select on validation, refit on train + validation, score on test.
    for name, (kind, configs) in grids().items():
        configs = configs[:1] if args.smoke else configs
        best = None
        for config_ in configs:
            tic = time.perf_counter()
            epochs, result = select_epochs(kind, world("validation"), config_, few,
                                           args.max_epochs, args.patience, selection_seeds)
            better = best is None or result["objective"] > best[2]["objective"]
            print(f"  {name} [{describe(config_)}]: best epoch {epochs}, validation "
                  f"NDCG@10 {result['ndcg']:.4f}" + (f", RMSE {result['rmse']:.4f}"
                                                     if "rmse" in result else "")
                  + f" ({time.perf_counter() - tic:.0f} s)", flush=True)
            if better:
                best = (config_, epochs, result)
        config_, epochs, result = best
        test_result = refit(kind, world("test"), config_, epochs, few, seeds)
        chosen[name] = (config_, epochs)
        rows.append((name, test_result, result, f"{describe(config_)}, epochs {epochs}"))
        print(f"{name}: test NDCG@10 {test_result['ndcg']:.4f} "
              f"(seed std {test_result['ndcg_seed_std']:.4f})", flush=True)

    # Every row of the lesson models, as test runs of the refit (train + validation) beside
    # the closed-form ones: per-user metrics over the same users, means over the seeds.
    position = pd.Index(user_ids).get_indexer(interactions.user_ids.astype(str))
    text_rows = {"text-only (lesson 03)", "user-based CF, neighbours from text",
                 "text-aware two-tower", "joint model"}
    for name, result, _, description in rows:
        if name == "most popular":
            continue            # the Evaluator's row is the same model
        per_user = {f"ndcg@{K}": np.where(position >= 0, result["ndcg_per_user"][position],
                                          np.nan),
                    f"hr@{K}": np.where(position >= 0, result["hr_per_user"][position], np.nan)}
        text_models.add_external_run(evaluator.results, name, "train+validation", per_user,
                                     result.get("fit_seconds"), {"chosen": description})
        if name in text_rows:
            text_aware.add(name)

    details = []
    for name, result, validation_result, description in rows:
        details.append({"model": name, "chosen on validation": description,
                        "validation NDCG@10": f"{validation_result['ndcg']:.4f}",
                        f"validation NDCG@10 (<= {FEW})": f"{validation_result['ndcg_few']:.4f}",
                        "test RMSE (refit)": f"{result['rmse']:.4f}" if "rmse" in result else "-",
                        "s / epoch": f"{validation_result['epoch_seconds']:.2f}"
                        if "epoch_seconds" in validation_result else "-"})
    details.append({"model": "predict the mean rating",
                    "test RMSE (refit)": f"{mean_row['rmse']:.4f}",
                    "validation RMSE": f"{validation_mean_rmse:.4f}"})
    for row in details:
        for column in details[0]:
            row.setdefault(column, "-")

    # The course's claim, tested directly: paired differences of per-user test NDCG@10.
    by_name = {name: result["ndcg_per_user"] for name, result, _, _ in rows}
    comparisons = []
    for better, worse in [("text-aware two-tower", "ID-only two-tower"),
                          ("joint model", "ID-only two-tower"),
                          ("user-based CF, neighbours from text",
                           "user-based CF, neighbours from history")]:
        row = {"comparison": f"{better} - {worse}"}
        for label, mask in [("all users", np.ones_like(few)), (f"users with <= {FEW}", few)]:
            difference = (by_name[better] - by_name[worse])[mask]
            n = np.isfinite(difference).sum()
            row[f"NDCG@10 difference, {label} (± 2 s.e.)"] = (
                f"{np.nanmean(difference):+.4f} ± {2 * np.nanstd(difference) / np.sqrt(n):.4f}")
        comparisons.append(row)

    report(f"## Lesson models (refit rows above): how they were chosen\n\n"
           f"Neural models: every hyper-parameter and the number of epochs chosen on validation "
           f"(fit on train, validation curves averaged over {len(selection_seeds)} seeds), then "
           f"refit on train + validation {len(seeds)} times; their rows are means over the "
           f"seeds (per-user metrics averaged), and `train s` is one refit. They are reported "
           f"for the refit only.\n\n{markdown_table(details, list(details[0]))}\n\n"
           f"Paired differences between lesson models on test (per-user NDCG@10, same users; "
           f"± 2 standard errors):\n\n{markdown_table(comparisons, list(comparisons[0]))}\n")


if __name__ == "__main__":
    main()
