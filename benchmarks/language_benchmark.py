"""Lessons 02-03 on the real data: sentiment before and after fine-tuning, and the text-only
recommender against most-popular.

    python benchmarks/language_benchmark.py [--data PATH] [--examples 2000] [--epochs 2]

Leave-last-out split of the cleaned reviews (3-core, as the quick profile). Sentiment: trained on
train reviews (positive 4-5 stars, negative 1-2, neutral left out), early stopping on validation,
scored on the test reviews. Recommendation: full ranking of every item, train items masked (and
the validation item on test), user vectors from train reviews only. Writes
benchmarks/results/language.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

from common import machine, markdown_table, real_data_path

RESULTS = Path(__file__).parent / "results"


def sentiment_rows(split, examples: int, epochs: int, max_length: int) -> list[dict]:
    from textrec import text

    embedder = text.TextEmbedder(max_length=max_length)
    rows = []
    for name, result in (("majority class", text.majority_baseline(split.train, split.test)),
                         ("frozen encoder + logistic regression (before fine-tuning)",
                          text.frozen_embedding_baseline(split.train, split.test, embedder))):
        rows.append({"model": name, "accuracy": f"{result['accuracy']:.3f}",
                     "macro-F1": f"{result['macro_f1']:.3f}", "seconds": ""})
    start = time.perf_counter()
    tuned = text.finetune_sentiment(split.train, split.validation, max_examples=examples,
                                    epochs=epochs, max_length=max_length, progress=False)
    result = text.evaluate_sentiment(tuned, split.test)
    rows.append({"model": f"fine-tuned all-MiniLM-L6-v2 ({examples} examples, {epochs} epochs)",
                 "accuracy": f"{result['accuracy']:.3f}", "macro-F1": f"{result['macro_f1']:.3f}",
                 "seconds": f"{time.perf_counter() - start:.0f}"})
    return rows


def recommendation_rows(prepared, max_length: int) -> list[dict]:
    from textrec import text
    from textrec.evaluation import evaluate_scores
    from textrec.models import popularity as baselines
    from textrec.interests import recommender

    embedder = text.TextEmbedder(max_length=max_length)
    rows = []
    for method in ("mean", "recency"):
        model = recommender.text_recommender_from_split(prepared.split, prepared.items, embedder,
                                                        method)
        for part in ("validation", "test"):
            metrics = evaluate_scores(model.scores(), prepared.split, model.users.ids,
                                      model.items.ids, part)
            rows.append({"model": f"text-only ({method})", "split": part,
                         "HR@10": f"{metrics['hr@10']:.4f}",
                         "NDCG@10": f"{metrics['ndcg@10']:.4f}"})
    item_ids = model.items.ids
    user_ids = model.users.ids
    popular = baselines.most_popular_scores(prepared.split.train, item_ids, len(user_ids))
    for part in ("validation", "test"):
        metrics = evaluate_scores(popular, prepared.split, user_ids, item_ids, part)
        rows.append({"model": "most popular", "split": part,
                     "HR@10": f"{metrics['hr@10']:.4f}", "NDCG@10": f"{metrics['ndcg@10']:.4f}"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    from textrec.data.prepare import prepare_data

    start = time.perf_counter()
    prepared = prepare_data(str(real_data_path(args.data)), profile="quick")
    recommendation = recommendation_rows(prepared, args.max_length)
    sentiment = sentiment_rows(prepared.split, args.examples, args.epochs, args.max_length)
    lines = [
        f"{dt.date.today()} · {machine()} · {prepared.name}, leave-last-out, "
        f"max {args.max_length} tokens",
        f"command: `python benchmarks/language_benchmark.py --examples {args.examples} "
        f"--epochs {args.epochs}`",
        f"total {time.perf_counter() - start:.0f} s",
        "", "Sentiment on the test reviews (neutral left out):", "",
        markdown_table(sentiment, ["model", "accuracy", "macro-F1", "seconds"]),
        "", "Recommendation, full ranking, seen items masked:", "",
        markdown_table(recommendation, ["model", "split", "HR@10", "NDCG@10"]),
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "language.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
