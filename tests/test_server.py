"""``textrec serve`` (textrec.export.server) over real HTTP on 127.0.0.1, against the export's
own signatures called directly.

The server runs once per module on the session's trained export (``trained_export`` in
conftest.py); its limits come from the model card: max_k 20, max_batch 256,
max_texts_per_row 32, max_text_chars 20,000.
"""

import concurrent.futures
import http.client
import json
import time
import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest

from textrec import cli, export
from textrec.export import server as server_module

PREDICT = "/v1/models/textrec:predict"


@pytest.fixture(scope="module")
def server(trained_export):
    handle = server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                         warm_up=False)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def users(trained_export):
    return trained_export.pseudonyms([str(u) for u in trained_export.user_text.ids[:16]])


def strict_json(text):
    """JSON as strict parsers read it: ``NaN``, ``Infinity`` and ``-Infinity`` are refused."""
    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def call(server, method, path, body=None, raw=None):
    """(status, parsed JSON body, raw text, headers) of one HTTP request; every body must be
    strict JSON."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(server.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text, headers = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        status, text, headers = error.code, error.read().decode(), error.headers
    return status, strict_json(text), text, headers


def predict(server, body, path=PREDICT):
    status, payload, text, _ = call(server, "POST", path, body)
    assert status == 200, payload
    return payload, text


def direct(server, signature, **inputs):
    return export.call_signature(server.model.loaded, signature, **inputs)


def assert_same_recommendations(rows, expected):
    """``rows``: the server's per-row objects; ``expected``: call_signature's arrays."""
    assert [row["item_ids"] for row in rows] == expected["item_ids"].tolist()
    # Floats travel as the shortest decimal of their float32: they read back exactly. An empty
    # slot's score (-inf in the SavedModel) is null.
    np.testing.assert_array_equal(
        np.array([[-np.inf if s is None else s for s in row["scores"]] for row in rows],
                 np.float32), expected["scores"])
    assert [row["known_user"] for row in rows] == expected["known_user"].tolist()


def columns_to_rows(outputs):
    return [dict(zip(outputs, values)) for values in zip(*outputs.values())]


# -- status and metadata --------------------------------------------------------------------------

def test_status(server):
    expected = {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}
    assert call(server, "GET", "/v1/models/textrec")[:2] == (200, expected)
    assert call(server, "GET", "/v1/models/textrec/versions/1")[:2] == (200, expected)


def test_metadata(server):
    status, metadata, _, _ = call(server, "GET", "/v1/models/textrec/versions/1/metadata")
    assert status == 200
    assert metadata["model_spec"] == {"name": "textrec", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"recommend_user", "recommend_text", "embed_text", "serving_default"} <= set(signatures)
    text = signatures["recommend_text"]
    assert text["method_name"] == "tensorflow/serving/predict"
    assert sorted(text["inputs"]) == ["k", "text", "user_id"]
    assert text["inputs"]["k"]["dtype"] == "DT_INT32"
    assert [d["size"] for d in text["inputs"]["text"]["tensor_shape"]["dim"]] == ["-1", "-1"]
    assert {name: info["dtype"] for name, info in text["outputs"].items()} == {
        "item_ids": "DT_STRING", "scores": "DT_FLOAT", "known_user": "DT_BOOL"}
    assert call(server, "GET", "/v1/models/textrec/metadata")[1] == metadata


# -- :predict, all three signatures in both formats -----------------------------------------------

def test_recommend_user_rows_and_columns(server, users):
    expected = direct(server, "recommend_user", user_id=[users[0], "nobody"], k=[3, 5])
    rows, text = predict(server, {"signature_name": "recommend_user",
                                  "instances": [{"user_id": users[0], "k": 3},
                                                {"user_id": "nobody", "k": 5}]})
    assert_same_recommendations(rows["predictions"], expected)
    assert "Infinity" not in text and "NaN" not in text
    assert rows["predictions"][0]["item_ids"][3:] == ["", ""]     # row 0's two empty slots
    assert rows["predictions"][0]["scores"][3:] == [None, None]
    columns, _ = predict(server, {"signature_name": "recommend_user",
                                  "inputs": {"user_id": [users[0], "nobody"], "k": [3, 5]}})
    assert sorted(columns["outputs"]) == ["item_ids", "known_user", "scores"]
    assert_same_recommendations(columns_to_rows(columns["outputs"]), expected)


def test_recommend_text_rows_and_columns_and_the_default_signature(server, users):
    texts = [["bright strings that stay in tune", ""], ["this pedal hums", "great value"]]
    expected = direct(server, "recommend_text", text=texts, user_id=["", users[1]], k=[4, 4])
    instances = [{"text": texts[0], "user_id": "", "k": 4},
                 {"text": texts[1], "user_id": users[1], "k": 4}]
    named, _ = predict(server, {"signature_name": "recommend_text", "instances": instances})
    default, _ = predict(server, {"instances": instances})     # serving_default
    assert_same_recommendations(named["predictions"], expected)
    assert default == named
    columns, _ = predict(server, {"inputs": {"text": texts, "user_id": ["", users[1]],
                                             "k": [4, 4]}})
    assert_same_recommendations(columns_to_rows(columns["outputs"]), expected)


def test_embed_text_rows_and_columns(server):
    texts = ["Great strings, bright tone.", "warm", "Ünïcödé café"]
    expected = direct(server, "embed_text", text=texts)["vectors"]
    # One input and one output: bare values in, bare values out.
    rows, _ = predict(server, {"signature_name": "embed_text", "instances": texts})
    bare, _ = predict(server, {"signature_name": "embed_text", "inputs": texts})
    named, _ = predict(server, {"signature_name": "embed_text", "inputs": {"text": texts}})
    b64, _ = predict(server, {"signature_name": "embed_text",
                              "inputs": [{"b64": "R3JlYXQgc3RyaW5ncywgYnJpZ2h0IHRvbmUu"}]})
    # One call embeds a batch of 3 and another a batch of 1: the same text may then differ in
    # the last bits (the CPU's kernels sum in batch-dependent order, e.g. on AMD EPYC AVX2).
    close = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(np.array(rows["predictions"], np.float32), expected, **close)
    for other in (bare["outputs"], named["outputs"]):
        np.testing.assert_allclose(np.array(other, np.float32),
                                   np.array(rows["predictions"], np.float32), **close)
    np.testing.assert_allclose(b64["outputs"][0], rows["predictions"][0], **close)   # texts[0]


def test_versioned_url(server, users):
    body = {"signature_name": "recommend_user", "instances": [{"user_id": users[2], "k": 2}]}
    versioned, _ = predict(server, body, "/v1/models/textrec/versions/1:predict")
    assert versioned == predict(server, body)[0]


def test_concurrent_requests_each_get_their_own_answer(server, users):
    ks = [1 + i % 20 for i in range(len(users))]
    # One row per call, as each thread asks. The server batches concurrent requests into one
    # call (test_server_batching.py), whose scores may differ in the last bits of a float.
    expected = [direct(server, "recommend_user", user_id=[user], k=[k])
                for user, k in zip(users, ks)]

    def ask(i):
        return predict(server, {"signature_name": "recommend_user",
                                "inputs": {"user_id": [users[i]], "k": [ks[i]]}})[0]["outputs"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(len(users))))
    for answer, own in zip(answers, expected):
        assert answer["item_ids"] == own["item_ids"].tolist()
        np.testing.assert_allclose(np.float32(answer["scores"]), own["scores"], rtol=1e-5,
                                   atol=1e-6)


# -- bad requests ---------------------------------------------------------------------------------

def _user_rows(n, k=3):
    return {"signature_name": "recommend_user", "instances": [{"user_id": "u", "k": k}] * n}


def _text_row(texts, k=3):
    return {"instances": [{"text": texts, "user_id": "", "k": k}]}


BAD_REQUESTS = [
    # (id, method, path, body (bytes or JSON-able), status, words the error must contain)
    ("malformed JSON", "POST", PREDICT, b'{"instances": [', 400, "malformed JSON"),
    ("NaN is not JSON", "POST", PREDICT,
     b'{"signature_name": "recommend_user", "inputs": {"user_id": ["a"], "k": [NaN]}}', 400,
     "NaN is not a JSON value"),
    ("Infinity is not JSON", "POST", PREDICT, b'{"instances": [-Infinity]}', 400,
     "-Infinity is not a JSON value"),
    ("not an object", "POST", PREDICT, [1, 2], 400, "must be a JSON object"),
    ("both formats", "POST", PREDICT, {"instances": [], "inputs": {}}, 400, "exactly one of"),
    ("neither format", "POST", PREDICT, {"signature_name": "embed_text"}, 400, "exactly one of"),
    ("unknown signature", "POST", PREDICT, {"signature_name": "nope", "instances": ["a"]}, 400,
     "unknown signature_name 'nope'; this model has ['embed_text', 'explain'"),
    ("signature not a string", "POST", PREDICT, {"signature_name": 3, "instances": ["a"]}, 400,
     "'signature_name' must be a string"),
    ("empty instances", "POST", PREDICT, {"instances": []}, 400, "non-empty list"),
    ("plain rows, several inputs", "POST", PREDICT, {"instances": ["a"]}, 400,
     "takes several inputs"),
    ("missing input", "POST", PREDICT,
     {"signature_name": "recommend_user", "instances": [{"user_id": "a"}]}, 400,
     "instance 0: missing input(s) ['k']"),
    ("unknown input", "POST", PREDICT,
     {"signature_name": "recommend_user", "inputs": {"user_id": ["a"], "k": [1], "colour": ["b"]}},
     400, "unknown input(s) ['colour']"),
    ("k a string", "POST", PREDICT, _user_rows(1, k="3"), 400, "input 'k' at [0] must be int32"),
    ("k a fraction", "POST", PREDICT, _user_rows(1, k=2.5), 400, "must be int32"),
    ("k a boolean", "POST", PREDICT, _user_rows(1, k=True), 400, "must be int32"),
    ("text not a string", "POST", PREDICT, _text_row([1]), 400,
     "input 'text' at [0, 0] must be a string"),
    ("text not a list", "POST", PREDICT, _text_row("just one"), 400,
     "input 'text' in each instance must be a list, got a single value"),
    ("bad base64", "POST", PREDICT, {"signature_name": "embed_text", "inputs": [{"b64": "!"}]},
     400, "invalid base64"),
    ("ragged texts", "POST", PREDICT,
     {"instances": [{"text": ["a"], "user_id": "", "k": 1},
                    {"text": ["a", "b"], "user_id": "", "k": 1}]}, 400, "ragged"),
    ("batch sizes differ", "POST", PREDICT,
     {"signature_name": "recommend_user", "inputs": {"user_id": ["a", "b"], "k": [1]}}, 400,
     "different batch sizes (k 1, user_id 2)"),
    ("only an empty text", "POST", PREDICT, _text_row([""]), 400,
     "the model refused the request: rows with no text (every string empty or blank): [0]"),
    ("only blank texts", "POST", PREDICT,
     {"instances": [{"text": ["fine", ""], "user_id": "", "k": 1},
                    {"text": ["  ", "\u3000\t"], "user_id": "", "k": 1}]}, 400,
     "rows with no text (every string empty or blank): [1]"),
    ("an empty text to embed", "POST", PREDICT,
     {"signature_name": "embed_text", "instances": ["fine", ""]}, 400,
     "rows with no text (empty or blank strings): [1]"),
    ("explain an unknown item", "POST", PREDICT,
     {"signature_name": "explain", "instances": [{"user_id": "u", "item_id": "no such item",
                                                  "n": 2}]}, 400,
     "item_id not in the catalogue: [`no such item` (row 0)]"),
    ("k zero", "POST", PREDICT, _user_rows(2, k=0), 400, "k must be between 1 and max_k=20"),
    ("k past max_k", "POST", PREDICT, _user_rows(1, k=21), 400, "row 0 asks for 21"),
    ("n past max_k", "POST", PREDICT,
     {"signature_name": "explain", "inputs": {"user_id": ["u", "u"], "item_id": ["a", "b"],
                                              "n": [2, 2 ** 31 - 1]}}, 400,
     "n must be between 1 and max_k=20; row 1 asks for 2147483647"),
    ("too many rows", "POST", PREDICT, _user_rows(257), 413, "257 rows"),
    ("too many texts", "POST", PREDICT, _text_row(["a"] * 33), 413, "33 texts per row"),
    ("text too long", "POST", PREDICT, _text_row(["é" * 20_001]), 413,
     "longer than 20,000 characters"),
    ("body too large", "POST", PREDICT, b" " * 1_100_000, 413, "the limit is 1,048,576"),
    ("unknown model", "POST", "/v1/models/other:predict", _user_rows(1), 404, "model 'other'"),
    ("unknown version", "GET", "/v1/models/textrec/versions/2", None, 404,
     "version 2 of model 'textrec' not found"),
    ("classify", "POST", "/v1/models/textrec:classify", {}, 404, "only :predict"),
    ("unknown path", "GET", "/v2/everything", None, 404, "unknown path /v2/everything"),
    ("GET a predict URL", "GET", PREDICT, None, 405, "use POST"),
    ("POST a status URL", "POST", "/v1/models/textrec", {}, 405, "use GET"),
    ("DELETE", "DELETE", "/v1/models/textrec", None, 405, "DELETE is not allowed"),
]


@pytest.mark.parametrize("method, path, body, status, words",
                         [case[1:] for case in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_a_json_error_and_the_server_goes_on(server, method, path, body, status,
                                                              words):
    raw = body if isinstance(body, bytes) else None
    got, payload, _, headers = call(server, method, path, None if raw else body, raw)
    assert (got, list(payload)) == (status, ["error"]), payload
    assert words in payload["error"]
    if status == 405:
        assert headers["Allow"] in ("GET", "POST")
    assert call(server, "GET", "/v1/models/textrec")[0] == 200


def test_graph_errors_are_400(server, monkeypatch):
    # With the Python check of k switched off, the graph's own check answers.
    monkeypatch.setitem(server.model.limits, "max_k", 1000)
    status, payload, _, _ = call(server, "POST", PREDICT, _user_rows(1, k=21))
    assert status == 400 and "k must be at most max_k=20" in payload["error"]


def test_unexpected_errors_are_500_and_the_server_goes_on(server, monkeypatch):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.model, "status", broken)
    status, payload, _, _ = call(server, "GET", "/v1/models/textrec")
    assert status == 500 and "disk on fire" in payload["error"]
    monkeypatch.undo()
    assert call(server, "GET", "/v1/models/textrec")[0] == 200


def test_missing_content_length_is_411(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", PREDICT)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    connection.close()


def test_one_log_line_per_request(server, capfd, monkeypatch):
    monkeypatch.setattr(server.server, "quiet", False)
    call(server, "GET", "/v1/models/textrec")
    call(server, "GET", "/missing")
    # A line is written just after its answer is sent: wait for both (a busy machine is slow).
    # Only this test's GETs count: an earlier test's request may log its line late.
    lines, waited = [], 0.0
    while len(lines) < 2 and waited < 30:
        time.sleep(0.1)
        waited += 0.1
        lines += [line for line in capfd.readouterr().err.splitlines() if " GET " in line]
    assert len(lines) == 2, lines
    assert " GET /v1/models/textrec 200 " in lines[0] and lines[0].endswith(" ms")
    assert " GET /missing 404 " in lines[1]


# -- pieces ---------------------------------------------------------------------------------------

def test_json_is_strict_empty_slots_are_null_and_other_non_finite_values_are_500():
    outputs = {"item_ids": np.array([[b"a", b""]], object),
               "scores": np.array([[0.1, -np.inf]], np.float32),
               "known_user": np.array([True])}
    plain = server_module.plain_outputs(outputs)
    assert plain == {"item_ids": [["a", ""]], "scores": [[0.1, None]], "known_user": [True]}
    assert server_module.to_json(plain) == (b'{"item_ids": [["a", ""]], "scores": [[0.1, null]], '
                                            b'"known_user": [true]}')
    # -inf beside a named item, NaN or +inf anywhere: the model's fault, never sent.
    for scores, shown in [([[-np.inf, -np.inf]], "-inf"), ([[0.1, np.nan]], "nan"),
                          ([[np.inf, 0.2]], "inf")]:
        bad = {**outputs, "item_ids": np.array([[b"a", b"b"]], object),
               "scores": np.array(scores, np.float32)}
        with pytest.raises(server_module.RequestError) as refused:
            server_module.plain_outputs(bad)
        assert refused.value.status == 500 and f"returned {shown} in output 'scores'" in \
            refused.value.message
    with pytest.raises(server_module.RequestError, match="'vectors' at \\[0, 1\\]"):
        server_module.plain_outputs({"vectors": np.array([[0.5, np.nan]], np.float32)})
    with pytest.raises(ValueError):
        server_module.to_json({"score": float("nan")})


def test_default_model_name(tmp_path):
    assert server_module.default_model_name(tmp_path / "textrec" / "1", {}) == "textrec"
    assert server_module.default_model_name(tmp_path / "saved", {"name": "mine"}) == "mine"
    assert server_module.default_model_name(tmp_path / "saved", {}) == "textrec"


def test_other_hosts_warn_that_there_is_no_authentication(tmp_path):
    with pytest.warns(UserWarning, match="no authentication"), \
            pytest.raises(FileNotFoundError, match="no SavedModel"):
        server_module.make_server(tmp_path, host="0.0.0.0", port=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileNotFoundError):
            server_module.make_server(tmp_path, port=0)


def test_cli_serve_arguments():
    args = cli.build_parser().parse_args(["serve", "exports/textrec"])
    assert (args.export_dir, args.host, args.port, args.model_name) == (
        "exports/textrec", "127.0.0.1", 8501, None)
    assert args.func is cli._serve
