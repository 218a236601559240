"""One A/B measurement for ``make gpu-check --ab``: seconds per training step of one workload
with the switches ``TEXTREC_ACCELERATION`` gives it (e.g. ``finetune=mixed_precision``).

    TEXTREC_PROFILE=full TEXTREC_ACCELERATION=finetune=xla \
        python benchmarks/acceleration_ab.py finetune

Prints one JSON line: ``seconds_per_step`` (median over the steps after ``WARMUP``, so tracing
and XLA compilation are left out), ``loss`` (the last logged training loss: mixed precision
must not break training), ``applied`` (the switches in effect: all off without a GPU) and the
sizes. Workloads, each built as the package trains it, sized by the full profile:

* ``finetune``: the sentiment classifier (``text.finetune.load_classifier``) on batches of 8
  synthetic reviews padded to the profile's ``max_seq_length`` (fixed shapes, so XLA compiles
  once);
* ``joint``: ``models.JointModel`` (notebook 05's towers) through ``models.fit_model``, on
  random ids and 384-d review vectors, batches of the profile's ``batch_size``;
* ``dp_sgd``: ``privacy.DPModel`` around notebook 07's sentiment head, vectorized clipping,
  expected batch 256 (Poisson), compiled as ``privacy.train`` compiles it.
"""

from __future__ import annotations

import json
import sys
import time

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np
import pandas as pd
import tensorflow as tf

from textrec import config

STEPS, WARMUP = 40, 5


class StepTimer(tf.keras.callbacks.Callback):
    """Wall seconds of every training step (the logs are read each step, which syncs)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def finetune():
    from textrec.data import schema
    from textrec.data.synthetic import generate_world
    from textrec.text import finetune as ft

    profile = config.get_profile()
    switches = config.acceleration("finetune")
    reviews = ft.sentiment_frame(generate_world(n_users=40, n_items=40, n_reviews=400).reviews)
    with config.mixed_precision(switches.mixed_precision):
        tokenizer, model, _ = ft.load_classifier()
    texts = reviews[schema.TEXT].tolist()[:ft.DEFAULT_BATCH_SIZE * 8]
    labels = reviews[schema.SENTIMENT].to_numpy(np.int32)[:len(texts)]
    tokens = tokenizer(texts, padding="max_length", truncation=True,
                       max_length=profile.max_seq_length, return_tensors="np")
    dataset = tf.data.Dataset.from_tensor_slices((
        {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}, labels,
    )).batch(ft.DEFAULT_BATCH_SIZE, drop_remainder=True).repeat()
    model.compile(optimizer=ft._adamw(ft.DEFAULT_LEARNING_RATE, STEPS + WARMUP),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=switches.xla)
    timer = StepTimer()
    history = model.fit(dataset, epochs=1, steps_per_epoch=STEPS + WARMUP, callbacks=[timer],
                        verbose=0)
    return timer, history, switches, {"batch": ft.DEFAULT_BATCH_SIZE,
                                      "tokens": profile.max_seq_length}


def joint():
    from textrec import models
    from textrec.data import schema

    profile = config.get_profile()
    rng = np.random.default_rng(config.SEED)
    users = [f"u{i}" for i in range(profile.synthetic_users)]
    items = [f"i{i}" for i in range(profile.synthetic_items)]
    vectors = lambda ids: {key: rng.normal(size=384).astype("float32") for key in ids}  # noqa
    user_text, item_text = vectors(users), vectors(items)
    n = profile.batch_size * (STEPS + WARMUP)
    frame = pd.DataFrame({schema.USER: rng.choice(users, n), schema.ITEM: rng.choice(items, n),
                          schema.RATING: rng.integers(1, 6, n).astype("float32")})
    dataset = models.review_dataset(frame, rng.normal(size=(n, 384)).astype("float32"),
                                    batch_size=profile.batch_size)

    def build():
        query = models.QueryTower(users, 32, user_text, hidden_units=(64,),
                                  text_projection_units=64)
        candidate = models.CandidateTower(items, 32, item_text, hidden_units=(64,))
        return models.JointModel(query, candidate)

    timer = StepTimer()
    history = models.fit_model(build, dataset, epochs=1, callbacks=[timer])
    xla = config.xla_applies(config.acceleration("joint"), dataset.element_spec)
    switches = config.acceleration("joint")
    return timer, history, switches, {"batch": profile.batch_size, "xla_applied": xla}


def dp_sgd():
    from textrec import privacy
    from textrec.models.joint import REVIEW_VECTOR
    from textrec.models.training import make_optimizer
    from textrec.privacy.models import LABEL, SentimentHead

    rng = np.random.default_rng(config.SEED)
    n, rate = 20_000, 256 / 20_000
    features = {REVIEW_VECTOR: rng.normal(size=(n, 384)).astype("float32"),
                LABEL: (rng.random(n) < 0.8).astype("float32")}
    dataset = privacy.poisson_batches(features, rate, STEPS + WARMUP, seed=config.SEED)
    switches = config.acceleration("dp_sgd")
    head = SentimentHead()
    privacy.build(head, features)
    dp_model = privacy.DPModel(head, 3.0, 1.0, rate * n, "vectorized",
                               seed=config.SEED)
    dp_model.compile(optimizer=make_optimizer("adam", 0.1),
                     jit_compile=config.xla_applies(switches, dataset.element_spec))
    timer = StepTimer()
    history = dp_model.fit(dataset, epochs=1, steps_per_epoch=STEPS + WARMUP, callbacks=[timer],
                           verbose=0)
    return timer, history, switches, {"expected_batch": 256}


WORKLOADS = {"finetune": finetune, "joint": joint, "dp_sgd": dp_sgd}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in WORKLOADS:
        print(f"usage: acceleration_ab.py {{{','.join(WORKLOADS)}}}", file=sys.stderr)
        return 2
    config.set_seeds(config.SEED)
    timer, history, switches, sizes = WORKLOADS[argv[0]]()
    timed = timer.seconds[WARMUP:]
    loss = history.history.get("loss", [None])[-1]
    print(json.dumps({"seconds_per_step": float(np.median(timed)) if timed else None,
                      "steps": len(timed), "loss": None if loss is None else round(loss, 4),
                      "applied": {"mixed_precision": switches.mixed_precision,
                                  "xla": switches.xla},
                      "gpu": config.gpu_visible(), **sizes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
