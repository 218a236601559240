"""Accuracy benchmark: every model of the course and the baselines under one protocol.

    python benchmarks/evaluation_benchmark.py                 # the synthetic world (active profile)
    python benchmarks/evaluation_benchmark.py --data PATH     # e.g. the Musical Instruments file
    python benchmarks/evaluation_benchmark.py --data real     # the shared real data (see common.py)

Protocol: chronological leave-last-out (``--protocol ratio`` for the per-user 80/10/10 split),
full ranking over all items with seen items masked (on test the validation item too), top 10.
Hyper-parameters are chosen on validation (grids in ``textrec.models``; the neural models'
epochs by early stopping on validation NDCG@10, as lesson 06 does), then test is reported for
the fit on train and for a refit on train + validation with the chosen values. Cells are means
over users with 95% percentile-bootstrap intervals (1,000 resamples of the users, seed 0).

Models: most popular, item-kNN, EASE, ALS and BPR from ``implicit`` (when installed), the
text-only recommender (lesson 03), the text-aware two-tower (lesson 04) and matrix
factorisation trained to rank (lesson 05), the last two from their package recipes. "fit s" is
the wall time to fit (for the text models: embedding the reviews, from the on-disk cache when
warm, plus fitting; the grid search is not included); "evaluate s" is scoring every user against
every item plus computing every metric. Writes
``benchmarks/results/evaluation_<synthetic|real|data-NAME>.md`` and the per-user results as JSON
in the reports folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

from common import REAL_DATA, git_revision, machine

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("ndcg@10", "hr@10")


def _text_models(evaluator, data, interactions, with_neural: bool) -> dict:
    """Add the text-only runs and, as lesson 06 does, the two-tower and matrix factorisation
    trained to rank (each fitted on train with early stopping on validation NDCG@10, refitted
    on train + validation for the epochs chosen); returns their chosen epochs."""
    from textrec.pipeline import course_models
    from textrec.text import TextEmbedder

    embedder = TextEmbedder()
    chosen, vectors = {}, {}
    for fit in ("train", "train+validation"):
        start = time.perf_counter()
        model = course_models.text_only_model(interactions, data.items, embedder, fit=fit)
        seconds = time.perf_counter() - start
        if fit == "train":  # item text vectors for the intra-list diversity of every model
            evaluator.item_vectors = model.items.vectors
        start = time.perf_counter()
        scores = course_models.text_only_scores(model, interactions, fit)
        score_seconds = time.perf_counter() - start
        for part in (("validation", "test") if fit == "train" else ("test",)):
            evaluator.add("text-only", scores, part, fit, {"method": "mean"}, seconds,
                          score_seconds)
        vectors[fit] = model
    if not with_neural:
        return chosen
    neural = {
        "two-tower (text)": lambda fit, epochs: course_models.two_tower_fit(
            interactions, vectors[fit].users, vectors[fit].items, fit=fit, epochs=epochs),
        "MF (trained to rank)": lambda fit, epochs: course_models.matrix_factorization_fit(
            interactions, fit=fit, epochs=epochs),
    }
    for name, fit_and_score in neural.items():
        epochs = None  # on train: early stopping on validation NDCG@10; the refit reuses them
        for fit in ("train", "train+validation"):
            start = time.perf_counter()
            scores, epochs = fit_and_score(fit, epochs)
            seconds = time.perf_counter() - start
            for part in (("validation", "test") if fit == "train" else ("test",)):
                evaluator.add(name, scores, part, fit, {"epochs": epochs}, seconds)
        chosen[f"{name} epochs (early stopping on validation ndcg@10)"] = epochs
    return chosen


def _baselines(evaluator) -> None:
    from textrec import models

    baselines = {"most popular": (models.MostPopular, None),
                 "item-kNN": (models.ItemKNN, models.ItemKNN.GRID),
                 "EASE": (models.EASE, models.EASE.GRID)}
    if models.implicit_available():
        baselines["ALS (implicit)"] = (models.ImplicitALS, models.ImplicitALS.GRID)
        baselines["BPR (implicit)"] = (models.ImplicitBPR, models.ImplicitBPR.GRID)
    else:
        print("implicit is not installed (pip install 'textrec[baselines]'): ALS and BPR skipped")
    for name, (factory, grid) in baselines.items():
        evaluator.run(name, factory, grid=grid)


def _report(results, data, interactions, args, seconds: float, chosen: dict) -> str:
    from textrec import config

    command = "python benchmarks/evaluation_benchmark.py " + " ".join(sys.argv[1:])
    counts = interactions.summary()["interactions"]
    cold = int(results.slice_mask("cold").sum())
    params = {run.model: run.params for run in results.runs
              if run.part == "test" and run.fit == "train"}
    lines = [
        f"### Evaluation benchmark: {data.name} ({interactions.protocol})", "",
        f"{dt.date.today()} · {machine()} · git {git_revision()} · "
        f"profile {config.get_profile().name} · total {seconds:.0f} s", "",
        f"Command: `{command.strip()}`", "",
        f"{interactions.n_users:,} users, {interactions.n_items:,} items; "
        f"train {counts['train']:,}, validation {counts['validation']:,}, "
        f"test {counts['test']:,} interactions. "
        f"Cold users (<= {results.cold_max} train interactions): {cold:,}.", "",
        "Test, full ranking over all items, seen items masked (the validation item too). "
        "`fit` says what the model was fitted on: `train` (hyper-parameters chosen on "
        "validation) or `train+validation` (the same hyper-parameters, refitted). "
        "Mean over users [95% bootstrap interval].", "",
        results.to_markdown(metrics=METRICS, slices=("all", "cold"), beyond=False,
                            n_resamples=args.bootstrap),
        "", "Validation (fit on train), the numbers the hyper-parameters were chosen on:", "",
        results.to_markdown(metrics=METRICS, part="validation", beyond=False, times=False,
                            n_resamples=args.bootstrap),
        "", "Beyond accuracy on test (fit on train; coverage share of items, novelty in bits, "
        "popularity percentile 0-100, diversity = 1 - mean pairwise cosine of item text "
        "vectors):", "",
        results.to_markdown(metrics=("ndcg@10",), fits=("train",), beyond=True, times=False,
                            n_resamples=args.bootstrap),
        "", "Chosen hyper-parameters: "
        + "; ".join(f"{m}: {p}" for m, p in params.items() if p) + ".",
    ]
    lines += [f"{name}: {value}." for name, value in chosen.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic",
                        help="'synthetic' (default), 'real' (the shared data), "
                             "or a review file path")
    parser.add_argument("--profile", default=None,
                        help="quick or full (default: TEXTREC_PROFILE / auto)")
    parser.add_argument("--protocol", default="leave-last-out", choices=("leave-last-out", "ratio"))
    parser.add_argument("--no-neural", action="store_true",
                        help="skip the two-tower and matrix factorisation (the slow part)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    from textrec import config, evaluation
    from textrec.data.prepare import prepare_data

    start = time.perf_counter()
    source = str(REAL_DATA) if args.data == "real" else args.data
    config.set_seeds(config.SEED)
    data = prepare_data(source, profile=args.profile, protocol=args.protocol)
    interactions = evaluation.InteractionData.from_split(data.split)
    evaluator = evaluation.Evaluator(interactions)
    chosen = _text_models(evaluator, data, interactions, not args.no_neural)
    _baselines(evaluator)
    results = evaluator.results
    results.notes.update({"source": data.name, "command": sys.argv, "date": str(dt.date.today())})
    seconds = time.perf_counter() - start

    # Result files are named "synthetic", "real" (the shared data) or after the source file's stem
    # prefixed with "data-", never with the raw data file's own name.
    name = ("synthetic" if source == "synthetic" else "real" if args.data == "real"
            else f"data-{data.name}")
    report = _report(results, data, interactions, args, seconds, chosen)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"evaluation_{name}.md").write_text(report)
    saved = results.save(config.reports_dir() / f"evaluation_benchmark_{name}.json")
    print(report)
    print(f"wrote {out / f'evaluation_{name}.md'} and {saved} "
          f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
