"""The exported SavedModel against the in-memory model it came from.

One small model is trained and exported per session (``trained_export`` in conftest.py).
"""

import numpy as np
import pytest
import tensorflow as tf

from textrec import export
from textrec.data import schema
from textrec.export import reference


# The shared trained-export fixture alone trains a model and writes a SavedModel.
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def loaded(trained_export):
    return export.load_export(trained_export.path.parent)


def _some_users(trained, n=8):
    return [str(u) for u in trained.user_text.ids[:n]]


def test_layout_and_card(trained_export):
    path = trained_export.path
    assert path.name == "1" and path.parent.name == "textrec"
    assert (path / "saved_model.pb").is_file() and (path / "model_card.md").is_file()
    card = export.read_card(path)
    assert card["metrics"] == {"validation ndcg@10": 0.123}
    assert card["model"]["tokenizer_check"]["mismatches"] == 0
    assert card["model"]["users"] == len(trained_export.user_text.ids)
    assert card["limits"]["max_k"] == 20
    assert "not trained with DP-SGD" in (path / "model_card.md").read_text()


def test_signatures(loaded):
    assert {"recommend_user", "recommend_text", "embed_text", "serving_default"} <= set(
        loaded.signatures)
    inputs = loaded.signatures["recommend_text"].structured_input_signature[1]
    assert inputs["text"].shape.as_list() == [None, None] and inputs["k"].dtype == tf.int32


def test_recommend_user_matches_the_model(trained_export, loaded):
    users = _some_users(trained_export)
    got = export.call_signature(loaded, "recommend_user", user_id=trained_export.pseudonyms(users),
                                k=[10] * len(users))
    scores, ids = reference.recommend_user(trained_export.model, trained_export.item_text.ids,
                                           users, 10, trained_export.train)
    np.testing.assert_array_equal(got["item_ids"], ids)
    np.testing.assert_allclose(got["scores"], scores, rtol=1e-5, atol=1e-5)
    assert got["known_user"].all()


def test_seen_items_are_never_returned(trained_export, loaded):
    users = [str(u) for u in trained_export.user_text.ids]
    got = export.call_signature(loaded, "recommend_user", user_id=trained_export.pseudonyms(users),
                                k=[20] * len(users))
    seen = reference.seen_items(trained_export.train)
    for user, row in zip(users, got["item_ids"]):
        assert not (set(row) & seen.items_of(user)), user
        assert "" not in row  # every user has more than 20 unseen items here


def test_recommend_text_matches_the_model(trained_export, loaded):
    user = _some_users(trained_export, 1)[0]
    rows = [("", ["warm tone, the strings stay in tune", ""]),
            (user, ["this pedal hums and broke in a week", "great value"])]
    got = export.call_signature(
        loaded, "recommend_text", text=[texts for _, texts in rows],
        user_id=["", trained_export.pseudonyms([user])[0]], k=[10, 10])
    scores, ids = reference.recommend_text(
        trained_export.model, trained_export.embedder, trained_export.item_text.ids, rows, 10,
        trained_export.train, trained_export.train, trained_export.review_vectors)
    np.testing.assert_array_equal(got["item_ids"], ids)
    np.testing.assert_allclose(got["scores"], scores, rtol=1e-4, atol=1e-4)
    assert got["known_user"].tolist() == [False, True]


def test_a_row_with_no_text_is_refused_naming_the_rows(trained_export, loaded):
    # A known user without text is served by recommend_user; recommend_text needs text.
    user = trained_export.pseudonyms(_some_users(trained_export, 1))[0]
    texts = [["fine", ""], ["", "  "], ["", "\t\n"], ["", "a"]]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"rows with no text \(every string empty or blank\):\] \[1 2\]"):
        export.call_signature(loaded, "recommend_text", text=texts, user_id=["", user, "", ""],
                              k=[3] * 4)


def test_a_new_review_changes_recommendations_at_once(trained_export, loaded):
    user = trained_export.pseudonyms(_some_users(trained_export, 1))[0]
    before = export.call_signature(loaded, "recommend_user", user_id=[user], k=[10])
    after = export.call_signature(
        loaded, "recommend_text", user_id=[user], k=[10],
        text=[["I only play drums now: sticks, cymbals and a practice pad are all I want."] * 4])
    assert before["item_ids"][0].tolist() != after["item_ids"][0].tolist()


def test_embed_text_matches_the_embedder(trained_export, loaded):
    texts = ["Great strings, bright tone.", "Ünïcödé café " * 40]
    got = export.call_signature(loaded, "embed_text", text=texts)["vectors"]
    np.testing.assert_allclose(got, trained_export.embedder.embed(texts), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"rows with no text \(empty or blank strings\):\] \[1 2\]"):
        export.call_signature(loaded, "embed_text", text=["ok", "", "   "])


def test_k_per_row_and_unknown_users(trained_export, loaded):
    got = export.call_signature(loaded, "recommend_user", user_id=["u_nobody", "raw-id"],
                                k=[3, 5])
    assert got["item_ids"].shape == (2, 5)
    assert got["item_ids"][0, 3:].tolist() == ["", ""] and np.all(np.isinf(got["scores"][0, 3:]))
    assert got["known_user"].tolist() == [False, False]
    empty = export.call_signature(loaded, "recommend_user", user_id=[], k=[])
    assert empty["item_ids"].shape[0] == 0


@pytest.mark.parametrize("inputs, message", [
    (dict(user_id=["a"], k=[0]), "k must be at least 1"),
    (dict(user_id=["a"], k=[21]), "k must be at most max_k=20"),
    (dict(user_id=["a", "b"], k=[3]), "one value per row"),
])
def test_bad_requests_raise_invalid_argument(loaded, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        export.call_signature(loaded, "recommend_user", **inputs)


def test_no_review_text_or_raw_ids_in_the_export(trained_export):
    texts = trained_export.train[schema.TEXT].tolist()
    raw_ids = [str(u) for u in trained_export.user_text.ids]
    assert export.find_strings(trained_export.path, texts + raw_ids) == []
    # The search does find what is there: item ids and pseudonyms.
    items = [str(i) for i in trained_export.item_text.ids[:5]]
    pseudonyms = trained_export.pseudonyms(raw_ids[:5])
    found = export.find_strings(trained_export.path, items + pseudonyms)
    assert found == sorted(items + pseudonyms)


def test_fresh_process_with_only_tensorflow_gives_the_same_results(trained_export, loaded):
    users = trained_export.pseudonyms(_some_users(trained_export, 3))
    requests = [{"signature": "recommend_user", "inputs": {"user_id": users, "k": [5, 5, 5]}},
                {"signature": "recommend_text",
                 "inputs": {"text": [["bright strings"]], "user_id": [""], "k": [5]}}]
    fresh = export.run_in_fresh_process(trained_export.path, requests)
    assert fresh["textrec_modules"] == []
    for request, result in zip(requests, fresh["results"]):
        here = export.call_signature(loaded, request["signature"], **request["inputs"])
        assert result["outputs"]["item_ids"] == here["item_ids"].tolist()
        np.testing.assert_array_equal(np.array(result["outputs"]["scores"], np.float32),
                                      here["scores"])


def test_the_compiled_encoder_warms_up_every_bucket_and_equals_the_graph(trained_export, loaded,
                                                                        tmp_path):
    compiled = export.read_card(trained_export.path)["model"]["compiled_encoder"]
    assert compiled == {"xla": True, "lengths": [16, 32, 48, 64], "batch_sizes": [1, 2, 4, 8, 16]}
    assert "warm_up" not in loaded.signatures          # not a request a client can send
    assert export.warm_up(loaded)["shapes"] == 4 * 5
    # The same model exported with TensorFlow's graph encoder gives the same vectors.
    parts = export.ServingParts(trained_export.model, trained_export.user_text,
                                trained_export.item_text, trained_export.train,
                                trained_export.review_vectors, trained_export.embedder)
    info = export.export_recommender(parts, tmp_path, export.ExportSettings(
        pseudonym_key=trained_export.key, max_k=20, compiled_encoder=False))
    graph = export.load_export(info.path)
    assert export.warm_up(graph)["shapes"] == 0
    assert info.card["model"]["compiled_encoder"] == {"xla": False}
    texts = ["bright strings", "the case " * 40, "a", *["ok then"] * 20]   # 23: two chunks
    np.testing.assert_allclose(export.call_signature(loaded, "embed_text", text=texts)["vectors"],
                               export.call_signature(graph, "embed_text", text=texts)["vectors"],
                               atol=2e-5)


def test_versions_count_up(trained_export, tmp_path):
    from textrec.export.build import next_version

    assert next_version(trained_export.path.parent) == 2
    assert export.version_folder(trained_export.path.parent) == trained_export.path
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        export.version_folder(tmp_path)


def test_tokenizer_matches_hugging_face_on_hard_text(trained_export):
    tokenizer = trained_export.embedder.tokenizer
    graph = export.GraphTokenizer(export.tokenizer.wordpiece_vocabulary(tokenizer), 32)
    texts = ["", "  ", "Café naïve résumé", "DON'T!!! buy... 100% $$$", "日本語 テキスト",
             "emoji 😀 test", "a" * 500, "x " * 100, "<b>html</b> &amp;", "tab\there\nnew",
             "\u200bzero width", "ÀÉÎ Ünïcödé"]
    assert export.compare_with_hf(graph, tokenizer, texts) == 0
    ids, mask = graph(tf.constant(texts))
    assert ids.shape[1] == 32 and int(mask.numpy().sum(axis=1).max()) == 32
