"""The closed-form part of the models benchmark and its report: baselines, text-only, EASE with
text side information and blends, all through ``textrec.evaluation.Evaluator`` (tuned on
validation, test for the fit on train and for the refit on train + validation); then every row,
neural models included, as ``models.md`` and ``models.json`` with paired differences against
EASE in the same fit regime.

Imported by ``models_benchmark.py``; NumPy, SciPy and pandas only.
"""

from __future__ import annotations

import functools
import json

import numpy as np

COLD = 3
K = 10
METRICS = (f"ndcg@{K}", f"hr@{K}")
REFERENCE = "EASE"
RANDOM = "random ranking (expected value)"

L2 = [200.0, 500.0]


def text_grids() -> dict:
    """name -> (text-aware?, text kind, grid). Text models read only the reviews of the
    interactions they are fitted on (see ``textrec.models.text_ease``). The grids are
    centred where a validation-only search on the Musical Instruments reviews found the best
    settings (EASE's lambda is flat from 50 to 2,000 there; alpha 0.25-0.5, beta 3-5)."""
    grids = {}
    for kind, label in (("tfidf", "TF-IDF"), ("lm", "MiniLM")):
        grids[f"text-only ({label})"] = (kind, {"text": [kind]})
        grids[f"EASE + item-text similarity ({label})"] = (kind, {
            "l2": L2, "similarity_weight": [1.0, 2.0, 3.0, 5.0, 7.0, 10.0], "text": [kind]})
        grids[f"EASE + user text columns ({label})"] = (kind, {
            "l2": L2, "word_weight": [0.1, 0.25, 0.35, 0.5, 1.0], "text": [kind]})
        grids[f"blend: EASE + text-only ({label})"] = (kind, {
            "l2": L2, "blend_weight": [0.25, 0.5, 1.0, 2.0], "blend_activity": [None, 3.0],
            "text": [kind]})
        grids[f"EASE + text, all three ({label})"] = (kind, {
            "l2": L2, "word_weight": [0.25, 0.5], "similarity_weight": [3.0, 5.0],
            "blend_weight": [0.0, 0.25, 0.5], "text": [kind]})
    return grids


def random_expected(data, fit: str) -> dict:
    """Per-user expected HR@K and NDCG@K of a uniformly random ranking of the items a user may
    be recommended (all but the excluded ones), one target each: HR = K / n and
    NDCG = (1 / n) sum_{r=1..K} 1 / log2(r + 1)."""
    excluded = np.diff(data.exclude("test").indptr)
    candidates = (data.n_items - excluded).astype(float)
    has_target = np.diff(data.targets("test").indptr) > 0
    discount = (1.0 / np.log2(np.arange(2, K + 2))).cumsum()
    shown = np.minimum(K, candidates).astype(int)
    hr = np.where(has_target, shown / candidates, np.nan)
    ndcg = np.where(has_target, discount[np.maximum(shown, 1) - 1] / candidates, np.nan)
    return {f"hr@{K}": hr, f"ndcg@{K}": ndcg}


def run_matrix_models(data, reviews, log=print, with_text: bool = True):
    """Evaluate the random expectation, most popular, item-kNN, EASE, text-only and the text
    EASE variants (not with ``with_text=False``) on ``data`` (an InteractionData); returns
    (evaluator, text-aware names)."""
    from textrec import evaluation, models
    from textrec.models import text_ease
    from textrec.evaluation.results import Run

    evaluator = evaluation.Evaluator(data, ks=(K,), cold_max=COLD)
    for fit in ("train", "train+validation"):
        evaluator.results.add(Run(RANDOM, "test", fit, random_expected(data, fit), {}, {}, 0.0,
                                  0.0))
    for name, factory, grid in (("most popular", models.MostPopular, None),
                                ("item-kNN", models.ItemKNN, models.ItemKNN.GRID),
                                (REFERENCE, models.EASE, models.EASE.GRID)):
        evaluator.run(name, factory, grid=grid)
        log(f"{name}: {_line(evaluator, name)}")
    text_aware = set()
    for name, (kind, grid) in (text_grids() if with_text else {}).items():
        if kind == "lm" and reviews.vectors is None:
            continue
        factory = functools.partial(text_ease.TextOnly if name.startswith("text-only")
                                    else text_ease.TextEASE, reviews)
        evaluator.run(name, factory, grid=grid)
        text_aware.add(name)
        log(f"{name}: {_line(evaluator, name)}")
    return evaluator, text_aware


def _line(evaluator, name) -> str:
    results = evaluator.results
    run = results.get(name, "test", "train+validation")
    return (f"test NDCG@{K} {run.mean(f'ndcg@{K}'):.4f} (refit), validation "
            f"{results.get(name, 'validation', 'train').mean(f'ndcg@{K}'):.4f}, "
            f"params {run.params}, fit {run.fit_seconds:.1f} s")


def add_external_run(results, name, fit, per_user, fit_seconds, params=None):
    """Add a test run scored outside the Evaluator (per-user metrics over ``results``' users)."""
    from textrec.evaluation.results import Run

    results.add(Run(name, "test", fit, per_user, {}, dict(params or {}), fit_seconds, None))


def rows(results, text_aware: set, n_resamples: int = 1000, seed: int = 0) -> list[dict]:
    """One row per (model, fit) of the test runs: means, cold-user means, the paired difference
    of per-user NDCG@K against EASE in the same fit with its bootstrap interval, seconds."""
    from textrec.evaluation import bootstrap_ci

    from textrec.evaluation import RANDOM as EVALUATOR_RANDOM

    out = []
    for run in results.runs:
        if run.part != "test" or run.model == EVALUATOR_RANDOM:   # the same as RANDOM's row
            continue
        row = {"model": run.model, "fit": run.fit, "text_aware": run.model in text_aware}
        for metric in METRICS:
            for slice_, suffix in (("all", ""), ("cold", "_cold"), ("tail", "_tail")):
                values = results.values(run.model, metric, "test", run.fit, slice_)
                mean, low, high = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
                row[f"{metric}{suffix}"] = round(mean, 5)
                if metric == f"ndcg@{K}":
                    row[f"{metric}{suffix}_interval"] = [round(low, 5), round(high, 5)]
        for slice_, suffix in (("all", ""), ("cold", "_cold"), ("tail", "_tail")):
            key = f"diff_vs_ease{suffix}"
            if run.model == REFERENCE:
                row[key], row[f"{key}_interval"] = 0.0, [0.0, 0.0]
                continue
            test = results.compare(run.model, REFERENCE, f"ndcg@{K}", "test", run.fit, slice_,
                                   n_resamples=n_resamples, seed=seed, method="bootstrap")
            row[key] = round(test["difference"], 5)
            row[f"{key}_interval"] = [round(test["low"], 5), round(test["high"], 5)]
        reference = results.get(REFERENCE, "test", run.fit)
        row["ratio_vs_ease"] = round(run.mean(f"ndcg@{K}") / reference.mean(f"ndcg@{K}"), 4)
        row["ratio_vs_ease_cold"] = round(
            np.nanmean(results.values(run.model, f"ndcg@{K}", "test", run.fit, "cold"))
            / np.nanmean(results.values(REFERENCE, f"ndcg@{K}", "test", run.fit, "cold")), 4)
        row["seconds_to_train"] = None if run.fit_seconds is None else round(run.fit_seconds, 2)
        row["params"] = {k: v for k, v in run.params.items()}
        out.append(row)
    return out


def _interval(values) -> str:
    return f"[{values[0]:+.4f}, {values[1]:+.4f}]"


def markdown(rows_: list[dict], fit: str) -> str:
    columns = ["model", "text", f"NDCG@{K}", f"NDCG@{K} cold", f"NDCG@{K} tail", f"HR@{K}",
               f"HR@{K} cold", "vs EASE: NDCG@10 diff [95%]", "cold: diff [95%]",
               "tail: diff [95%]", "x EASE", "x EASE cold", "train s"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows_:
        if row["fit"] != fit:
            continue
        cells = [row["model"], "yes" if row["text_aware"] else "no",
                 f"{row[f'ndcg@{K}']:.4f}", f"{row[f'ndcg@{K}_cold']:.4f}",
                 f"{row[f'ndcg@{K}_tail']:.4f}", f"{row[f'hr@{K}']:.4f}",
                 f"{row[f'hr@{K}_cold']:.4f}",
                 "-" if row["model"] == REFERENCE else
                 f"{row['diff_vs_ease']:+.4f} {_interval(row['diff_vs_ease_interval'])}",
                 "-" if row["model"] == REFERENCE else
                 f"{row['diff_vs_ease_cold']:+.4f} {_interval(row['diff_vs_ease_cold_interval'])}",
                 "-" if row["model"] == REFERENCE else
                 f"{row['diff_vs_ease_tail']:+.4f} {_interval(row['diff_vs_ease_tail_interval'])}",
                 f"{row['ratio_vs_ease']:.3f}", f"{row['ratio_vs_ease_cold']:.3f}",
                 "-" if row["seconds_to_train"] is None else f"{row['seconds_to_train']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _aim_line(row, how: str) -> str:
    overall = row["ratio_vs_ease"] >= 1.05 and row["diff_vs_ease_interval"][0] > 0
    cold = row["ratio_vs_ease_cold"] >= 1.15
    return (f"{how} **{row['model']}**: {row['ratio_vs_ease']:.3f} x EASE overall, paired "
            f"difference {row['diff_vs_ease']:+.4f} {_interval(row['diff_vs_ease_interval'])}: "
            f"aim >= 1.05 x with the interval above 0 **{'met' if overall else 'not met'}**; "
            f"cold users {row['ratio_vs_ease_cold']:.3f} x EASE "
            f"({row['diff_vs_ease_cold']:+.4f} {_interval(row['diff_vs_ease_cold_interval'])}): "
            f"aim >= 1.15 x **{'met' if cold else 'not met'}**.")


def aims(rows_: list[dict]) -> str:
    """The issue's aims, met or not, for the text-aware model chosen on validation (highest
    validation NDCG@K) and, for reference, the best one on test (an optimistic pick)."""
    lines = []
    for fit in ("train+validation", "train"):
        candidates = [r for r in rows_ if r["fit"] == fit and r["text_aware"]]
        if not candidates:
            continue
        lines.append(f"- fit `{fit}`:")
        with_validation = [r for r in candidates if "validation_ndcg" in r]
        if with_validation:
            chosen = max(with_validation, key=lambda r: r["validation_ndcg"])
            lines.append("  " + _aim_line(chosen, "text-aware model chosen on validation:"))
        best = max(candidates, key=lambda r: r[f"ndcg@{K}"])
        lines.append("  " + _aim_line(best, "best text-aware model on test (optimistic, "
                                             "picked on test):"))
    return "\n".join(lines)


def add_validation(rows_: list[dict], results) -> None:
    """Each row's validation NDCG@K (fit on train), where the model has a validation run."""
    for row in rows_:
        try:
            row["validation_ndcg"] = round(results.get(row["model"], "validation", "train")
                                           .mean(f"ndcg@{K}"), 5)
        except KeyError:
            pass


def write(rows_: list[dict], header: str, extra: str, markdown_path, json_path) -> None:
    text = (f"# Models benchmark\n\n{header}\n\n## Aims of issue #13\n\n{aims(rows_)}\n\n"
            f"## Test, refit on train + validation\n\n{markdown(rows_, 'train+validation')}\n\n"
            f"## Test, fit on train (the models as chosen on validation)\n\n"
            f"{markdown(rows_, 'train')}\n\n{extra}")
    # Other benchmarks' sections (between their markers) and rows (with their "benchmark") stay.
    from common import kept_sections, rows_of_others

    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    text += kept_sections(markdown_path)
    others = rows_of_others(json_path)
    markdown_path.write_text(text)
    json_path.write_text(json.dumps(rows_ + others, indent=1, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")
