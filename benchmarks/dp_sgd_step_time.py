"""DP-SGD cost: time per training step with and without DP-SGD, and utility at epsilon 8 and 2.

    python benchmarks/dp_sgd_step_time.py [--data PATH] [--steps 50] [--skip-utility]

Step time: the same model, batch and optimizer, one compiled ``train_step`` each, timed over
``--steps`` steps after ``--warmup`` (median, milliseconds; the versions take turns, one step
each, so load from other processes on a shared machine affects them alike). Three versions:
without DP (mean loss, one backward pass), DP-SGD with per-example gradients materialised by
``tf.vectorized_map`` (the reference), and DP-SGD with ghost-norm clipping (norms from
activations and output gradients, one re-weighted backward pass). Models: the sentiment head
(logistic regression on frozen 384-d review vectors), the recommender's towers (interest vector
-> Dense 32; item id embedding 32) with 8 uniform negatives, example-level batches of
``--batch-size`` and user-level batches of ``--users`` users (up to 8 interactions each).

Utility: on the shared real data (Amazon 2014 Musical Instruments, 5-core), the notebook-07
setup: the sentiment head with example-level DP (class-weighted loss, expected batch 256, 10
epochs, C 3, learning rate 0.1) and the recommender with user-level DP (item id embeddings, as
the data have no descriptions; expected 100 users per batch, 20 epochs, C 1, learning rate
0.05), without DP and at epsilon 8 and 2 (delta 1e-5, RDP), trained with ghost clipping. Text
vectors come from the embedding cache when it has them (otherwise the reviews are embedded once,
a few minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np

from common import machine, markdown_table, real_data_path


VERSIONS = {"no DP": None, "vectorized": "vectorized", "ghost": "ghost"}


def step_times(make_model, batch, steps: int, warmup: int) -> dict[str, float]:
    """Median milliseconds of one compiled train step on ``batch``, per version.

    The versions run in turn, one step each per round, so a load change on a shared machine
    hits them alike."""
    import tensorflow as tf

    from textrec import privacy

    functions = {}
    for name, clipping in VERSIONS.items():
        model = make_model()
        dp_model = privacy.DPModel(model, l2_norm_clip=None if clipping is None else 1.0,
                                   noise_multiplier=1.0, expected_batch_size=256.0,
                                   clipping=clipping or "vectorized", seed=0)
        dp_model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
        dp_model.optimizer.build(model.trainable_variables)
        functions[name] = tf.function(dp_model.train_step)
    times = {name: [] for name in functions}
    for i in range(warmup + steps):
        for name, step in functions.items():
            start = time.perf_counter()
            float(step(batch)["loss"])  # wait for the result
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


def timing_table(data, vectors, args) -> list[dict]:
    import tensorflow as tf

    from textrec import privacy

    train = data.split.train
    review_vectors, user_vectors, item_ids = vectors[0], vectors[2], vectors[3]
    sentiment, _ = privacy.sentiment_features(train, review_vectors)
    retrieval, users = privacy.retrieval_features(train, user_vectors)
    rng = np.random.default_rng(0)
    negatives = privacy.negative_sampler(item_ids, 8)
    seed = tf.constant([0, 1], tf.int32)

    def flat(features, n):
        rows = rng.choice(len(next(iter(features.values()))), n, replace=False)
        return {k: tf.constant(v[rows]) for k, v in features.items()}

    def recommender():
        model = privacy.retrieval_model(item_ids, review_vectors.shape[1], 32, use_item_ids=True)
        privacy.build(model, retrieval)
        return model

    def head():
        model = privacy.SentimentHead()
        privacy.build(model, sentiment)
        return model

    q = args.users / len(np.unique(users))
    user_batch = next(iter(privacy.poisson_batches(retrieval, q, 1, units=users,
                                                   max_examples_per_unit=8, map_batch=negatives)))
    cases = [("sentiment head", "example", f"{args.batch_size} reviews", head,
              flat(sentiment, args.batch_size)),
             ("recommender", "example", f"{args.batch_size} interactions", recommender,
              negatives(flat(retrieval, args.batch_size), seed)),
             ("recommender", "user", f"{int(user_batch[privacy.UNIT_MASK].shape[0])} users, "
              f"{int(user_batch[privacy.UNIT_MASK].numpy().sum())} interactions", recommender,
              user_batch)]
    rows = []
    for name, unit, batch_text, make, batch in cases:
        times = step_times(make, batch, args.steps, args.warmup)
        plain, vectorized, ghost = times["no DP"], times["vectorized"], times["ghost"]
        rows.append({"model": name, "DP unit": unit, "batch": batch_text,
                     "no DP (ms)": f"{plain:.1f}",
                     "vectorized DP (ms, ratio)": f"{vectorized:.1f} ({vectorized / plain:.1f}x)",
                     "ghost DP (ms, ratio)": f"{ghost:.1f} ({ghost / plain:.1f}x)"})
        print(rows[-1], flush=True)
    return rows


def utility_table(data, vectors, epsilons=(None, 8.0, 2.0), delta=1e-5) -> list[dict]:
    import tensorflow as tf
    from sklearn.metrics import balanced_accuracy_score

    from textrec import privacy, text
    from textrec.data import schema
    from textrec.evaluation import evaluate_scores
    from textrec.models import popularity as baselines
    from textrec.models.joint import REVIEW_VECTOR

    split, train = data.split, data.split.train
    review_vectors, heldout_vectors, user_vectors, item_ids = vectors
    heldout = _heldout(split)
    sentiment, _ = privacy.sentiment_features(train, review_vectors)
    sentiment_heldout, _ = privacy.sentiment_features(heldout, heldout_vectors)
    retrieval, users = privacy.retrieval_features(train, user_vectors)
    labels = sentiment_heldout[privacy.LABEL]
    class_weights = text.class_weights(sentiment[privacy.LABEL].astype(int))
    members = privacy.pair_rows(train, user_vectors.ids, item_ids, schema.USER, schema.ITEM)
    others = privacy.pair_rows(split.test, user_vectors.ids, item_ids, schema.USER, schema.ITEM)
    q_sentiment = min(1.0, 256 / len(sentiment[privacy.LABEL]))
    q_users = min(1.0, 100 / len(np.unique(users)))
    rows = []
    for epsilon in epsilons:
        start = time.perf_counter()
        sigma_s = sigma_r = None
        if epsilon is not None:
            sigma_s = privacy.noise_multiplier_for_epsilon(
                epsilon, q_sentiment, privacy.steps_for_epochs(10, q_sentiment), delta)
            sigma_r = privacy.noise_multiplier_for_epsilon(
                epsilon, q_users, privacy.steps_for_epochs(20, q_users), delta)
        head = privacy.SentimentHead(class_weights=class_weights)
        privacy.build(head, sentiment)
        privacy.train(head, sentiment, q_sentiment, 10, sigma_s, l2_norm_clip=3.0,
                      learning_rate=0.1, clipping="ghost")
        predicted = head.predict_proba(sentiment_heldout[REVIEW_VECTOR]) >= 0.5
        losses = [head.per_example_losses({k: tf.constant(v) for k, v in f.items()},
                                          weighted=False).numpy()
                  for f in (sentiment, sentiment_heldout)]
        model = privacy.retrieval_model(item_ids, review_vectors.shape[1], 32, use_item_ids=True)
        privacy.build(model, retrieval)
        privacy.train(model, retrieval, q_users, 20, sigma_r, units=users, max_examples_per_unit=8,
                      learning_rate=0.05, clipping="ghost",
                      map_batch=privacy.negative_sampler(item_ids, 8))
        scores = model.score_matrix(user_vectors.vectors, item_ids)
        ranking = evaluate_scores(scores, split, user_vectors.ids, item_ids, "test")
        pair_losses = [privacy.full_softmax_losses(scores, *p) for p in (members, others)]
        rows.append({
            "epsilon": "no DP" if epsilon is None else f"{epsilon:g}",
            "sentiment accuracy": f"{(predicted == labels).mean():.3f}",
            "balanced accuracy": f"{balanced_accuracy_score(labels, predicted):.3f}",
            "sentiment audit AUC": f"{privacy.loss_threshold_attack(*losses)['auc']:.3f}",
            "NDCG@10": f"{ranking['ndcg@10']:.4f}", "HR@10": f"{ranking['hr@10']:.3f}",
            "recommender audit AUC": f"{privacy.loss_threshold_attack(*pair_losses)['auc']:.3f}",
            "seconds": f"{time.perf_counter() - start:.0f}"})
        print(rows[-1], flush=True)
    popular = baselines.most_popular_scores(train, item_ids, len(user_vectors))
    popular_ndcg = evaluate_scores(popular, split, user_vectors.ids, item_ids, "test")["ndcg@10"]
    majority = max(labels.mean(), 1 - labels.mean())
    rows.append({"epsilon": "most popular / majority class (not DP)",
                 "sentiment accuracy": f"{majority:.3f}", "balanced accuracy": "0.500",
                 "NDCG@10": f"{popular_ndcg:.4f}"})
    return rows


def _heldout(split):
    import pandas as pd

    return pd.concat([split.validation, split.test], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per version")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--users", type=int, default=100,
                        help="expected users per user-level batch")
    parser.add_argument("--skip-utility", action="store_true")
    args = parser.parse_args()

    from textrec import config, interests
    from textrec.data.prepare import prepare_data
    from textrec.data import schema
    from textrec.text import TextEmbedder

    config.set_seeds(config.SEED)
    data = prepare_data(str(real_data_path(args.data)), profile="quick")
    embedder = TextEmbedder(max_length=128)
    train = data.split.train
    review_vectors = interests.embed_texts(embedder, train[schema.TEXT].tolist())
    heldout_vectors = interests.embed_texts(embedder, _heldout(data.split)[schema.TEXT].tolist())
    user_vectors = interests.interest_vectors(train, review_vectors)
    item_ids = np.array(sorted(data.reviews[schema.ITEM].unique()), dtype=object)
    vectors = (review_vectors, heldout_vectors, user_vectors, item_ids)

    print(f"\n{dt.date.today()} · {machine()} · {data.name}: {len(train):,} train reviews, "
          f"{len(user_vectors):,} users, {len(item_ids):,} items\n")
    timing = timing_table(data, vectors, args)
    print(f"\nStep time, median of {args.steps} steps after {args.warmup} warm-up steps:\n")
    print(markdown_table(timing, list(timing[0])))
    if not args.skip_utility:
        utility = utility_table(data, vectors)
        print("\nUtility on test (delta 1e-5, RDP; "
              "sentiment example-level, recommender user-level):\n")
        print(markdown_table(utility, list(utility[0])))


if __name__ == "__main__":
    main()
