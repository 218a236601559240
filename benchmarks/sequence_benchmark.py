"""Lesson 10 on the real reviews: the sequence model (ids, text, text + ids) beside EASE, the
baselines and lessons 04-05's models, on all users, users with few interactions, long-tail
targets and new items.

    python benchmarks/sequence_benchmark.py [--data PATH] [--seeds 3] [--new-item-share 0.1]
        [--grid default] [--bootstrap 1000] [--out benchmarks/results/models.md] [--smoke]

Protocol (``textrec.pipeline.comparison``, the code lesson 10 runs):

* data: the Amazon 2014 Musical Instruments 5-core reviews, cleaned, split leave-last-out;
* text: all-MiniLM-L6-v2 (the offline package, 128 tokens), frozen; an item's text is the
  mean vector of its reviews in the fit, a user's the mean of theirs (the file has no item
  metadata);
* selection, on VALIDATION with models fit on train: the closed-form models' grids
  (``Evaluator.run``); for each trained model, every configuration of ``--grid`` trains with
  its epochs chosen by ``models.BestEpoch`` (validation NDCG@10 after every epoch); the best
  validation NDCG@10 wins;
* test: the chosen configuration refitted on train + validation (text rebuilt from those
  reviews) for its chosen epochs, once per seed (``--seeds``); per-user NDCG@10 averaged over
  the seeds; 95% bootstrap intervals over users, paired differences against EASE and between
  the sequence model's twins;
* new items (``evaluation.new_item_split``, ``--new-item-share`` of the items, seeded): every
  model refitted the same way on that protocol's train + validation (the new items' earliest
  reviews stand for their product pages), NDCG@10 on the new-item targets beside a random
  ranking's expected value.

Writes its section of ``models.md`` between the markers ``<!-- sequence-benchmark:begin -->``
and ``<!-- sequence-benchmark:end -->`` (the rest of the file is left as it is), its rows in
``models.json`` (the three sequence variants, keyed by model and fit, marked
``"benchmark": "sequence_benchmark"``; other rows are left as they are), and every model's
figures from this run in ``sequence.json`` beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np
import pandas as pd

from common import (git_revision, json_default, machine, markdown_table, real_data_path,
                    write_rows, write_section)

K = 10
FEW = 3
BENCHMARK = "sequence_benchmark"
BEGIN, END = "<!-- sequence-benchmark:begin -->", "<!-- sequence-benchmark:end -->"

# The published table of issue #24 (as reported in the papers and their repositories).
PUBLISHED = [
    ("SASRec (item ids only)", "0.0612", "0.1118"),
    ("UniSRec, item text only", "0.0680", "0.1189"),
    ("UniSRec, item text + ids", "0.0748", "0.1267"),
    ("VQ-Rec (text as product-quantised codes)", "0.0758", "0.1222"),
    ("FDSA (ids + item attributes)", "0.0796", "0.1070"),
    ("MISSRec (text + image + ids)", "0.0843", "0.1300"),
]


def grids(name: str) -> list[dict]:
    """The configurations tried on validation for trained model ``name`` (recipe changes)."""
    from textrec.pipeline import comparison

    if name in comparison.SEQUENCE.values():
        # The quick profile's settings with a benchmark's patience, every item of a sequence.
        base = dict(max_length=50, max_epochs=60, patience=8)
        return [dict(base, dropout=dropout, learning_rate=rate, l2=l2)
                for dropout, rate, l2 in ((0.3, 0.003, 0.0), (0.1, 0.003, 0.0),
                                          (0.3, 0.003, 0.001), (0.3, 0.001, 0.0))]
    return [{}]                     # lessons 04-05: their recipes' settings


def describe(changes: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in changes.items()) or "recipe settings"


def load_average() -> str:
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def mean_over_seeds(runs: list[dict]) -> dict:
    """Per-user metrics averaged over the seeds' runs (NaN where a user has no target)."""
    with warnings.catch_warnings():             # users without a target: the mean of no value
        warnings.simplefilter("ignore", RuntimeWarning)
        return {metric: np.nanmean(np.stack([run[metric] for run in runs]), axis=0)
                for metric in runs[0]}


def per_user(scores, data) -> dict:
    from textrec import evaluation

    values, _, _ = evaluation.per_user_metrics(scores, data.test, data.exclude("test"), ks=(K,))
    return {f"ndcg@{K}": values[f"ndcg@{K}"], f"hr@{K}": values[f"hr@{K}"]}


def interval(results, model, slice_name="all", bootstrap=1000) -> tuple[float, float, float]:
    from textrec import evaluation

    values = results.values(model, f"ndcg@{K}", "test", "train+validation", slice_name)
    if not np.isfinite(values).any():
        return np.nan, np.nan, np.nan
    return evaluation.bootstrap_ci(values, n_resamples=bootstrap, seed=0)


def paired(results, a, b, slice_name="all", bootstrap=1000) -> dict:
    return results.compare(a, b, f"ndcg@{K}", fit="train+validation", slice=slice_name,
                           method="bootstrap", n_resamples=bootstrap, seed=0)


def cell(mean, low, high) -> str:
    return "-" if not np.isfinite(mean) else f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def diff_cell(result) -> str:
    return f"{result['difference']:+.4f} [{result['low']:+.4f}, {result['high']:+.4f}]"


def _round(value, digits=5):
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--seeds", type=int, default=3, help="refits on train + validation")
    parser.add_argument("--new-item-share", type=float, default=0.1)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.md"))
    parser.add_argument("--smoke", action="store_true",
                        help="one configuration, one seed, 3 epochs at most (checks it runs)")
    args = parser.parse_args()
    started = time.perf_counter()

    from textrec import config, evaluation
    from textrec.data.prepare import prepare_data
    from textrec.pipeline import comparison
    from textrec.text import TextEmbedder

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", flush=True)

    path = real_data_path(args.data)
    data = prepare_data(str(path), profile="quick", seed=config.SEED)
    interactions = evaluation.InteractionData.from_split(data.split)
    users, items = interactions.user_ids, interactions.item_ids
    train = data.split.train
    both = pd.concat([train, data.split.validation], ignore_index=True)
    embedder = TextEmbedder()
    text = {"train": comparison.fit_text(train, embedder, users, items),
            "train+validation": comparison.fit_text(both, embedder, users, items)}
    log(f"{data.name}: {len(data.reviews):,} reviews, {len(users):,} users, {len(items):,} items; "
        "text embedded")
    seeds = [config.SEED + s for s in range(1 if args.smoke else args.seeds)]
    cap = {"max_epochs": 3} if args.smoke else {}

    # --- selection on validation ---------------------------------------------------------
    evaluator = evaluation.Evaluator(interactions, ks=(K,), cold_max=FEW)
    params, epochs, validation, seconds = {}, {}, {}, {}
    for name, (factory, grid) in comparison.closed_form_factories().items():
        evaluator.run(name, factory, grid=grid)
        params[name] = evaluator.results.get(name, "validation", "train").params
        validation[name] = evaluator.results.get(name, "validation", "train").mean(f"ndcg@{K}")
    targets, seen = interactions.targets("validation"), interactions.exclude("validation")
    for name in comparison.NEURAL:
        tried = []
        for changes in grids(name)[:1 if args.smoke else None]:
            changes = {**changes, **(cap if name in comparison.SEQUENCE.values() else {})}
            _, stopper = comparison.select_epochs(name, text["train"], targets, seen,
                                                  seed=config.SEED, **changes)
            tried.append((stopper.best, stopper.best_epoch, changes))
            log(f"{name}, {describe(changes)}: validation NDCG@{K} {stopper.best:.4f} at epoch "
                f"{stopper.best_epoch} of {len(stopper.curve)}")
        validation[name], epochs[name], params[name] = max(tried, key=lambda t: t[0])
        if name not in comparison.SEQUENCE.values():
            epochs[name] = min(epochs[name], 3) if args.smoke else epochs[name]

    # --- test: refit on train + validation, per seed ---------------------------------------
    new = evaluation.new_item_split(data.split, share=args.new_item_share, seed=config.SEED)
    problems = evaluation.check_new_item_split(new)
    if problems:
        raise SystemExit("the new-item split leaks: " + "; ".join(problems))
    new_data = new.interaction_data(users, items)
    new_text = comparison.fit_text(new.fit_frame("train+validation"), embedder, users, items,
                                   new.item_text_frame("train+validation"))
    new_evaluator = evaluation.Evaluator(new_data, ks=(K,))
    for name in comparison.CLOSED_FORM:
        new_evaluator.add(name, comparison.closed_form_scores(
            name, new_data.fit_matrix("train+validation"), params[name]), "test",
            "train+validation")
    for name in comparison.NEURAL:
        runs, new_runs, fit_seconds = [], [], []
        for seed in seeds:
            start = time.perf_counter()
            scores = comparison.refit_scores(name, text["train+validation"], epochs[name], seed,
                                             **params[name])
            fit_seconds.append(time.perf_counter() - start)
            runs.append(per_user(scores, interactions))
            new_runs.append(per_user(comparison.refit_scores(
                name, new_text, epochs[name], seed, **params[name]), new_data))
        seconds[name] = float(np.median(fit_seconds))
        for target, many in ((evaluator, runs), (new_evaluator, new_runs)):
            target.add_random_reference("test", "train+validation")
            target.results.add(evaluation.Run(name, "test", "train+validation",
                                              mean_over_seeds(many), params=params[name],
                                              fit_seconds=seconds[name]))
        test_ndcg, new_ndcg = (target.results.get(name, "test", "train+validation").mean(
            f"ndcg@{K}") for target in (evaluator, new_evaluator))
        log(f"{name}: test NDCG@{K} {test_ndcg:.4f}, new items {new_ndcg:.4f} "
            f"({len(seeds)} seeds)")

    report(args, data, interactions, new, new_data, evaluator.results, new_evaluator.results,
           params, epochs, validation, seconds, len(seeds), started)


def report(args, data, interactions, new, new_data, results, new_results, params, epochs,
           validation, seconds, n_seeds, started) -> None:
    from textrec import evaluation
    from textrec.pipeline import comparison

    out = Path(args.out)
    random_name = evaluation.RANDOM
    chance = new_results.get(random_name, "test", "train+validation").mean(f"ndcg@{K}")
    order = [random_name, *comparison.CLOSED_FORM, *comparison.NEURAL]
    rows, json_rows = [], []
    for name in order:
        all_, cold, tail = (interval(results, name, s, args.bootstrap)
                            for s in ("all", "cold", "tail"))
        fresh = interval(new_results, name, "all", args.bootstrap)
        versus = paired(results, name, "EASE", bootstrap=args.bootstrap) if name != "EASE" \
            else None
        aware = comparison.TEXT_AWARE.get(name, False)
        rows.append({
            "model": name, "text": "yes" if aware else "no",
            f"NDCG@{K}": cell(*all_), f"cold (<= {FEW})": cell(*cold), "tail": cell(*tail),
            "new items": cell(*fresh),
            "new items x random": f"{fresh[0] / chance:.1f}" if np.isfinite(fresh[0]) else "-",
            "vs EASE, all users": diff_cell(versus) if versus else "-",
            "train s": f"{seconds[name]:.0f}" if name in seconds else "-"})
        if name in comparison.SEQUENCE.values():
            cold_versus = paired(results, name, "EASE", "cold", args.bootstrap)
            tail_versus = paired(results, name, "EASE", "tail", args.bootstrap)
            hr = results.get(name, "test", "train+validation").mean(f"hr@{K}")
            json_rows.append({
                "model": name, "fit": "train+validation", "text_aware": aware,
                "benchmark": BENCHMARK,
                f"ndcg@{K}": _round(all_[0]), f"ndcg@{K}_interval": [_round(all_[1]),
                                                                      _round(all_[2])],
                f"ndcg@{K}_cold": _round(cold[0]), f"ndcg@{K}_cold_interval": [
                    _round(cold[1]), _round(cold[2])],
                f"ndcg@{K}_tail": _round(tail[0]), f"ndcg@{K}_tail_interval": [
                    _round(tail[1]), _round(tail[2])],
                f"hr@{K}": _round(hr),
                "diff_vs_ease": _round(versus["difference"]),
                "diff_vs_ease_interval": [_round(versus["low"]), _round(versus["high"])],
                "diff_vs_ease_cold": _round(cold_versus["difference"]),
                "diff_vs_ease_cold_interval": [_round(cold_versus["low"]),
                                               _round(cold_versus["high"])],
                "diff_vs_ease_tail": _round(tail_versus["difference"]),
                "diff_vs_ease_tail_interval": [_round(tail_versus["low"]),
                                               _round(tail_versus["high"])],
                f"ndcg@{K}_new_items": _round(fresh[0]),
                f"ndcg@{K}_new_items_interval": [_round(fresh[1]), _round(fresh[2])],
                f"ndcg@{K}_new_items_random": _round(chance),
                "seconds_to_train": _round(seconds[name], 2), "epochs": epochs[name],
                "params": params[name], "validation_ndcg": _round(validation[name]),
                "seeds": n_seeds})

    aims = aim_lines(results, new_results, chance, validation, args.bootstrap)
    minutes = (time.perf_counter() - started) / 60
    command = "python benchmarks/sequence_benchmark.py " + " ".join(sys.argv[1:])
    n_new_targets = int(new_data.test.nnz)
    body = f"""
## Lesson 10: sequence models, and new items

{dt.date.today()} · {machine()} · load average {load_average()} at the end · git
{git_revision()} · `{command.strip()}` · {minutes:.0f} min

{data.name}: {len(data.reviews):,} reviews, {interactions.n_users:,} users
({int((interactions.train_counts() <= FEW).sum())} with at most {FEW} train interactions),
{interactions.n_items:,} items; leave-last-out; TEST, full ranking over every item with train +
validation items masked; every model refitted on train + validation with what was chosen on
validation (`textrec.pipeline.comparison`, the code lesson 10 runs). Trained models: means of
per-user NDCG@{K} over {n_seeds} seeds. Intervals: 95% bootstrap over users
({args.bootstrap} resamples); `vs EASE`: paired per-user difference. `tail`: users whose test
item is below the 50th popularity percentile. **New items**: {len(new.new_items)} items
({args.new_item_share:.0%}, seeded) with no interaction in train or validation, each
described by its earliest review (its product page, never a target); NDCG@{K} over the
{n_new_targets} users whose test item is one of them, ranked among all items; a random
ranking's expected value there is {chance:.4f}. Text: all-MiniLM-L6-v2 (128 tokens) mean
vectors of the fit's reviews. Rows of the sequence model are also in `models.json`
(`"benchmark": "{BENCHMARK}"`); every row of this section in `sequence.json`.

### Aims

{aims}

### Test, refit on train + validation

{markdown_table(rows, list(rows[0]))}

### How each model was chosen (validation, fit on train)

{markdown_table([{"model": name, "chosen": describe(params[name]) if name in comparison.NEURAL
                  else (", ".join(f"{k} {v}" for k, v in params[name].items()) or "none"),
                  "epochs": epochs.get(name, "-"),
                  f"validation NDCG@{K}": f"{validation[name]:.4f}"}
                 for name in (*comparison.CLOSED_FORM, *comparison.NEURAL)],
                ["model", "chosen", "epochs", f"validation NDCG@{K}"])}

### Published sequence models on the same category (not the same data)

As reported in the papers and their repositories, on UniSRec's split of Amazon 2018 Instruments
(24,962 users, 9,964 items; leave-one-out, full ranking); Recformer's split reports SASRec 0.0634
and Recformer 0.0830. Their items have titles, brands and categories; ours only their reviews.
No EASE row is published for that split.

{markdown_table([{"model": m, f"NDCG@{K}": n, f"Recall@{K}": r} for m, n, r in PUBLISHED],
                ["model", f"NDCG@{K}", f"Recall@{K}"])}
"""
    write_section(out, BEGIN, END, body)
    write_rows(out.with_suffix(".json"), json_rows)
    summary = {"date": str(dt.date.today()), "machine": machine(), "git": git_revision(),
               "command": command.strip(), "minutes": round(minutes, 1), "seeds": n_seeds,
               "new_items": len(new.new_items), "new_item_targets": n_new_targets,
               "new_items_random": _round(chance), "rows": rows}
    (out.parent / "sequence.json").write_text(json.dumps(summary, indent=1, default=json_default)
                                              + "\n")
    print(body)
    print(f"wrote {out} (its section), {out.with_suffix('.json')} (its rows) and "
          f"{out.parent / 'sequence.json'}")


def aim_lines(results, new_results, chance, validation, bootstrap) -> str:
    """The aims of lesson 10, each with its computed reading."""
    from textrec.pipeline import comparison

    ids, both = comparison.SEQUENCE["ids"], comparison.SEQUENCE["text+ids"]
    twin = paired(results, both, ids, bootstrap=bootstrap)
    ratio = twin["mean_a"] / twin["mean_b"]
    met = ratio >= 1.10 and twin["low"] > 0
    lines = [f"- Sequence model, text + ids against ids only: {ratio:.3f} x "
             f"({twin['mean_a']:.4f} against {twin['mean_b']:.4f}), paired difference "
             f"{diff_cell(twin)}: aim >= 1.10 x with the interval above 0 "
             f"**{'met' if met else 'not met'}**."]
    best = max(comparison.SEQUENCE.values(), key=lambda name: validation[name])
    ease = paired(results, best, "EASE", bootstrap=bootstrap)
    reading = ("above EASE beyond noise" if ease["low"] > 0 else
               "below EASE beyond noise" if ease["high"] < 0 else "within noise of EASE")
    lines.append(f"- Best variant (chosen on validation), {best}: {ease['mean_a']:.4f} against "
                 f"EASE {ease['mean_b']:.4f}, paired difference {diff_cell(ease)}, {reading}: "
                 f"aim >= EASE **{'met' if ease['mean_a'] >= ease['mean_b'] else 'not met'}**"
                 + ("" if ease["low"] > 0 or ease["high"] < 0 else
                    " on the mean (the interval includes 0)") + ".")
    means = {name: new_results.get(name, "test", "train+validation").mean(f"ndcg@{K}")
             for name in (*comparison.CLOSED_FORM, *comparison.NEURAL)}
    aware = [name for name in means if comparison.TEXT_AWARE[name]]
    best_new = max(aware, key=means.get)
    id_only = [name for name in means if not comparison.TEXT_AWARE[name]]
    above = [name for name in id_only
             if interval(new_results, name, "all", bootstrap)[1] > chance]
    lines.append(f"- New items: the best text-aware model, {best_new}, reaches NDCG@{K} "
                 f"{means[best_new]:.4f} = {means[best_new] / chance:.1f} x a random ranking "
                 f"({chance:.4f}): aim >= 10 x **"
                 f"{'met' if means[best_new] >= 10 * chance else 'not met'}**; id-only models "
                 + ("stay at or below chance (" + ", ".join(
                     f"{name} {means[name]:.4f}" for name in id_only) + ")" if not above else
                    "above chance, beyond noise: " + ", ".join(above)) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
