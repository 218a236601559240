"""The XLA-compiled encoder on bucketed shapes (textrec.text.compiled): buckets, equality with
TensorFlow's graph, chunking, and the export's warm-up."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from textrec import text
from textrec.text import compiled


def test_length_buckets_are_multiples_of_16_then_coarser():
    assert compiled.length_buckets(128) == (16, 32, 48, 64, 80, 96, 112, 128)
    assert compiled.length_buckets(100) == (16, 32, 48, 64, 80, 96, 100)
    assert compiled.length_buckets(10) == (10,)
    assert compiled.length_buckets(300) == (16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224,
                                            256, 300)
    with pytest.raises(ValueError, match="max_length"):
        compiled.length_buckets(0)


def test_batch_buckets_are_powers_of_two_up_to_the_largest():
    assert compiled.batch_buckets(16) == (1, 2, 4, 8, 16)
    assert compiled.batch_buckets(12) == (1, 2, 4, 8, 12)
    assert compiled.batch_buckets(1) == (1,)
    with pytest.raises(ValueError, match="max_batch"):
        compiled.batch_buckets(0)


def test_a_call_is_padded_to_the_first_bucket_at_or_above_it():
    buckets = compiled.Buckets.for_length(64, 8)
    assert buckets.padded(1, 5) == (1, 16)
    assert buckets.padded(3, 16) == (4, 16)
    assert buckets.padded(5, 17) == (8, 32)
    assert buckets.padded(20, 64) == (24, 64)      # past the largest batch: whole chunks of 8
    assert len(buckets.shapes) == 4 * 4
    with pytest.raises(ValueError, match="longest bucket"):
        buckets.padded(1, 65)


@pytest.fixture(scope="module")
def encoder_parts():
    embedder = text.TextEmbedder(use_cache=False)
    return embedder.model, int(embedder.tokenizer.pad_token_id)


def _random_batch(rng, n, length):
    ids = rng.integers(1000, 20000, (n, length)).astype(np.int32)
    lengths = rng.integers(2, length + 1, n)
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = 101
    return np.where(mask == 1, ids, 0).astype(np.int32), mask


def test_compiled_vectors_equal_the_graph_for_any_shape(encoder_parts):
    model, pad_id = encoder_parts
    encoder = compiled.CompiledEncoder(model, compiled.Buckets.for_length(40, 4), pad_id)
    rng = np.random.default_rng(0)
    # 1 and 3 texts (padded to 1 and 4), 9 texts (past the largest batch: chunks of 4), and
    # lengths below, at and between buckets.
    for n, length in [(1, 7), (3, 16), (9, 33), (2, 40)]:
        ids, mask = _random_batch(rng, n, length)
        expected = compiled.sentence_vectors(model, tf.constant(ids), tf.constant(mask)).numpy()
        got = encoder(ids, mask).numpy()
        assert got.shape == (n, 384)
        np.testing.assert_allclose(got, expected, atol=2e-5)
    # Nine texts of one length bucket: more than the largest batch, so chunks of 4.
    ids, mask = np.full((9, 33), 2000, np.int32), np.ones((9, 33), np.int32)
    expected = compiled.sentence_vectors(model, tf.constant(ids), tf.constant(mask)).numpy()
    np.testing.assert_allclose(encoder(ids, mask).numpy(), expected, atol=2e-5)
    assert encoder(np.zeros((0, 5), np.int32), np.zeros((0, 5), np.int32)).shape == (0, 384)
    assert encoder.compiled.experimental_get_tracing_count() == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="longest bucket"):
        encoder(np.ones((1, 41), np.int32), np.ones((1, 41), np.int32))


def test_padding_rows_and_tokens_change_no_vector(encoder_parts):
    model, pad_id = encoder_parts
    encoder = compiled.CompiledEncoder(model, compiled.Buckets.for_length(32, 8), pad_id)
    ids, mask = _random_batch(np.random.default_rng(1), 3, 30)
    mask[:, :] = (np.arange(30)[None, :] < np.array([[5], [30], [12]])).astype(np.int32)
    ids = np.where(mask == 1, ids, pad_id).astype(np.int32)   # lengths 5, 30, 12: two buckets
    alone = [encoder(ids[i:i + 1], mask[i:i + 1]).numpy()[0] for i in range(3)]
    np.testing.assert_allclose(encoder(ids, mask).numpy(), np.stack(alone), atol=2e-5)


def test_embedders_of_one_model_share_the_compiled_encoder(encoder_parts):
    model, _ = encoder_parts
    embedder = text.TextEmbedder(use_cache=False)
    other = text.TextEmbedder.from_model(embedder.tokenizer, embedder.model, "copy",
                                         use_cache=False)
    assert other.compiled_encoder() is embedder.compiled_encoder()
    assert embedder.compiled_encoder(max_length=64) is not embedder.compiled_encoder()


def test_bfloat16_products_stay_within_1e_4_of_float32(encoder_parts):
    model, pad_id = encoder_parts
    buckets = compiled.Buckets.for_length(48, 8)
    exact = compiled.CompiledEncoder(model, buckets, pad_id)
    fast = compiled.CompiledEncoder(model, buckets, pad_id, precision="bfloat16")
    ids, mask = _random_batch(np.random.default_rng(2), 5, 40)
    cosines = np.sum(exact(ids, mask).numpy() * fast(ids, mask).numpy(), axis=1)
    assert np.all(cosines > 0.9995) and np.median(cosines) > 0.9999


def test_bfloat16_embedder_caches_apart_and_refuses_what_it_cannot_run(tmp_path, encoder_parts):
    embedder = text.TextEmbedder(cache_path=tmp_path / "f32.sqlite3")
    fast = text.TextEmbedder.from_model(embedder.tokenizer, embedder.model, embedder.name,
                                        precision="bfloat16")
    assert fast.name == f"{embedder.name}-bfloat16"
    assert fast.cache_path == text.default_cache_path(f"{embedder.name}-bfloat16")
    assert fast.cache_path != text.default_cache_path(embedder.name)
    texts = ["warm tone, stays in tune", "the strap broke after a week"]
    assert np.all(np.sum(fast.embed(texts) * embedder.embed(texts), axis=1) > 0.9995)
    with pytest.raises(ValueError, match="precision must be one of"):
        text.TextEmbedder.from_model(embedder.tokenizer, embedder.model, "x", precision="fp8")
    with pytest.raises(ValueError, match="needs compiled=True"):
        text.TextEmbedder.from_model(embedder.tokenizer, embedder.model, "x", compiled=False,
                                     precision="bfloat16")

    class NotBert:
        config = type("Config", (), {"model_type": "roberta", "hidden_size": 8})()

    with pytest.raises(ValueError, match="BERT encoder"):
        compiled.CompiledEncoder(NotBert(), compiled.Buckets.for_length(16, 2),
                                 precision="bfloat16")
