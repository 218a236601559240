"""Lesson 02 on the real data: does fine-tuning beat the frozen encoder, and with which settings?

    nice python benchmarks/finetune_benchmark.py [--data PATH] [--configs "quick|quick, 2 epochs"]

Quick-profile data preparation (3-core, leave-last-out). Every run fine-tunes the offline
all-MiniLM-L6-v2 on a stratified sample of the train reviews (neutral 3-star reviews left out),
stops early on the validation macro-F1 (restoring the best weights) and is scored on the test
reviews, beside the majority class and a class-balanced logistic regression on frozen sentence
vectors trained on the same sample and on every train review. Writes
benchmarks/results/finetune.md (one row per run, seconds on this machine: shared CPUs make
them noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

from common import machine, markdown_table, real_data_path

RESULTS = Path(__file__).parent / "results"
# name -> finetune_sentiment settings; "quick" is notebook 02's quick profile.
CONFIGS = {
    "quick": dict(max_examples=384, epochs=1, learning_rate=1e-4),
    "quick, early stopping on val_loss": dict(max_examples=384, epochs=1, learning_rate=1e-4,
                                              monitor="val_loss"),
    "quick, 2 epochs": dict(max_examples=384, epochs=2, learning_rate=1e-4),
    "768 examples, 2 epochs": dict(max_examples=768, epochs=2, learning_rate=1e-4),
    "768 examples, 2 epochs, rate 5e-5": dict(max_examples=768, epochs=2, learning_rate=5e-5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--configs", default="quick|quick, 2 epochs",
                        help="names from CONFIGS, separated by |")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from textrec import text
    from textrec.data.prepare import prepare_data
    from textrec.text.sentiment_data import sentiment_frame, stratified_sample

    path = real_data_path(args.data)
    prepared = prepare_data(path, profile="quick", seed=args.seed)
    split = prepared.split
    embedder = text.TextEmbedder(max_length=args.max_length)
    rows = [{"model": "majority class", **_scores(text.majority_baseline(split.train, split.test))},
            {"model": "frozen encoder + logistic regression, every train review",
             **_scores(text.frozen_embedding_baseline(split.train, split.test, embedder,
                                                      args.seed))}]
    samples = set()
    for name in [c.strip() for c in args.configs.split("|")]:
        options = CONFIGS[name]
        sample = stratified_sample(sentiment_frame(split.train), options["max_examples"],
                                   args.seed)
        if options["max_examples"] not in samples:
            samples.add(options["max_examples"])
            rows.append({"model": f"frozen encoder + logistic regression, "
                                  f"{options['max_examples']} train reviews",
                         **_scores(text.frozen_embedding_baseline(sample, split.test, embedder,
                                                                  args.seed))})
        start = time.perf_counter()
        tuned = text.finetune_sentiment(split.train, split.validation,
                                        max_length=args.max_length, seed=args.seed,
                                        progress=False, evaluations_per_epoch=2, **options)
        scores = text.evaluate_sentiment(tuned, split.test)
        stopped = len(tuned.history["loss"])
        rows.append({"model": f"fine-tuned: {name} ({tuned.settings['steps']} steps planned, "
                              f"{stopped} evaluation rounds run)",
                     **_scores(scores), "seconds": f"{time.perf_counter() - start:.0f}"})
        print(rows[-1], flush=True)
        del tuned
    n_negative = int((sentiment_frame(split.test)["sentiment"] == 0).sum())
    lines = [
        "# Fine-tuning against the frozen encoder on the real reviews",
        "",
        f"{dt.date.today()}, {machine()}; data `{Path(path).name}` (quick-profile preparation), "
        f"{len(sentiment_frame(split.test))} non-neutral test reviews of which {n_negative} "
        "negative. Early stopping on validation macro-F1 unless said otherwise; batches of 8, "
        f"{args.max_length} tokens, AdamW with warm-up and linear decay.",
        "",
        markdown_table(rows, ["model", "accuracy", "macro-F1", "seconds"]),
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finetune.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _scores(result: dict) -> dict:
    return {"accuracy": f"{result['accuracy']:.3f}", "macro-F1": f"{result['macro_f1']:.3f}",
            "seconds": ""}


if __name__ == "__main__":
    main()
