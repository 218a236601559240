"""Privacy: DP-SGD (clipping, noise, fast clipping), accounting, PII scrubbing, pseudonyms,
encryption at rest, forgetting a user, and the membership-inference audit."""

import math

import dp_accounting
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.helpers import reviews as make_reviews
from textrec import privacy
from textrec.data import schema, splits
from textrec.data.cleaning import clean_reviews
from textrec.data.prepare import PreparedData, _items_from_reviews
from textrec.models.joint import REVIEW_VECTOR
from textrec.models.towers import QUERY_VECTOR
from textrec.text.cache import EmbeddingCache, text_key

# ---------------------------------------------------------------- DP-SGD


class LinearRegression(tf.keras.Model):
    """y = x . w + b with squared error: small enough to differentiate by hand."""

    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(1, kernel_initializer="zeros")

    def call(self, features):
        return tf.squeeze(self.dense(features["x"]), -1)

    def per_example_losses(self, features):
        return tf.square(self(features) - features["y"])


def _linear_batch():
    x = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 4.0]], np.float32)
    y = np.array([1.0, -2.0, 0.1, 3.0], np.float32)
    return {"x": x, "y": y}


def test_clipping_bounds_every_per_example_gradient_norm():
    rng = np.random.default_rng(0)
    per_example = [tf.constant(rng.normal(0, s, (32, 5, 3)), tf.float32) for s in (0.1, 3.0)]
    per_example.append(tf.constant(rng.normal(0, 1, (32, 7)), tf.float32))
    for clip in (0.01, 0.5, 4.0):
        factors = privacy.clip_factors(privacy.global_norms(per_example), clip)
        clipped = [g * tf.reshape(factors, [-1] + [1] * (g.shape.rank - 1)) for g in per_example]
        assert float(tf.reduce_max(privacy.global_norms(clipped))) <= clip * (1 + 1e-5)
    # A gradient already inside the ball is left alone, and a zero gradient stays zero.
    assert np.allclose(privacy.clip_factors(tf.constant([0.0, 0.3, 2.0]), 1.0), [1, 1, 0.5])


@pytest.mark.parametrize("clipping", privacy.CLIPPING_METHODS)
def test_dp_sgd_without_noise_is_sgd_on_clipped_per_example_gradients(clipping):
    batch = _linear_batch()
    clip, learning_rate, expected_batch_size = 1.5, 0.1, 5.0
    # By hand, from w = 0, b = 0: the residual of each example is r_i = 0 - y_i, its gradient
    # is 2 r_i [x_i, 1], clipped to norm 1.5; the update is -lr * sum / expected batch size.
    residual = -batch["y"]
    grads = 2 * residual[:, None] * np.c_[batch["x"], np.ones(4)]
    norms = np.linalg.norm(grads, axis=1)
    clipped = grads * np.minimum(1.0, clip / norms)[:, None]
    expected = -learning_rate * clipped.sum(0) / expected_batch_size

    model = LinearRegression()
    model(batch)
    dp_model = privacy.DPModel(model, l2_norm_clip=clip, noise_multiplier=0.0,
                               expected_batch_size=expected_batch_size, clipping=clipping, seed=0)
    dp_model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate))
    dataset = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()})
    logs = dp_model.fit(dataset, epochs=1, verbose=0).history
    kernel, bias = (v.numpy().ravel() for v in model.dense.weights)
    assert np.allclose(np.r_[kernel, bias], expected, atol=1e-6)
    assert logs["units"] == [4.0] and logs["clipped_fraction"] == [float((norms > clip).mean())]


def test_noise_has_standard_deviation_sigma_times_clip_over_expected_batch_size():
    # An empty batch: the DP gradient is pure noise, N(0, (sigma C / B)^2) per coordinate.
    head = privacy.SentimentHead()
    head({REVIEW_VECTOR: tf.zeros([1, 299])})  # 300 weights
    generator = tf.random.Generator.from_seed(7)
    empty = {REVIEW_VECTOR: tf.zeros([0, 299]), privacy.LABEL: tf.zeros([0])}
    draws = np.concatenate([
        np.concatenate([g.numpy().ravel() for g in privacy.dp_gradients(
            head.per_example_losses, head.trainable_variables, empty, l2_norm_clip=0.7,
            noise_multiplier=1.3, expected_batch_size=2.0, generator=generator)[0]])
        for _ in range(100)])
    # 30,000 draws: the sample std is within 0.4% (one standard error) of 0.455; allow 2%.
    assert draws.size == 30_000
    assert abs(draws.std() / (1.3 * 0.7 / 2.0) - 1) < 0.02 and abs(draws.mean()) < 0.01
    # The stand-alone helper, on a large tensor.
    noise = privacy.add_noise([tf.zeros([200_000])], 2.0, 0.25, tf.random.Generator.from_seed(1))
    assert abs(float(tf.math.reduce_std(noise[0])) / 0.5 - 1) < 0.01


def _sentiment_batch(n=12, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    return {REVIEW_VECTOR: rng.normal(size=(n, dim)).astype(np.float32),
            privacy.LABEL: rng.integers(0, 2, n).astype(np.float32)}


def _retrieval_batch(item_ids, n=20, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    return {QUERY_VECTOR: rng.normal(size=(n, dim)).astype(np.float32),
            schema.ITEM: rng.choice(item_ids, n).astype(object)}


def _compare_fast_with_reference(model, batch, clip=0.5):
    features, mask = privacy.as_units(batch)
    variables = model.trainable_variables
    _, per_unit = privacy.per_unit_gradients(model.per_example_losses, variables, features, mask)
    reference, reference_norms = privacy.clipped_sum(per_unit, clip)
    _, fast, fast_norms = privacy.ghost_clipped_sum(model, model.per_example_losses, variables,
                                                    features, mask, clip)
    assert np.allclose(fast_norms, reference_norms, rtol=1e-4, atol=1e-5)
    for a, b in zip(fast, reference):
        assert np.allclose(a, b, atol=1e-5)
    assert float(tf.reduce_max(reference_norms)) > clip  # clipping really happened


def test_fast_clipping_equals_the_vectorised_reference_on_a_sentiment_mlp():
    head = privacy.SentimentHead(hidden_units=(5,))
    batch = _sentiment_batch()
    head(batch)
    _compare_fast_with_reference(head, batch)


@pytest.mark.parametrize("user_level", [False, True])
def test_fast_clipping_equals_the_reference_on_two_towers(user_level):
    items = [f"item{i}" for i in range(9)]
    descriptions = (np.array(items, object), np.random.default_rng(1).normal(size=(9, 6)))
    model = privacy.retrieval_model(items, text_dim=6, embedding_dim=4,
                                    item_text_vectors=descriptions, hidden_units=(5,))
    features = _retrieval_batch(items)
    units = np.repeat(np.arange(5), 4) if user_level else None
    dataset = privacy.poisson_batches(features, 1.0, 1, units=units,
                                      map_batch=privacy.negative_sampler(items, 3))
    batch = next(iter(dataset))
    privacy.build(model, features)
    # Several rows per unit look up the same item: the embedding norms must add them first.
    _compare_fast_with_reference(model, batch)


def test_fast_clipping_refuses_layers_it_cannot_handle():
    model = tf.keras.Sequential([tf.keras.layers.Dense(3), tf.keras.layers.LayerNormalization()])
    model(tf.zeros([1, 2]))
    with pytest.raises(ValueError, match="vectorized"):
        privacy.trainable_leaf_layers(model)


def test_poisson_batches_sample_units_independently_at_rate_q():
    features = {"x": np.arange(1000, dtype=np.float32)}
    sizes = [int(b["x"].shape[0]) for b in privacy.poisson_batches(features, 0.1, 200, seed=3)]
    assert abs(np.mean(sizes) - 100) < 3 and np.std(sizes) > 5  # Binomial(1000, 0.1): sd 9.5
    users = np.repeat(np.arange(10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    batch = next(iter(privacy.poisson_batches({"x": np.arange(55, dtype=np.float32)}, 1.0, 1,
                                              units=users, max_examples_per_unit=4)))
    mask = batch[privacy.UNIT_MASK].numpy()
    assert mask.shape == (10, 4) and mask.sum(1).tolist() == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
    rows = batch["x"].numpy()
    assert all(set(users[rows[u][mask[u] > 0].astype(int)]) == {u} for u in range(10))


def test_dp_model_trains_through_fit_with_user_level_batches():
    items = [f"item{i}" for i in range(9)]
    features = _retrieval_batch(items, n=60)
    model = privacy.retrieval_model(items, text_dim=6, embedding_dim=4)
    privacy.build(model, features)
    before = [v.numpy().copy() for v in model.trainable_variables]
    dp_model, history = privacy.train(
        model, features, sampling_rate=0.5, epochs=2, noise_multiplier=1.0,
        units=np.arange(60) // 3, map_batch=privacy.negative_sampler(items, 3), clipping="ghost")
    assert dp_model.steps == 4 and np.isfinite(history.history["loss"]).all()
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.trainable_variables))

# ---------------------------------------------------------------- accounting


def test_epsilon_grows_with_steps_and_sampling_rate_and_shrinks_with_noise():
    base = privacy.epsilon(1.0, 0.01, 1000, 1e-5)
    assert privacy.epsilon(1.0, 0.01, 4000, 1e-5) > base
    assert privacy.epsilon(1.0, 0.04, 1000, 1e-5) > base
    assert privacy.epsilon(2.0, 0.01, 1000, 1e-5) < base
    assert privacy.epsilon(0.0, 0.01, 1000, 1e-5) == math.inf
    with pytest.raises(ValueError):
        privacy.epsilon(1.0, 1.5, 10, 1e-5)


def test_epsilon_matches_dp_accounting_and_the_published_reference_point():
    # TF Privacy's MNIST example: noise 1.1, batch 256 of 60,000, 60 epochs, delta 1e-5.
    q = 256 / 60_000
    steps = privacy.steps_for_epochs(60, q)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(1.1)), steps)
    direct = {"rdp": dp_accounting.rdp.RdpAccountant(),
              "pld": dp_accounting.pld.PLDAccountant(value_discretization_interval=1e-3)}
    for name, accountant in direct.items():
        accountant.compose(event)
        assert privacy.epsilon(1.1, q, steps, 1e-5, name) == pytest.approx(
            accountant.get_epsilon(1e-5), rel=1e-9)
    assert abs(privacy.epsilon(1.1, q, steps, 1e-5) - 2.60) < 0.05
    assert privacy.epsilon(1.1, q, steps, 1e-5, "pld") < privacy.epsilon(1.1, q, steps, 1e-5)


def test_noise_multiplier_for_a_target_epsilon_is_the_inverse():
    sigma = privacy.noise_multiplier_for_epsilon(2.0, 0.05, 400, 1e-5)
    assert privacy.epsilon(sigma, 0.05, 400, 1e-5) == pytest.approx(2.0, abs=0.01)
    assert privacy.epsilon(sigma * 0.95, 0.05, 400, 1e-5) > 2.0
    budget = privacy.PrivacyBudget.for_epsilon(8.0, 1000, 0.05, 400, 1e-5, unit="user")
    assert budget.expected_batch_size == 50 and budget.epochs == 20
    assert "user-level" in budget.summary()

# ---------------------------------------------------------------- PII


PII_EXAMPLES = [
    ("Email me at john.doe@example.com for details", "EMAIL"),
    ("contact: jane_smith+music@mail.co.uk.", "EMAIL"),
    ("Call me at (555) 123-4567 anytime", "PHONE"),
    ("my cell is 555-123-4567", "PHONE"),
    ("phone 555.123.4567", "PHONE"),
    ("reach me on +1 555 123 4567", "PHONE"),
    ("UK number +44 20 7946 0958", "PHONE"),
    ("see https://www.example.com/my-page?id=3 for pics", "URL"),
    ("photos at www.flickr.com/photos/bob", "URL"),
    ("my soundcloud @ soundcloud.com/ljaymusic. Really dope", "URL"),
    ("my card 4111 1111 1111 1111 was charged", "CARD"),
    ("card number 5500-0000-0000-0004 oops", "CARD"),
    ("server at 192.168.1.20 was down", "IP"),
    ("ipv6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", "IP"),
    ("follow me @guitar_hero99 on twitter", "HANDLE"),
    ("ship to 1234 Elm Street please", "ADDRESS"),
    ("I live at 42 N. Main St. Apt 4B, Springfield", "ADDRESS"),
    ("send it to P.O. Box 123", "ADDRESS"),
    ("my SSN 123-45-6789 leaked", "SSN"),
]
ORDINARY_TEXT = [
    "Great mic for $19.99, better than my SM-58.",
    "The DD-3 delay runs on a 9V battery.",
    "Bought it on 02/28/2014 and it still works.",
    'The 1/4" jack is 6.35 mm; the cable is 10 ft long.',
    "Firmware v2.1.3 fixed it; I bought it on Amazon.com and it lasted 2 years.",
    "Version 1.0.0.1 works fine.",
    "Rated 4.5 out of 5, 100% recommended, 1,200 watts.",
    "Order #123456789 arrived in 3-5 days.",
    "The Boss BD-2 Blues Driver and the TS-808 are both great.",
    "It's 12 x 8 x 3 inches and weighs 2.5 lbs; strings 10-46, tuned to 440 Hz.",
    "Uses 3 AA batteries @ 1.5V each; I emailed the seller @ their site.",
    "Part 4111-2, ISBN 978-0-306-40615-7, a 4111111111111112 serial (fails Luhn).",
    "I tried the Joyo JF-02 Ultimate Drive and 2 Fender Strats.",
]


@pytest.mark.parametrize("text,kind", PII_EXAMPLES)
def test_scrubber_replaces_each_kind_of_pii(text, kind):
    result = privacy.scrub_text(text)
    assert f"[{kind}]" in result.text and dict(result.counts) == {kind: 1}


def test_scrubber_leaves_ordinary_review_text_alone():
    for text in ORDINARY_TEXT:
        assert privacy.scrub_text(text).text == text


def test_luhn_and_scrub_reviews_counts():
    assert privacy.luhn_valid("4111111111111111") and not privacy.luhn_valid("4111111111111112")
    frame = make_reviews([("u1", "i1", 5, "mail a@b.com or call 555-123-4567", 1),
                          ("u2", "i1", 4, "Nice strings for $5.99", 2)])
    scrubbed, report = privacy.scrub_reviews(frame)
    assert scrubbed[schema.TEXT].tolist() == ["mail [EMAIL] or call [PHONE]",
                                              "Nice strings for $5.99"]
    assert report.counts["EMAIL"] == 1 and report.counts["PHONE"] == 1 and report.rows_changed == 1

# ---------------------------------------------------------------- pseudonyms


def test_pseudonyms_are_stable_under_a_key_and_differ_under_another(monkeypatch):
    key, other = "k" * 32, "z" * 32
    first = privacy.pseudonymize("A2IBPI20UZIR0U", key)
    assert first == privacy.pseudonymize("A2IBPI20UZIR0U", key)
    assert first != privacy.pseudonymize("A2IBPI20UZIR0U", other)
    assert first != privacy.pseudonymize("A14VAT5EAX3D9S", key)
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, key)
    frame = make_reviews([("u1", "i1", 5, "a", 1), ("u1", "i2", 4, "b", 2),
                          ("u2", "i1", 3, "c", 3)])
    frame["reviewerName"] = ["Ann", "Ann", "Bob"]
    out = privacy.pseudonymize_reviews(frame)
    assert "reviewerName" not in out and out[schema.USER].nunique() == 2
    assert out[schema.USER].iloc[0] == out[schema.USER].iloc[1] == privacy.pseudonymize("u1", key)
    assert not set(out[schema.USER]) & {"u1", "u2"}


def test_pseudonym_key_errors(monkeypatch, tmp_path):
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV + "_FILE", raising=False)
    with pytest.raises(privacy.MissingKeyError, match="TEXTREC_PSEUDONYM_KEY"):
        privacy.pseudonymize("u1")
    with pytest.raises(ValueError, match="at least 16"):
        privacy.pseudonymize("u1", "short")
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text("f" * 40 + "\n")
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV + "_FILE", str(key_file))
    assert privacy.pseudonymize("u1") == privacy.pseudonymize("u1", "f" * 40)
    from textrec import config

    inside = config._checkout_root() / "pyproject.toml"
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV + "_FILE", str(inside))
    with pytest.raises(ValueError, match="inside the repository"):
        privacy.pseudonymize("u1")

# ---------------------------------------------------------------- encryption


def test_encryption_round_trip_and_key_errors(monkeypatch, tmp_path):
    monkeypatch.delenv(privacy.ENCRYPTION_KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.ENCRYPTION_KEY_ENV + "_FILE", raising=False)
    folder = tmp_path / "prepared"
    folder.mkdir()
    table = pd.DataFrame({schema.USER: ["u1", "u2"], schema.TEXT: ["secret words", "more"]})
    table.to_parquet(folder / "reviews.parquet", index=False)
    (folder / "stats.json").write_text('{"users": 2}')
    key = privacy.generate_key()
    with pytest.raises(privacy.MissingKeyError, match="TEXTREC_ENCRYPTION_KEY"):
        privacy.encrypt_folder(folder)
    with pytest.raises(ValueError, match="not a Fernet key"):
        privacy.encrypt_folder(folder, key="not-a-key")
    encrypted = privacy.encrypt_folder(folder, key)
    assert sorted(p.name for p in folder.iterdir()) == ["reviews.parquet.enc", "stats.json.enc"]
    assert all(b"secret words" not in p.read_bytes() for p in encrypted)
    with pytest.raises(privacy.WrongKeyError, match="wrong key"):
        privacy.read_parquet(folder / "reviews.parquet.enc", privacy.generate_key())
    with pytest.raises(privacy.WrongKeyError, match="wrong key"):
        privacy.decrypt_folder(folder, privacy.generate_key())
    assert sorted(p.name for p in folder.iterdir()) == ["reviews.parquet.enc", "stats.json.enc"]
    monkeypatch.setenv(privacy.ENCRYPTION_KEY_ENV, key)
    pd.testing.assert_frame_equal(privacy.read_parquet(folder / "reviews.parquet.enc"), table)
    privacy.decrypt_folder(folder)
    assert (folder / "stats.json").read_text() == '{"users": 2}'

# ---------------------------------------------------------------- forgetting


class HashEmbedder:
    """A stand-in encoder: a fixed random unit vector per text, cached like TextEmbedder."""

    dim = 8

    def __init__(self, cache_path):
        self.cache = EmbeddingCache(cache_path, self.dim)

    def embed(self, texts):
        vectors = np.stack([np.random.default_rng(int(text_key(t)[:8], 16)).normal(size=8)
                            for t in texts]).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self.cache.put_many([text_key(t) for t in texts], vectors, [False] * len(texts), 64)
        return vectors


def _tiny_prepared_data():
    rows = [(f"user{u}", f"item{(u * 3 + k) % 7}", 1 + (u + k) % 5,
             f"review {k} by user{u}: the strings on item{(u * 3 + k) % 7} sound fine", k)
            for u in range(6) for k in range(4)]
    rows += [("ZZforgetme", f"item{k}", 5, f"My band Velvet Harmonica {k} loves this pedal", k)
             for k in range(4)]
    clean, report = clean_reviews(make_reviews(rows))
    split = splits.leave_last_out(clean)
    return PreparedData("tiny", clean, _items_from_reviews(clean), split, None, report)


def test_forgetting_a_user_leaves_no_trace_in_any_saved_artefact(tmp_path):
    data = _tiny_prepared_data()
    cache_path = tmp_path / "cache" / "encoder.sqlite3"
    embedder = HashEmbedder(cache_path)
    embedder.embed(data.reviews[schema.TEXT].tolist())  # every text was embedded once
    folder = tmp_path / "artefacts"
    written = privacy.build_artefacts(data, embedder, folder)
    needles = privacy.user_needles(data.reviews, "ZZforgetme")
    assert len(needles) == 1 + 2 * 4
    before = privacy.search_artefacts([*written, cache_path], needles)
    assert set(before["needle"]) == set(needles)  # the search does find them when present

    forgotten = privacy.remove_user(data, "ZZforgetme")
    texts = data.reviews.loc[data.reviews[schema.USER] == "ZZforgetme", schema.TEXT]
    assert privacy.forget_cache_entries(cache_path, texts) == 4
    written = privacy.build_artefacts(forgotten, HashEmbedder(cache_path), folder)
    after = privacy.search_artefacts([*written, cache_path], needles)
    assert after.empty, after
    assert len(EmbeddingCache(cache_path, 8)) == len(set(forgotten.reviews[schema.TEXT]))

# ---------------------------------------------------------------- audit


def test_loss_threshold_attack_auc():
    rng = np.random.default_rng(0)
    same = privacy.loss_threshold_attack(rng.exponential(size=4000), rng.exponential(size=5000))
    assert abs(same["auc"] - 0.5) < 0.03 and same["members"] == same["nonmembers"] == 4000
    apart = privacy.loss_threshold_attack([0.1, 0.2, 0.3], [1.0, 2.0, 3.0])
    assert apart["auc"] == 1.0 and apart["advantage"] == 1.0
    scores = np.array([[2.0, 0.0], [0.0, 1.0]])
    assert np.allclose(privacy.full_softmax_losses(scores, [0, 1], [0, 0]),
                       [np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0))])


def test_the_export_falls_back_to_a_random_installation_key(monkeypatch):
    from textrec import export

    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV + "_FILE", raising=False)
    secret, source = export.resolve_pseudonym_key()
    assert secret != privacy.demo_key(42).encode()
    assert str(privacy.installation_key_path()) in source
    monkeypatch.setenv(privacy.PSEUDONYM_KEY_ENV, "a-configured-key-0123456789")
    assert export.resolve_pseudonym_key() == (b"a-configured-key-0123456789", "configured")
