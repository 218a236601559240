"""Approximate retrieval (lesson 11): the faiss wrapper keeps the course's guarantees (no seen
item, exactly k, exact scores), and the export serves through the index inside its graph."""

import numpy as np
import pytest

pytest.importorskip("faiss")

from textrec import ranking  # noqa: E402
from textrec.models import ann  # noqa: E402


def clustered(n=4000, dim=16, clusters=40, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def index():
    vectors = clustered()
    return ann.AnnIndex([f"item{i}" for i in range(len(vectors))], vectors, n_lists=64,
                        n_probe=4, seed=1)


def rows_of(index, ids):
    position = {item: row for row, item in enumerate(index.item_ids)}
    return np.vectorize(lambda item: position.get(item, -1), otypes=[np.int64])(ids)


def test_no_seen_item_and_exactly_k(index):
    rng = np.random.default_rng(2)
    queries = clustered(50, seed=3)
    seen = [rng.choice(len(index), int(rng.integers(0, 300)), replace=False) for _ in queries]
    scores, ids = index.recommend(queries, k=10, exclude=seen)
    rows = rows_of(index, ids)
    assert ids.shape == (50, 10) and (ids != "").all()
    assert all(not set(row) & set(excluded) for row, excluded in zip(rows, seen))
    # The scores are the exact dot products of the returned items, best first.
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, index.vectors[rows]),
                               rtol=1e-5, atol=1e-6)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_every_list_probed_is_the_exact_top_k(index):
    queries = clustered(30, seed=4)
    index.set_probe(index.n_lists)
    try:
        _, ids = index.recommend(queries, k=10)
    finally:
        index.set_probe(4)
    exact = ranking.topk_items(queries @ index.vectors.T, 10)
    assert ann.recall_at_k(rows_of(index, ids), exact) == 1.0


def test_a_query_the_probed_lists_cannot_fill_falls_back_to_exact(index):
    # One list probed, and that query's whole list excluded: only the exact top-k can fill it.
    query = index.vectors[:1]
    index.set_probe(1)
    try:
        _, found = index.search(query, len(index))
        listed = found[0][found[0] >= 0]
        _, ids = index.recommend(query, k=10, exclude=[listed])
        assert index.last_fallbacks == 1
    finally:
        index.set_probe(4)
    rows = rows_of(index, ids)[0]
    assert len(set(rows)) == 10 and not set(rows) & set(listed)
    want = index.exact(query, 10, exclude=[listed])[0]
    assert set(rows) == set(want)


def test_fewer_unseen_items_than_k_pads_as_the_exact_top_k_does():
    vectors = clustered(50, seed=5)
    small = ann.AnnIndex(range(50), vectors, n_lists=1, n_probe=1)
    _, ids = small.recommend(vectors[:1], k=10, exclude=[np.arange(45)])
    assert sorted(ids[0][:5]) == ["45", "46", "47", "48", "49"] and list(ids[0][5:]) == [""] * 5


def test_bad_input_is_refused(index):
    with pytest.raises(ValueError, match="n_probe must be between 1 and n_lists=64"):
        index.set_probe(65)
    with pytest.raises(ValueError, match=r"queries must be \[n, 16\]"):
        index.recommend(np.zeros((2, 8), np.float32), k=3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.recommend(np.zeros((2, 16), np.float32), k=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        ann.AnnIndex(["a", "b"], np.array([[1.0, np.nan], [0.0, 1.0]], np.float32), n_lists=1)
    with pytest.raises(ValueError, match="2 item ids but vectors of shape"):
        ann.AnnIndex(["a", "b"], np.ones((3, 2), np.float32))


def test_the_export_serves_through_the_index(trained_export):
    """The module probes faiss's lists itself: with every list probed it equals the exact
    export; with one, it never returns a seen item and fills every row."""
    import tensorflow as tf

    from textrec import export

    parts = export.ServingParts(trained_export.model, trained_export.user_text,
                                trained_export.item_text, trained_export.train,
                                trained_export.review_vectors, trained_export.embedder)
    users = trained_export.pseudonyms(trained_export.user_text.ids)
    k = tf.fill([len(users)], 10)
    exact, _ = export.build_module(parts, pseudonym_key=trained_export.key,
                                   compiled_encoder=False)
    want = exact.recommend_user(tf.constant(users), k)
    n_lists = 6
    everything, facts = export.build_module(parts, pseudonym_key=trained_export.key,
                                            compiled_encoder=False,
                                            ann=ann.AnnSettings(n_lists=n_lists,
                                                                n_probe=n_lists))
    assert facts["retrieval"]["n_probe"] == n_lists
    assert facts["retrieval"]["recall@10 vs exact (known users)"] == 1.0
    got = everything.recommend_user(tf.constant(users), k)
    np.testing.assert_array_equal(np.sort(got["item_ids"].numpy(), axis=1),
                                  np.sort(want["item_ids"].numpy(), axis=1))
    np.testing.assert_allclose(got["scores"].numpy(), want["scores"].numpy(), rtol=1e-5,
                               atol=1e-5)
    one, facts = export.build_module(parts, pseudonym_key=trained_export.key,
                                     compiled_encoder=False,
                                     ann=ann.AnnSettings(n_lists=n_lists, n_probe=1))
    got = one.recommend_user(tf.constant(users), k)["item_ids"].numpy().astype(str)
    seen = trained_export.train.groupby("user_id")["item_id"].agg(set)
    n_items = len(trained_export.item_text.ids)
    for user, row in zip(trained_export.user_text.ids, got):
        wanted = min(10, n_items - len(seen.get(user, ())))
        assert (row[:wanted] != "").all() and not set(row) & seen.get(user, set())
    assert facts["retrieval"]["library"].startswith("faiss ")


@pytest.mark.slow
def test_an_export_with_the_index_saves_reloads_and_says_so(trained_export, tmp_path):
    from textrec import export

    parts = export.ServingParts(trained_export.model, trained_export.user_text,
                                trained_export.item_text, trained_export.train,
                                trained_export.review_vectors, trained_export.embedder)
    info = export.export_recommender(parts, tmp_path, export.ExportSettings(
        pseudonym_key=trained_export.key, compiled_encoder=False,
        ann=ann.AnnSettings(n_lists=6, n_probe=2)))
    assert info.card["model"]["retrieval"]["n_lists"] == 6
    assert "approximate index built by faiss" in (info.path / "model_card.md").read_text()
    loaded = export.load_export(info.path.parent)
    users = trained_export.pseudonyms(trained_export.user_text.ids[:5])
    got = export.call_signature(loaded, "recommend_user", user_id=users, k=[10] * 5)
    assert np.asarray(got["item_ids"]).shape == (5, 10)
    assert (np.asarray(got["item_ids"]).astype(str) != "").all()
