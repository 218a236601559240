"""The text encoder trained with the recommender, measured on the joint model trained to rank:
frozen against fine-tuned in lesson 02 against trained jointly (``models.EncoderJointModel``),
on the shared real reviews; written to ``benchmarks/results/encoder_joint.md`` and ``.json``.

    python benchmarks/encoder_joint_benchmark.py [--data PATH] [--seeds 3]
        [--joint-epochs 2] [--long-epochs 6] [--bootstrap 1000]
        [--out benchmarks/results/encoder_joint.md]

Every variant is the SAME model: lesson 05's joint recipe (``models.joint_model_recipe`` with the
quick profile's ``JOINT_SETTINGS``), trained on the TRAIN reviews with early stopping on the
validation NDCG@10, ``--seeds`` times, and scored on TEST (full ranking, train and validation
items masked; per-user NDCG@10 averaged over the seeds). Only the review vectors it reads
change:

* frozen: all-MiniLM-L6-v2 as lessons 03-05 use it (128 tokens);
* ids only: the same model without text (``use_text=False``): how much text adds at all;
* for each start, the pretrained encoder and lesson 02's (``text.finetune_sentiment`` with lesson
  02's quick settings, on these train reviews):
  - the start encoder itself at the joint training's length (``ENCODER_SETTINGS`` quick: the
    top layer trainable, 64 tokens);
  - trained jointly: ``models.encoder_joint_recipe`` for ``--joint-epochs`` epochs, then every
    review re-encoded and the joint recipe trained on the new vectors;
  - the jointly trained model itself (its text tables refreshed with its own encoder).
* longer joint training from the pretrained encoder (``--long-epochs``), to see whether the
  direction of the change holds with more steps.

Each row's difference against frozen is paired per user with a 95% bootstrap interval, for all
users, users with at most 3 train interactions and long-tail targets.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np

from common import git_revision, machine, markdown_table, real_data_path

K = 10
FEW = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--joint-epochs", type=int, default=None,
                        help="epochs of joint encoder training (default: ENCODER_SETTINGS quick)")
    parser.add_argument("--long-epochs", type=int, default=6,
                        help="a longer joint training from the pretrained encoder (0: skip)")
    parser.add_argument("--no-finetuned", action="store_true",
                        help="skip lesson 02's fine-tuned encoder as a start")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"
                                             / "encoder_joint.md"))
    args = parser.parse_args()
    started = time.perf_counter()

    from textrec import config, evaluation, interests, models, text
    from textrec.data import schema
    from textrec.data.prepare import prepare_data
    from textrec.text import TextEmbedder

    log = lambda line: print(line, flush=True)  # noqa: E731
    profile = config.get_profile("quick")
    data = prepare_data(str(real_data_path(args.data)), profile="quick", seed=config.SEED)
    split, train = data.split, data.split.train
    seeds = [config.SEED + s for s in range(args.seeds)]
    settings = models.JOINT_SETTINGS["quick"]
    encoder_settings = models.ENCODER_SETTINGS["quick"]
    if args.joint_epochs:
        encoder_settings = dataclasses.replace(encoder_settings, epochs=args.joint_epochs)

    frozen_vectors = interests.embed_texts(TextEmbedder(), train[schema.TEXT].tolist())
    frozen = vectors_of(train, data.items, frozen_vectors)
    user_ids, item_ids = frozen[1].ids, frozen[2].ids
    interactions = evaluation.InteractionData.from_split(split, user_ids=user_ids,
                                                         item_ids=item_ids)
    evaluator = evaluation.Evaluator(interactions, ks=(K,))
    validation_ndcg = evaluation.validation_ndcg(split, user_ids, item_ids,
                                                 models.tower_scores(user_ids, item_ids))
    facts = {}

    def score(name, reviews_, users_, items_, **changes):
        tic = time.perf_counter()
        per_seed, epochs = [], []
        for seed in seeds:
            history = models.joint_model_recipe(users_, items_, reviews_, settings=settings,
                                                **changes).fit(stop_on=validation_ndcg, seed=seed)
            per_seed.append(models.score_matrix(history.model.query_model,
                                                history.model.candidate_model, user_ids,
                                                item_ids))
            epochs.append(history.best_epoch)
        add_mean_run(evaluator, name, per_seed)
        facts.setdefault(name, {})["epochs"] = epochs
        log(f"{name}: test NDCG@10 {mean_ndcg(evaluator, name):.4f}, epochs {epochs} "
            f"({time.perf_counter() - tic:.0f} s)")

    score("frozen encoder (128 tokens)", *frozen)
    score("ids only (no text)", *frozen, use_text=False)

    starts = [("pretrained", lambda: text.load_encoder())]
    if not args.no_finetuned:
        def finetuned():
            tic = time.perf_counter()
            result = text.finetune_sentiment(
                train, split.validation, text.resolve_encoder(),
                max_examples=profile.finetune_examples, epochs=profile.finetune_epochs,
                max_length=profile.max_seq_length, batch_size=8, learning_rate=1e-4,
                evaluations_per_epoch=2, seed=config.SEED, progress=False)
            facts["fine-tuning (lesson 02)"] = {
                "examples": result.n_train, "epochs": result.settings["epochs"],
                "seconds": round(time.perf_counter() - tic, 1),
                "validation macro-F1": round(max(result.history.get("val_macro_f1", [np.nan])),
                                             4)}
            return result.tokenizer, result.model
        starts.append(("fine-tuned in lesson 02", finetuned))

    runs = [(label, load, encoder_settings) for label, load in starts]
    if args.long_epochs:
        runs.append(("pretrained, longer", starts[0][1],
                     dataclasses.replace(encoder_settings, epochs=args.long_epochs)))
    for label, load, these_settings in runs:
        tic = time.perf_counter()
        tokenizer, encoder_model = load()
        states, mask = models.encoder_joint.review_states(
            encoder_model, tokenizer, train[schema.TEXT], these_settings.n_trainable,
            these_settings.max_length)
        top = models.ReviewEncoder(encoder_model, these_settings.n_trainable)
        start = vectors_of(train, data.items, models.encoder_joint.encode_reviews(top, states,
                                                                                   mask))
        if not label.endswith("longer"):
            score(f"{label} encoder ({these_settings.max_length} tokens)", *start)
        recipe = models.encoder_joint_recipe(start[1], start[2], start[0], states, mask,
                                             encoder_model, settings=settings,
                                             encoder_settings=these_settings)
        trained = recipe.fit(seed=config.SEED)
        new = vectors_of(train, data.items, models.encoder_joint.encode_reviews(
            trained.model.review_encoder, states, mask))
        moved = np.linalg.norm(new[0].vectors - start[0].vectors, axis=1)
        name = f"trained jointly from {label} ({these_settings.epochs} epochs)"
        facts[name] = {"median distance moved": round(float(np.median(moved)), 4),
                       "encoder epochs": these_settings.epochs,
                       "last losses": {term: round(trained.history[term][-1], 4) for term in
                                       ("text_loss", "retrieval_loss", "rating_loss")},
                       "seconds": round(time.perf_counter() - tic, 1)}
        score(name, *new)
        own = trained.model
        own.query_model.text_table.assign(new[1])
        own.candidate_model.text_table.assign(new[2])
        itself = f"the jointly trained model itself, from {label}"
        add_mean_run(evaluator, itself, [models.score_matrix(own.query_model,
                                                             own.candidate_model, user_ids,
                                                             item_ids)])
        log(f"{itself}: test NDCG@10 {mean_ndcg(evaluator, itself):.4f}")

    write(evaluator, facts, args, started, data, interactions, settings, encoder_settings, seeds)


def vectors_of(train, items, review_vectors):
    """``(ReviewVectors, interest vectors, item text vectors)`` of the train reviews."""
    from textrec import interests, models

    reviews = models.ReviewVectors(train, review_vectors)
    return (reviews, interests.interest_vectors(reviews),
            interests.item_text_vectors(items, reviews))


def add_mean_run(evaluator, name, score_matrices):
    """The per-user test metrics of each seed's scores, averaged over the seeds."""
    from textrec.evaluation import per_user_metrics
    from textrec.evaluation.results import Run

    data = evaluator.data
    per_seed = [per_user_metrics(scores, data.targets("test"), data.exclude("test"),
                                 evaluator.ks)[0] for scores in score_matrices]
    mean = {metric: np.mean([p[metric] for p in per_seed], axis=0) for metric in per_seed[0]}
    evaluator.results.add(Run(name, "test", "train", mean))
    evaluator.add_random_reference("test", "train")


def mean_ndcg(evaluator, name) -> float:
    return evaluator.results.get(name, "test", "train").mean(f"ndcg@{K}")


def write(evaluator, facts, args, started, data, interactions, settings, encoder_settings,
          seeds) -> None:
    results = evaluator.results
    reference = "frozen encoder (128 tokens)"
    rows, json_rows = [], []
    for run in results.runs:
        if run.model.startswith("random") or run.part != "test":
            continue
        row = {"encoder": run.model, "NDCG@10": f"{run.mean(f'ndcg@{K}'):.4f}"}
        entry = {"model": run.model, "ndcg@10": round(run.mean(f"ndcg@{K}"), 5),
                 **facts.get(run.model, {})}
        for slice_, label in (("all", "all users"), ("cold", f"<= {FEW}"), ("tail", "tail")):
            values = results.values(run.model, f"ndcg@{K}", "test", "train", slice_)
            entry[f"ndcg@10_{slice_}"] = round(float(np.nanmean(values)), 5)
            if slice_ != "all":
                row[f"NDCG@10 {label}"] = f"{np.nanmean(values):.4f}"
            if run.model == reference:
                continue
            test = results.compare(run.model, reference, f"ndcg@{K}", "test", "train", slice_,
                                   n_resamples=args.bootstrap, seed=0, method="bootstrap")
            row[f"vs frozen, {label} [95%]"] = (f"{test['difference']:+.4f} "
                                                f"[{test['low']:+.4f}, {test['high']:+.4f}]")
            entry[f"diff_vs_frozen_{slice_}"] = [round(test["difference"], 5),
                                                 round(test["low"], 5), round(test["high"], 5)]
        row["epochs"] = ", ".join(map(str, facts.get(run.model, {}).get("epochs", []))) or "-"
        rows.append(row)
        json_rows.append(entry)
    columns = ["encoder", "NDCG@10", f"NDCG@10 <= {FEW}", "NDCG@10 tail",
               "vs frozen, all users [95%]", f"vs frozen, <= {FEW} [95%]",
               "vs frozen, tail [95%]", "epochs"]
    for row in rows:
        for column in columns:
            row.setdefault(column, "-")
    chance = results.get(evaluator_random_name(), "test", "train").mean(f"ndcg@{K}")
    reading = readings(json_rows, reference)
    out = Path(args.out)
    command = "python benchmarks/encoder_joint_benchmark.py " + " ".join(sys.argv[1:])
    text_ = (
        f"# The encoder trained with the recommender\n\n"
        f"{dt.date.today()} · {machine()} · git {git_revision()} · `{command.strip()}` · "
        f"{(time.perf_counter() - started) / 60:.0f} min\n\n"
        f"{data.name}: {interactions.n_users:,} users, {interactions.n_items:,} items; "
        f"leave-last-out; TEST, full ranking, train and validation items masked; models fit on "
        f"train with early stopping on validation NDCG@10, {len(seeds)} seeds, per-user NDCG@10 "
        f"averaged over the seeds; differences paired per user against the frozen encoder with "
        f"95% bootstrap intervals ({args.bootstrap} resamples). A random ranking scores "
        f"{chance:.4f}. The model: `models.joint_model_recipe` with `JOINT_SETTINGS['quick']` "
        f"({settings}). Joint encoder training: `ENCODER_SETTINGS` {encoder_settings}.\n\n"
        f"{markdown_table(rows, columns)}\n\n## Reading\n\n{reading}\n\n## Facts\n\n"
        f"```\n{json.dumps(facts, indent=1)}\n```\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text_)
    out.with_suffix(".json").write_text(json.dumps(
        {"rows": json_rows, "facts": facts, "random_ndcg@10": round(chance, 5),
         "seeds": len(seeds), "settings": dataclasses.asdict(settings),
         "encoder_settings": dataclasses.asdict(encoder_settings)}, indent=1) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}", flush=True)


def evaluator_random_name() -> str:
    from textrec.evaluation import RANDOM

    return RANDOM


def readings(rows, reference) -> str:
    """What the table says, computed: each variant against frozen, and what text adds at all."""
    lines = []
    for row in rows:
        if row["model"] == reference:
            continue
        difference, low, high = row["diff_vs_frozen_all"]
        verdict = ("above the frozen encoder, beyond noise" if low > 0 else
                   "below the frozen encoder, beyond noise" if high < 0 else
                   "within noise of the frozen encoder")
        lines.append(f"- {row['model']}: {row['ndcg@10']:.4f}, {difference:+.4f} "
                     f"[{low:+.4f}, {high:+.4f}]: {verdict}.")
    ids = next((r for r in rows if r["model"].startswith("ids only")), None)
    if ids is not None:
        difference, low, high = ids["diff_vs_frozen_all"]
        lines.append(
            f"- What text adds to this model at all: removing it changes NDCG@10 by "
            f"{difference:+.4f} [{low:+.4f}, {high:+.4f}]"
            + (" (within noise)" if low <= 0 <= high else "")
            + f"; on users with <= {FEW} train interactions by "
            f"{ids['diff_vs_frozen_cold'][0]:+.4f} [{ids['diff_vs_frozen_cold'][1]:+.4f}, "
            f"{ids['diff_vs_frozen_cold'][2]:+.4f}]. An encoder can only move the part of the "
            f"score that text carries: differences between encoders smaller than this cannot "
            f"be told apart on {FEW}-interaction users of this data.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
