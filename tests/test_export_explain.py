"""The export's ``explain`` signature against the model's own embeddings (lesson 09)."""

import numpy as np
import pytest

from textrec import export

pytestmark = pytest.mark.slow  # the shared trained-export fixture trains and exports a model


@pytest.fixture(scope="module")
def loaded(trained_export):
    return export.load_export(trained_export.path.parent)


def _candidate_embeddings(trained):
    from textrec import models

    return np.asarray(models.candidate_embeddings(trained.model.candidate_model,
                                                  trained.item_text.ids), np.float32)


def test_explain_cites_the_seen_items_closest_to_the_item(trained_export, loaded):
    from textrec.data import schema

    users = [str(u) for u in trained_export.user_text.ids[:6]]
    recommended = export.call_signature(loaded, "recommend_user",
                                        user_id=trained_export.pseudonyms(users), k=[1] * 6)
    items = [row[0] for row in recommended["item_ids"]]
    got = export.call_signature(loaded, "explain", user_id=trained_export.pseudonyms(users),
                                item_id=items, n=[3] * 6)
    # the item's score is the one recommend_user ranked it by
    np.testing.assert_allclose(got["score"], recommended["scores"][:, 0], rtol=1e-5, atol=1e-5)
    assert got["known_user"].all() and got["history_item_ids"].shape == (6, 3)
    embeddings = _candidate_embeddings(trained_export)
    position = {item: row for row, item in enumerate(trained_export.item_text.ids)}
    train = trained_export.train
    for row, (user, item) in enumerate(zip(users, items)):
        seen = sorted(set(train.loc[train[schema.USER] == user, schema.ITEM]))
        similarity = np.array([embeddings[position[s]] @ embeddings[position[item]]
                               for s in seen])
        best = np.argsort(-similarity, kind="stable")[:3]
        cited = [h for h in got["history_item_ids"][row] if h]
        assert set(cited) <= set(seen) and len(cited) == min(3, len(seen))
        np.testing.assert_allclose(got["contributions"][row][:len(cited)], similarity[best],
                                   rtol=1e-4, atol=1e-4)


def test_explain_unknown_items_and_users(trained_export, loaded):
    import tensorflow as tf

    item = str(trained_export.item_text.ids[0])
    got = export.call_signature(loaded, "explain", user_id=["nobody", "nobody"],
                                item_id=[item, item], n=[2, 2])
    assert not got["known_user"].any()
    assert (got["history_item_ids"] == "").all()  # an unknown user has no history to cite
    assert np.isfinite(got["score"]).all()
    # An item outside the catalogue has no score: the graph refuses it, naming it and its row.
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"item_id not in the catalogue:\] \[`no-such-item` \(row 1\)\]"):
        export.call_signature(loaded, "explain", user_id=["nobody", "nobody"],
                              item_id=[item, "no-such-item"], n=[2, 2])
    # A huge n is refused before anything n wide is allocated (the checks come first).
    with pytest.raises(tf.errors.InvalidArgumentError, match="n must be at most max_k=20"):
        export.call_signature(loaded, "explain", user_id=["nobody"], item_id=[item],
                              n=[10_000_000])


def test_textrec_serve_answers_explain_in_the_rest_format(trained_export, loaded):
    import json
    import urllib.request

    from textrec.export import server as server_module

    users = trained_export.pseudonyms([str(u) for u in trained_export.user_text.ids[:2]])
    item = str(trained_export.item_text.ids[0])
    expected = export.call_signature(loaded, "explain", user_id=users, item_id=[item, item],
                                     n=[2, 2])
    handle = server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                         warm_up=False)
    try:
        body = {"signature_name": "explain",
                "instances": [{"user_id": u, "item_id": item, "n": 2} for u in users]}
        request = urllib.request.Request(handle.url + "/v1/models/textrec:predict",
                                         data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            rows = json.loads(response.read())["predictions"]
    finally:
        handle.stop()
    assert [row["history_item_ids"] for row in rows] == expected["history_item_ids"].tolist()
    np.testing.assert_allclose([row["score"] for row in rows], expected["score"], rtol=1e-5)
