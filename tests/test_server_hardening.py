"""``textrec serve`` under load and at its edges (issue #16), on 127.0.0.1 only.

Every loop is bounded, every socket has a timeout, and no test depends on how fast the machine
is: the busy case is made by holding the server's model slots from the test, and the stalled
body by a read timeout of one second.
"""

import concurrent.futures
import http.client
import json
import math
import shutil
import socket
import threading

import pytest

from textrec.export import server as server_module
from textrec.export.server import model as model_module

PREDICT = "/v1/models/textrec:predict"
SOCKET_TIMEOUT = 60


@pytest.fixture(scope="module")
def server(trained_export):
    handle = server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                         warm_up=False)
    yield handle
    handle.stop()


def post(server, body, path=PREDICT, timeout=SOCKET_TIMEOUT):
    """(status, parsed JSON, headers) of one POST on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request("POST", path, data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read()), response.headers
    finally:
        connection.close()


def get(server, path, timeout=SOCKET_TIMEOUT):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def user_request(k=3):
    return {"signature_name": "recommend_user", "inputs": {"user_id": ["nobody"], "k": [k]}}


# -- connection resets under load ----------------------------------------------------------------

def test_the_listen_backlog_is_as_large_as_the_system_allows(tmp_path):
    somaxconn = tmp_path / "somaxconn"
    for written, backlog, cap in [("128\n", 128, 128), ("4096\n", 4096, 4096),
                                  ("65535\n", 4096, 65535), ("not a number", 4096, None)]:
        somaxconn.write_text(written)
        assert server_module.listen_backlog(4096, somaxconn) == {"backlog": backlog,
                                                                 "asked": 4096, "cap": cap}
    # Elsewhere (no /proc): ask for it all; the system cuts it without saying.
    assert server_module.listen_backlog(4096, tmp_path / "missing")["backlog"] == 4096


def test_the_server_listens_with_that_backlog(trained_export, monkeypatch):
    asked = []
    listen = socket.socket.listen

    def spy(self, backlog=None):
        asked.append(backlog)
        return listen(self, backlog)

    monkeypatch.setattr(socket.socket, "listen", spy)
    with server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                    warm_up=False, poll_seconds=0) as handle:
        expected = server_module.listen_backlog()
        assert asked == [expected["backlog"]] == [handle.server.request_queue_size]
        if expected["cap"] is not None:            # Linux: min(4096, net.core.somaxconn)
            assert expected["backlog"] == min(4096, expected["cap"])
        assert f"Listen backlog: {expected['backlog']} connections" in server_module.usage(
            handle.server)
    with server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                    warm_up=False, poll_seconds=0, backlog=64) as handle:
        assert handle.server.request_queue_size == 64


def test_the_listen_backlog_takes_a_burst_of_clients(server, monkeypatch):
    assert server.server.request_queue_size >= 128
    monkeypatch.setattr(server.model, "queue_timeout", SOCKET_TIMEOUT)   # a slow machine waits
    clients = 50
    barrier = threading.Barrier(clients, timeout=SOCKET_TIMEOUT)

    def one(_):
        barrier.wait()          # all 50 connect at once
        try:
            return post(server, user_request())[0]
        except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError) as error:
            return type(error).__name__

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(one, range(clients)))
    assert outcomes == [200] * clients, outcomes


# -- URLs -----------------------------------------------------------------------------------------

def test_a_very_long_version_number_is_404(server):
    status, payload = get(server, "/v1/models/textrec/versions/" + "9" * 5000)
    assert status == 404 and "(5,000 digits)" in payload["error"]
    assert len(payload["error"]) < 200
    status, payload, _ = post(server, user_request(), "/v1/models/textrec/versions/"
                              + "1" * 5000 + ":predict")
    assert status == 404 and "not found" in payload["error"]
    assert get(server, "/v1/models/textrec/versions/001")[0] == 200   # leading zeros: version 1


# -- bodies that stall or stop early --------------------------------------------------------------

def _raw_exchange(server, head: bytes, body: bytes, close_write: bool = False) -> tuple:
    """Send ``head`` and ``body`` on a raw socket; (status, JSON) of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(head + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < int(
                answer.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]):
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            answer += chunk
    header, payload = answer.split(b"\r\n\r\n", 1)
    return int(header.split()[1]), json.loads(payload)


def test_a_body_shorter_than_its_content_length_is_408(server, monkeypatch):
    monkeypatch.setattr(server.server, "read_timeout", 1.0)
    head = (f"POST {PREDICT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n").encode()
    status, payload = _raw_exchange(server, head, b'{"instances": [')   # and then nothing
    assert status == 408, payload
    assert "15 of the 100 bytes" in payload["error"] and "1 s" in payload["error"]
    assert get(server, "/v1/models/textrec")[0] == 200


def test_a_body_sent_a_byte_at_a_time_is_408_when_its_time_is_up(server, monkeypatch):
    """Each byte comes before the socket's timeout, but the whole body must arrive within
    ``read_timeout`` (1 s here): 408, long before the 100 bytes (one each 0.2 s) would. (The
    server closes then; a byte of ours still in flight may turn its close into a reset that
    swallows the answer: then the proof is that it stopped reading before the body was whole.)
    """
    monkeypatch.setattr(server.server, "read_timeout", 1.0)
    head = (f"POST {PREDICT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
            ).encode()
    answer, sent, reset = b"", 0, False
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        while sent < 100 and b"}" not in answer:      # at most 100 bytes, about 20 s
            try:
                if b"\r\n\r\n" not in answer:
                    sock.sendall(b" ")
                    sent += 1
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                reset = True
                break
            if not chunk:
                break
            answer += chunk
    assert sent < 100
    if reset and not answer:
        return
    header, payload = answer.split(b"\r\n\r\n", 1)
    assert int(header.split()[1]) == 408, answer
    assert "did not arrive within 1 s" in json.loads(payload)["error"]


def test_a_body_cut_short_by_the_client_is_400(server):
    head = (f"POST {PREDICT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n").encode()
    status, payload = _raw_exchange(server, head, b'{"instances": [', close_write=True)
    assert status == 400 and "ended after 15 of the 100 bytes" in payload["error"]


# -- nothing to compute ---------------------------------------------------------------------------

EMPTY = [
    ({"instances": [{"text": [], "user_id": "", "k": 3}]}, "input 'text' holds no text"),
    ({"inputs": {"text": [[], []], "user_id": ["", ""], "k": [3, 3]}},
     "input 'text' holds no text"),
    ({"inputs": {"text": [], "user_id": [], "k": []}}, "the request has no rows"),
    ({"signature_name": "embed_text", "inputs": []}, "the request has no rows"),
    ({"signature_name": "recommend_user", "inputs": {"user_id": [], "k": []}},
     "the request has no rows"),
]


@pytest.mark.parametrize("body, words", EMPTY)
def test_no_texts_or_no_rows_is_a_plain_400(server, body, words):
    status, payload, _ = post(server, body)
    assert status == 400 and words in payload["error"], payload
    for internal in ("MatMul", "node", "{{", "[[", "Op"):
        assert internal not in payload["error"]


def test_graph_errors_lose_their_node_names():
    message = ("Matrix size-incompatible: In[0]: [0,384], In[1]: [416,64] "
               "[[{{node model/dense/MatMul}}]] [Op:__inference_signature_wrapper_123]\n"
               "Detected at node 'MatMul' defined at (most recent call last): ...")
    said = model_module._graph_error(message)
    assert said.startswith("the model cannot compute this request")
    assert "Matrix size-incompatible" in said
    for internal in ("MatMul", "{{", "[[", "Op:", "Detected", "inference"):
        assert internal not in said, said
    assert model_module._graph_error("x\nassertion failed: [k must be at most max_k=20]") == \
        "the model refused the request: k must be at most max_k=20"


# -- work per request and concurrent work ---------------------------------------------------------

def test_work_per_request_is_limited_before_any_model_work(server, monkeypatch):
    limits = server.model.limits
    assert limits["max_texts_per_request"] == 256
    # 16 rows x 32 texts: legal in shape (max_batch 256, 32 texts per row), 512 texts of work.
    rows = [{"text": ["a fine guitar strap"] * 32, "user_id": "", "k": 3}] * 16
    slots = server.model.work_slots
    for _ in range(server.model.max_concurrent):     # no model call could run: 413 comes first
        assert slots.acquire(timeout=SOCKET_TIMEOUT)
    try:
        status, payload, _ = post(server, {"instances": rows})
    finally:
        for _ in range(server.model.max_concurrent):
            slots.release()
    assert status == 413, payload
    assert "512 texts (16 x 32, padding included); the limit is 256" in payload["error"]
    monkeypatch.setitem(limits, "max_chars_per_request", 100)
    status, payload, _ = post(server, {"instances": [{"text": ["é" * 60, "b" * 60], "user_id": "",
                                                      "k": 3}]})
    assert status == 413 and "hold 120 characters together; the limit is 100" in payload["error"]
    # At the limit, the request is served.
    status, _, _ = post(server, {"instances": [{"text": ["é" * 50, "b" * 50], "user_id": "",
                                                "k": 3}]})
    assert status == 200


def test_busy_model_slots_give_503_after_the_queue_timeout_and_cheap_calls_go_on(server,
                                                                                 monkeypatch):
    model = server.model
    assert model.max_concurrent == server_module.MAX_CONCURRENT == 2
    monkeypatch.setattr(model, "queue_timeout", 0.2)
    assert model.work_slots.acquire(timeout=SOCKET_TIMEOUT)     # one long request running
    try:
        assert post(server, user_request())[0] == 200           # the other slot serves others
        assert model.work_slots.acquire(timeout=SOCKET_TIMEOUT)  # now both are busy
        try:
            status, payload, headers = post(server, user_request())
            assert status == 503 and "the server is busy" in payload["error"]
            assert headers["Retry-After"] == "1"
            assert get(server, "/v1/models/textrec")[0] == 200   # status needs no slot
        finally:
            model.work_slots.release()
    finally:
        model.work_slots.release()
    assert post(server, user_request())[0] == 200


def test_a_waiting_request_gets_the_slot_when_it_frees(server, monkeypatch):
    model = server.model
    monkeypatch.setattr(model, "queue_timeout", SOCKET_TIMEOUT)
    held = [model.work_slots.acquire(timeout=SOCKET_TIMEOUT) for _ in range(model.max_concurrent)]
    assert all(held)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(post, server, user_request())
        with pytest.raises(concurrent.futures.TimeoutError):
            waiting.result(timeout=0.3)                   # it waits while both slots are held
        model.work_slots.release()
        assert waiting.result(timeout=SOCKET_TIMEOUT)[0] == 200
    model.work_slots.release()


def test_server_options_reach_the_server(trained_export):
    with pytest.raises(ValueError, match="max_concurrent must be at least 1"):
        server_module.make_server(trained_export.path.parent, port=0, max_concurrent=0)
    handle = server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                        warm_up=False,
                                        read_timeout=5, max_concurrent=3, queue_timeout=7)
    with handle:
        assert (handle.server.read_timeout, handle.model.max_concurrent,
                handle.model.queue_timeout) == (5.0, 3, 7.0)
        assert get(handle, "/v1/models/textrec")[0] == 200


# -- hostile requests: never a 5xx, never a body strict JSON parsers refuse -----------------------

def strict_json(data: bytes):
    """JSON as strict parsers (JavaScript's JSON.parse, jq) read it: no NaN or Infinity."""
    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    return True


HOSTILE_TEXTS = ["", " ", "\t\n\r", "\u3000\u00a0", "\u200b", "\x00\x01", "NaN", "-Infinity",
                 "🎸" * 40, "é" * 3000, "]] [[{{node x}}]] assertion failed: [", "a",
                 "word " * 300, "\ud800"]
HOSTILE_IDS = ["", "nobody", "no such item", "x" * 5000, "\x00", "] [", "`", "\ud800"]
HOSTILE_COUNTS = [0, 1, 20, 21, -1, 2 ** 31 - 1, 2 ** 40, 1.5, True, None, "3", [3],
                  {"b64": "AA=="}]


def hostile_bodies(users: list, items: list) -> list:
    """Requests of every signature with odd texts, ids, counts and shapes (some valid)."""
    bodies = []
    for text in HOSTILE_TEXTS:
        bodies.append({"signature_name": "embed_text", "instances": [text]})
        bodies.append({"signature_name": "embed_text", "instances": ["fine", text]})
        bodies.append({"instances": [{"text": [text], "user_id": "", "k": 3}]})
        bodies.append({"instances": [{"text": [text, ""], "user_id": users[0], "k": 20}]})
        bodies.append({"inputs": {"text": [[text], ["fine"]], "user_id": ["", "x"],
                                  "k": [2, 5]}})
    for user in HOSTILE_IDS + users[:2]:
        for item in HOSTILE_IDS[:4] + items[:2]:
            bodies.append({"signature_name": "explain",
                           "instances": [{"user_id": user, "item_id": item, "n": 20}]})
        bodies.append({"signature_name": "recommend_user",
                       "instances": [{"user_id": user, "k": 20}, {"user_id": "", "k": 1}]})
    for count in HOSTILE_COUNTS:
        bodies.append({"signature_name": "recommend_user",
                       "instances": [{"user_id": users[0], "k": count}]})
        bodies.append({"signature_name": "explain",
                       "inputs": {"user_id": [users[0]], "item_id": [items[0]], "n": [count]}})
        bodies.append({"instances": [{"text": ["fine"], "user_id": "", "k": count}]})
    bodies.append({"signature_name": "explain", "instances": [
        {"user_id": users[0], "item_id": items[0], "n": 20},       # more than its history
        {"user_id": "nobody", "item_id": items[1], "n": 1}]})
    bodies += [{"signature_name": name, "inputs": value} for name, value in [
        ("embed_text", [[["deep"]]]), ("embed_text", {"text": None}),
        ("recommend_user", {"user_id": [[users[0]]], "k": [[3]]}),
        ("explain", {"user_id": [], "item_id": [], "n": []})]]
    return bodies


RAW_BODIES = [b'{"instances": [NaN]}', b'{"inputs": Infinity}', b'{"instances": [1e999]}',
              b'\xff\xfe\x00', b'{"signature_name": "explain", "inputs": {"n": [-Infinity]}}',
              b'[' * 100_000, b'{"instances": [' + b'"a",' * 1000 + b'"a"]}']


@pytest.fixture(scope="module")
def graph_server(trained_export, tmp_path_factory):
    """A copy of the export, served through TensorFlow's graph encoder only (no shape is marked
    compiled, and none compiles): many odd requests, no compiling."""
    root = tmp_path_factory.mktemp("hostile") / "textrec"
    shutil.copytree(trained_export.path, root / "1")
    handle = server_module.start_server(root, port=0, quiet=True, warm_up=False, poll_seconds=0)
    handle.model.loaded.reset_compiled()
    yield handle
    handle.stop()


def test_hostile_requests_to_every_signature_get_strict_json_and_no_5xx(trained_export,
                                                                        graph_server):
    users = trained_export.pseudonyms([str(u) for u in trained_export.user_text.ids[:2]])
    items = [str(i) for i in trained_export.item_text.ids[:2]]
    bodies = [json.dumps(body).encode() for body in hostile_bodies(users, items)] + RAW_BODIES
    statuses = {}
    for data in bodies:
        status, payload = _raw_post(graph_server, data)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (data[:200], payload)
        assert _finite(payload), (data[:200], payload)
        if status != 200:
            assert list(payload) == ["error"] and len(payload["error"]) < 2000, payload
    assert statuses[200] > 20 and statuses[400] > 50, statuses      # both kinds were probed
    assert not graph_server.model.loaded.encoder_shapes()["ready"].numpy().any()


def _raw_post(server, data: bytes) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT)
    try:
        connection.request("POST", PREDICT, data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, strict_json(response.read())
    finally:
        connection.close()


def test_the_two_edges_found_by_probing(trained_export, graph_server):
    users = trained_export.pseudonyms([str(u) for u in trained_export.user_text.ids[:1]])
    status, payload = _raw_post(graph_server, json.dumps(
        {"signature_name": "explain",
         "instances": [{"user_id": users[0], "item_id": "B000-NOT-SOLD", "n": 3}]}).encode())
    assert status == 400 and payload["error"] == (
        "the model refused the request: item_id not in the catalogue: [`B000-NOT-SOLD` (row 0)]")
    for texts in ([""], ["", "   "]):
        status, payload = _raw_post(graph_server, json.dumps(
            {"instances": [{"text": texts, "user_id": users[0], "k": 3}]}).encode())
        assert status == 400 and "rows with no text" in payload["error"], payload
