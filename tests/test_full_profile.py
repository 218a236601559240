"""The full profile in miniature on a CPU: its scaled sizes, its mixed precision and XLA switches
(forced on, as they would be on a GPU), its pipeline stages on tiny data, and the
``make gpu-check`` command's plan and its refusal without a GPU."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from textrec import config, models, privacy, text
from textrec.data import schema
from textrec.models.joint import REVIEW_VECTOR
from textrec.privacy.models import LABEL, SentimentHead

REPO = Path(__file__).resolve().parents[1]
SCALE = "0.01"


@pytest.fixture
def full_on_a_gpu(monkeypatch):
    """The full profile at 1% of its sizes, with ``gpu_visible`` answering yes, so the
    switches a GPU would get are applied here on the CPU."""
    monkeypatch.setenv("TEXTREC_PROFILE", "full")
    monkeypatch.setenv("TEXTREC_FULL_SCALE", SCALE)
    monkeypatch.delenv("TEXTREC_ACCELERATION", raising=False)
    monkeypatch.setattr(config, "gpu_visible", lambda: True)
    yield
    assert tf.keras.mixed_precision.global_policy().name == "float32"  # the policy came back


# ---------------------------------------------------------------- sizes


def test_the_quick_profile_is_unchanged_and_never_accelerated(monkeypatch):
    monkeypatch.setenv("TEXTREC_FULL_SCALE", SCALE)  # scales only the full profile
    monkeypatch.setattr(config, "gpu_visible", lambda: True)
    quick = config.get_profile("quick")
    assert (quick.synthetic_users, quick.synthetic_items, quick.synthetic_reviews) == (400, 160,
                                                                                      4_000)
    assert (quick.k_core, quick.batch_size, quick.max_seq_length, quick.embedding_batch_size,
            quick.epochs, quick.finetune_examples, quick.finetune_epochs) == (3, 256, 128, 64, 3,
                                                                              384, 2)
    assert quick.scale == 1.0 and quick.acceleration == ""
    for workload in config.WORKLOADS:
        assert config.acceleration(workload, "quick") == config.Acceleration()


def test_full_scale_shrinks_the_sizes_and_keeps_the_rest(monkeypatch):
    monkeypatch.setenv("TEXTREC_PROFILE", "full")
    monkeypatch.setenv("TEXTREC_FULL_SCALE", SCALE)
    small, full = config.get_profile(), config.PROFILES["full"]
    # 1% of 2,500 users, 800 items, 25,000 reviews, batches of 1,024, 256 tokens, 256 texts per
    # embedding batch, 20 epochs, 20,000 fine-tuning reviews; then the floors: 24 items, 16
    # tokens, 8 texts, 1 epoch.
    assert (small.synthetic_users, small.synthetic_items, small.synthetic_reviews) == (25, 24, 250)
    assert (small.batch_size, small.max_seq_length, small.embedding_batch_size, small.epochs,
            small.finetune_examples) == (10, 16, 8, 1, 200)
    assert small.name == "full" and small.scale == 0.01
    assert (small.k_core, small.finetune_epochs, small.encoder, small.acceleration) == (
        full.k_core, full.finetune_epochs, full.encoder, full.acceleration)
    monkeypatch.setenv("TEXTREC_FULL_SCALE", "1")
    assert config.get_profile() == full
    for bad in ("0", "2", "-0.5", "half"):
        monkeypatch.setenv("TEXTREC_FULL_SCALE", bad)
        with pytest.raises(ValueError, match="TEXTREC_FULL_SCALE"):
            config.get_profile()


# ---------------------------------------------------------------- the switches


def test_the_full_profile_chooses_switches_per_workload_only_on_a_gpu(monkeypatch):
    monkeypatch.delenv("TEXTREC_ACCELERATION", raising=False)
    on = config.Acceleration
    monkeypatch.setattr(config, "gpu_visible", lambda: True)
    assert {w: config.acceleration(w, "full") for w in config.WORKLOADS} == {
        "finetune": on(mixed_precision=True), "joint": on(), "dp_sgd": on(xla=True)}
    monkeypatch.setattr(config, "gpu_visible", lambda: False)
    assert all(config.acceleration(w, "full") == on() for w in config.WORKLOADS)
    assert config.acceleration_plan("full")["dp_sgd"] == on(xla=True)  # the plan, GPU or not


def test_the_override_and_its_errors(monkeypatch):
    monkeypatch.setattr(config, "gpu_visible", lambda: True)
    monkeypatch.setenv("TEXTREC_ACCELERATION", "finetune=none, joint=xla")
    plan = config.acceleration_plan("full")
    assert plan["finetune"] == config.Acceleration()
    assert plan["joint"] == config.Acceleration(xla=True)
    assert plan["dp_sgd"] == config.Acceleration(xla=True)  # not named: the profile's
    for bad, message in [("finetune=fp8", "cannot read"), ("ranking=xla", "cannot read"),
                         ("finetune", "cannot read"), ("dp_sgd=mixed_precision", "float32"),
                         ("joint=mixed_precision+xla", "float32")]:
        monkeypatch.setenv("TEXTREC_ACCELERATION", bad)
        with pytest.raises(ValueError, match=message):
            config.acceleration("finetune", "full")
    with pytest.raises(ValueError, match="unknown workload"):
        config.acceleration("serving", "full")


def test_xla_only_for_batches_without_strings():
    numbers = tf.data.Dataset.from_tensor_slices({"x": np.zeros((4, 2), np.float32)})
    strings = tf.data.Dataset.from_tensor_slices({"x": np.zeros(4), "item": ["a"] * 4})
    xla = config.Acceleration(xla=True)
    assert config.xla_applies(xla, numbers.element_spec)
    assert not config.xla_applies(xla, strings.element_spec)
    assert not config.xla_applies(config.Acceleration(), numbers.element_spec)


# ---------------------------------------------------------------- the switched code paths


def test_finetuning_in_mixed_precision(full_on_a_gpu, resolved):
    texts = ["great tone, love it", "broke in a week, awful", "superb cable, no noise",
             "cheap and flimsy, useless"] * 4
    frame = pd.DataFrame({schema.TEXT: texts, schema.RATING: [5.0, 1.0, 4.0, 2.0] * 4})
    result = text.finetune_sentiment(frame, frame, resolved, max_examples=16, epochs=1,
                                     max_length=16, batch_size=8, progress=False)
    assert result.settings["mixed_precision"] and not result.settings["xla"]
    assert result.model.dtype_policy.name == "mixed_float16"
    assert all(v.dtype == tf.float32 for v in result.model.trainable_variables)  # master weights
    # Keras wrapped the optimizer, so small float16 gradients are scaled up, not lost.
    assert isinstance(result.model.optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
    assert np.isfinite(result.history["loss"]).all()
    assert np.isfinite(result.history["val_loss"]).all()
    probabilities = result.predict_proba(["lovely strings", "terrible buzz"])
    assert probabilities.shape == (2,) and ((probabilities >= 0) & (probabilities <= 1)).all()


def test_dp_sgd_compiles_with_xla_when_its_batches_are_numeric(full_on_a_gpu):
    rng = np.random.default_rng(0)
    features = {REVIEW_VECTOR: rng.normal(size=(200, 8)).astype("float32"),
                LABEL: (rng.random(200) < 0.7).astype("float32")}
    head = SentimentHead()
    privacy.build(head, features)
    dp_model, history = privacy.train(head, features, 0.1, 1.0, noise_multiplier=1.0)
    assert dp_model.jit_compile and np.isfinite(history.history["loss"]).all()
    item_ids = [f"i{i}" for i in range(6)]
    retrieval = privacy.retrieval_model(item_ids, text_dim=8, embedding_dim=4)
    strings = {"query_vector": features[REVIEW_VECTOR],
               schema.ITEM: np.array(rng.choice(item_ids, 200), dtype=object)}
    privacy.build(retrieval, strings)
    dp_model, _ = privacy.train(retrieval, strings, 0.1, 1.0, noise_multiplier=1.0,
                                map_batch=privacy.negative_sampler(item_ids, 3))
    assert not dp_model.jit_compile  # string ids: XLA cannot compile their lookups


def test_the_joint_model_under_its_xla_switch_stays_uncompiled(full_on_a_gpu, monkeypatch):
    monkeypatch.setenv("TEXTREC_ACCELERATION", "joint=xla")
    users, items = [f"u{i}" for i in range(6)], [f"i{i}" for i in range(8)]
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({schema.USER: users * 4, schema.ITEM: (items * 3)[:24],
                          schema.RATING: rng.integers(1, 6, 24).astype("float32")})
    vectors = {key: rng.normal(size=4).astype("float32") for key in users + items}

    def build():
        query = models.QueryTower(users, 8, vectors, hidden_units=(8,), text_projection_units=6)
        candidate = models.CandidateTower(items, 8, vectors, hidden_units=(8,))
        return models.JointModel(query, candidate, sentiment_hidden_units=(4,),
                                 rating_hidden_units=(4,))

    dataset = models.review_dataset(frame, rng.normal(size=(24, 4)).astype("float32"),
                                    batch_size=8)
    history = models.fit_model(build, dataset, epochs=2, learning_rate=0.02)
    assert history.model.dtype_policy.name == "float32"
    assert not history.model.jit_compile  # string ids in the batches: XLA is not applied
    for name in ("text_loss", "retrieval_loss", "rating_loss"):
        assert np.isfinite(history.history[name]).all(), name


def test_the_sequence_model_in_the_full_profile_in_miniature(full_on_a_gpu):
    # Lesson 10's full settings (200 epochs at most, patience 20) scaled to 1%: 2 epochs.
    settings = models.SEQUENCE_SETTINGS["full"]
    assert settings.epochs() == 2 and settings.max_epochs == 200
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({schema.USER: [f"u{u}" for u in range(6) for _ in range(4)],
                          schema.ITEM: [f"i{i}" for i in rng.integers(0, 8, 24)],
                          schema.TIMESTAMP: np.tile(np.arange(4), 6), schema.ORDER: range(24)})
    items = [f"i{i}" for i in range(8)]
    text = (np.array(items, object), rng.normal(size=(8, 4)).astype("float32"))
    recipe = models.sequence_model_recipe(frame, items, text, settings=settings)
    history = recipe.fit(epochs=recipe.settings.epochs(), batch_size=4)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert history.model.dtype_policy.name == "float32"      # "joint" switches: none in full
    assert history.model.score_users(frame, ["u0", "u9"]).shape == (2, 8)


def test_the_full_profile_pipeline_in_miniature(full_on_a_gpu, tmp_path):
    from textrec import pipeline

    # data, interests and joint; fine-tuning's switched path is tested above.
    path = pipeline.run_pipeline(stages=["joint"], reports=tmp_path, progress=False)
    report = path.read_text()
    stats = json.loads((tmp_path / "data_report.json").read_text())
    assert "profile `full`" in report and stats["source"] == "synthetic-full-seed42"
    # The scaled world: about 250 reviews (within 10%), before the 3-core filter.
    assert 200 <= stats["reviews"] <= 275 and stats["split"]["test"]["users"] == stats["users"]
    assert "validation ndcg@10" in report.lower()


# ---------------------------------------------------------------- the gpu-check command


def _command():
    spec = importlib.util.spec_from_file_location("full_profile",
                                                  REPO / "benchmarks" / "full_profile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_shows_the_plan(tmp_path, capsys):
    data = tmp_path / "reviews.json.gz"
    data.write_bytes(b"")
    assert _command().main(["--dry-run", "--data", str(data), "--ab"]) == 0
    out = capsys.readouterr().out
    lessons = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    solutions = sorted(p.name for p in (REPO / "solutions").glob("*.ipynb"))
    for name in lessons:
        assert f"notebooks/{name}" in out
    for name in solutions:
        assert f"solutions/{name}" in out
    assert f"notebooks/02_bert_finetuning.ipynb  [notebook; data: {data}]" in out
    assert "notebooks/00_overview.ipynb  [notebook; data: its own" in out
    assert "TEXTREC_PROFILE=full" in out and "TF_FORCE_GPU_ALLOW_GROWTH=true" in out
    assert '"finetune": {"mixed_precision": true, "xla": false}' in out
    assert "textrec pipeline --profile full" in out and "A/B timings" in out


def test_only_selects_notebooks_and_rejects_what_matches_none(capsys):
    command = _command()
    assert command.main(["--dry-run", "--only", "02,solutions/07"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if ".ipynb  [" in line]
    assert [line.split()[1] for line in listed] == [
        "notebooks/02_bert_finetuning.ipynb", "solutions/02_bert_finetuning.ipynb",
        "solutions/07_privacy_dp_sgd.ipynb"]
    with pytest.raises(SystemExit, match="matches no notebook"):
        command.main(["--dry-run", "--only", "99_nothing"])


def test_it_refuses_without_a_gpu(monkeypatch, capsys, tmp_path):
    command = _command()
    monkeypatch.setattr(command, "detect_gpu", lambda env: (None, "nvidia-smi lists no GPU"))
    assert command.main(["--only", "00", "--out", str(tmp_path)]) == command.NO_GPU
    assert "gpu-check needs a GPU: nvidia-smi lists no GPU" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing ran, nothing written
    assert command.main(["--data", str(tmp_path / "missing.json.gz")]) == 1
