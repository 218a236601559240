"""Request batching in ``textrec serve`` (textrec.export.server.batching): concurrent requests of
one signature computed by one model call, each answered as a call of its own would answer it.

No test depends on how fast the machine is. Where a test needs the requests in one batch, it
holds the model's call slots while the requests arrive (the batching worker then waits for a
slot with all of them queued) and releases the slots once ``stats()["waiting"]`` counts them
all: the next call takes them together, however slow the machine. Answers are compared with a
server that does not batch (``batch_window_ms=0``): ids and flags exactly, floats to 1e-5 (the
CPU's kernels may round a float's last bits differently for another batch size).
"""

import concurrent.futures
import contextlib
import os
import shutil
import threading
import time

import numpy as np
import pytest

from textrec import cli
from textrec.export import server as server_module
from textrec.export.server import batching
from tests.export_support import post_predict

PREDICT = "/v1/models/textrec:predict"
TIMEOUT = 60          # seconds: sockets, waits, the requests' queue_timeout in these tests
TEXTS = ["bright strings that stay in tune", "this pedal hums", "great value for the money",
         "the cable broke after a week", "warm tone, a bit heavy", "Ünïcödé café"]


@pytest.fixture(scope="module")
def batched(trained_export):
    """A server that batches (the default window, 2 ms)."""
    handle = server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                        warm_up=False,
                                        queue_timeout=TIMEOUT, poll_seconds=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def solo(trained_export):
    """The same export, one model call per request."""
    handle = server_module.start_server(trained_export.path.parent, port=0, quiet=True,
                                        warm_up=False,
                                        queue_timeout=TIMEOUT, poll_seconds=0, batch_window_ms=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def users(trained_export):
    return trained_export.pseudonyms([str(u) for u in trained_export.user_text.ids[:12]])


def post(server, body) -> tuple:
    return post_predict(server, body, TIMEOUT)


def assert_same_answer(got, expected, where="answer"):
    """Equal JSON, floats to a relative 1e-5 (-Infinity equal to -Infinity)."""
    assert type(got) is type(expected), (where, got, expected)
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), where
        for key in expected:
            assert_same_answer(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for i, (item, own) in enumerate(zip(got, expected)):
            assert_same_answer(item, own, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert got == expected or abs(got - expected) <= 1e-6 + 1e-5 * abs(expected), \
            (where, got, expected)
    else:
        assert got == expected, (where, got, expected)


def stats_change(server, before: dict) -> dict:
    after = server.model.stats()
    return {key: after[key] - before[key] for key in ("calls", "requests", "rows", "reruns")}


def send_together(server, bodies) -> list:
    """Send ``bodies`` from one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(bodies), timeout=TIMEOUT)

    def one(body):
        barrier.wait()
        return post(server, body)

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


@contextlib.contextmanager
def slots_held(model):
    slots = model.work_slots
    held = [slots.acquire(timeout=TIMEOUT) for _ in range(model.max_concurrent)]
    assert all(held)
    try:
        yield
    finally:
        for _ in held:
            slots.release()


def send_in_one_batch(server, bodies) -> list:
    """Send ``bodies`` concurrently, all queued before any model call may start."""
    model = server.model
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        with slots_held(model):
            answers = [pool.submit(post, server, body) for body in bodies]
            deadline = time.monotonic() + TIMEOUT
            while model.stats()["waiting"] < len(bodies) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert model.stats()["waiting"] == len(bodies)
        return [answer.result(timeout=TIMEOUT) for answer in answers]


def text_bodies(users) -> list:
    """recommend_text requests with different texts, users, k, texts per row and rows, in both
    formats."""
    bodies = []
    for i in range(8):
        rows = [{"text": TEXTS[(i + r) % 6:][:1 + (i + r) % 4] or ["warm tone"],
                 "user_id": users[(i + r) % len(users)] if (i + r) % 3 else "",
                 "k": 1 + (5 * i + 3 * r) % 20} for r in range(1 + i % 3)]
        width = max(len(row["text"]) for row in rows)
        for row in rows:     # one request's rows have one width; requests differ
            row["text"] = row["text"] + [""] * (width - len(row["text"]))
        if i % 4 == 3:
            bodies.append({"signature_name": "recommend_text", "inputs": {
                name: [row[name] for row in rows] for name in ("text", "user_id", "k")}})
        else:
            bodies.append({"signature_name": "recommend_text", "instances": rows})
    return bodies


def assert_answers_equal_solo(solo, bodies, answers):
    for i, (body, (status, payload)) in enumerate(zip(bodies, answers)):
        expected_status, expected = post(solo, body)
        assert (status, expected_status) == (200, 200), (i, payload, expected)
        assert_same_answer(payload, expected, f"request {i}")


# -- answers ------------------------------------------------------------------------------------

def test_concurrent_recommend_text_requests_get_their_solo_answers(batched, solo, users):
    bodies = text_bodies(users)
    assert len({len(body.get("instances") or body["inputs"]["k"]) for body in bodies}) == 3
    assert_answers_equal_solo(solo, bodies, send_together(batched, bodies))


def test_requests_in_one_call_get_their_solo_answers(batched, solo, users):
    bodies = text_bodies(users)
    before = batched.model.stats()
    answers = send_in_one_batch(batched, bodies)
    rows = sum(len(body.get("instances") or body["inputs"]["k"]) for body in bodies)
    assert stats_change(batched, before) == {"calls": 1, "requests": 8, "rows": rows,
                                             "reruns": 0}
    assert batched.model.stats()["largest_batch"] >= 8
    assert_answers_equal_solo(solo, bodies, answers)


def test_six_concurrent_requests_take_fewer_than_six_calls(batched, users):
    bodies = [{"signature_name": "recommend_text",
               "instances": [{"text": [text], "user_id": "", "k": 5}]} for text in TEXTS]
    before = batched.model.stats()
    answers = send_in_one_batch(batched, bodies)
    assert [status for status, _ in answers] == [200] * 6
    change = stats_change(batched, before)
    assert change["requests"] == 6 and change["rows"] == 6, change
    assert change["calls"] == 1 < 6, change


def test_the_other_signatures_batched_equal_solo(batched, solo, users):
    items = [item for item in post(solo, {"signature_name": "recommend_user", "instances": [
        {"user_id": users[0], "k": 6}]})[1]["predictions"][0]["item_ids"] if item]
    groups = {
        "recommend_user": [{"signature_name": "recommend_user", "instances": [
            {"user_id": users[i], "k": 1 + 4 * i % 20}, {"user_id": "nobody", "k": 2 + i}]}
            for i in range(5)],
        "embed_text": [{"signature_name": "embed_text", "instances": TEXTS[i:i + 1 + i % 3]}
                       for i in range(5)] + [{"signature_name": "embed_text", "inputs": ["a"]}],
        "explain": [{"signature_name": "explain", "instances": [
            {"user_id": users[i], "item_id": items[i % len(items)], "n": 1 + 3 * i % 20},
            {"user_id": users[i + 1], "item_id": items[-1], "n": 2},
            {"user_id": "nobody", "item_id": items[0], "n": 4}][:1 + i % 3]}
            for i in range(5)],
    }
    for signature, bodies in groups.items():
        before = batched.model.stats()
        answers = send_in_one_batch(batched, bodies)
        assert stats_change(batched, before)["calls"] == 1, signature
        assert_answers_equal_solo(solo, bodies, answers)


REFUSED = {
    # With the Python check of k switched off, the graph's own check refuses k = 21.
    "k past max_k": ({"signature_name": "recommend_text",
                      "instances": [{"text": ["warm tone"], "user_id": "", "k": 3},
                                    {"text": ["warm tone"], "user_id": "", "k": 21}]},
                     "the model refused the request: k must be at most max_k=20"),
    "a row with no text": ({"signature_name": "recommend_text",
                            "instances": [{"text": ["warm tone"], "user_id": "", "k": 3},
                                          {"text": [" "], "user_id": "", "k": 3}]},
                           "the model refused the request: rows with no text (every string "
                           "empty or blank): [1]"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_request_the_graph_refuses_spoils_no_other(batched, solo, users, monkeypatch, case):
    for server in (batched, solo):
        monkeypatch.setitem(server.model.limits, "max_k", 1000)
    bodies = text_bodies(users)[:4]
    bad, message = REFUSED[case]
    bodies.insert(2, bad)
    before = batched.model.stats()
    answers = send_in_one_batch(batched, bodies)
    # One batched call failed, then each request ran alone.
    assert stats_change(batched, before)["calls"] == 1 + len(bodies)
    assert stats_change(batched, before)["reruns"] == 1
    status, payload = answers.pop(2)
    assert (status, payload) == post(solo, bad)
    assert status == 400 and payload["error"] == message
    bodies.pop(2)
    assert_answers_equal_solo(solo, bodies, answers)


def test_the_start_message_says_whether_requests_are_batched(batched, solo):
    assert "within 2 ms of each other share one model call (up to 64 rows)" in \
        server_module.usage(batched.server)
    assert "no batching" in server_module.usage(solo.server)


def test_window_zero_makes_one_call_per_request(solo, users):
    assert solo.model.batcher is None and not solo.model.stats()["batching"]
    bodies = text_bodies(users)
    before = solo.model.stats()
    answers = send_together(solo, bodies)
    assert [status for status, _ in answers] == [200] * len(bodies)
    change = stats_change(solo, before)
    assert change["calls"] == change["requests"] == len(bodies)
    assert solo.model.stats()["largest_batch"] == 1


def test_rows_per_call_are_capped_and_a_bigger_request_runs_alone(trained_export, solo, users):
    with server_module.start_server(trained_export.path.parent, port=0, quiet=True, warm_up=False,
                                    queue_timeout=TIMEOUT, poll_seconds=0, batch_window_ms=5,
                                    max_batch_rows=4) as handle:
        model = handle.model
        assert (model.batch_window_ms, model.max_batch_rows) == (5.0, 4)
        assert (model.batcher.window_ms, model.batcher.max_batch_rows) == (5.0, 4)
        single = [{"signature_name": "recommend_user", "instances": [{"user_id": user, "k": 3}]}
                  for user in users[:6]]
        before = model.stats()
        answers = send_in_one_batch(handle, single)
        assert stats_change(handle, before)["calls"] == 2       # 4 rows, then 2
        assert model.stats()["largest_rows"] == 4
        assert_answers_equal_solo(solo, single, answers)
        big = {"signature_name": "recommend_user",
               "instances": [{"user_id": user, "k": 2} for user in users[:6]]}
        bodies = [big] + single[:2]
        before = model.stats()
        answers = send_in_one_batch(handle, bodies)
        assert stats_change(handle, before)["calls"] == 2       # the 6 rows alone, then 2
        assert model.stats()["largest_rows"] == 6
        assert_answers_equal_solo(solo, bodies, answers)


def test_a_request_not_taken_within_the_queue_timeout_gets_503(batched, users, monkeypatch):
    model = batched.model
    monkeypatch.setattr(model, "queue_timeout", 0.2)
    body = {"signature_name": "recommend_user", "instances": [{"user_id": users[0], "k": 3}]}
    with slots_held(model):
        status, payload = post(batched, body)
        assert status == 503 and "the server is busy" in payload["error"]
        assert model.stats()["waiting"] == 0       # it gave up its place in the queue
    assert post(batched, body)[0] == 200


# -- pieces -------------------------------------------------------------------------------------

def _toy_signature(signature, arrays):
    """A NumPy stand-in with the export's shapes: ``text`` [B, T] ("" is no text), ``k`` [B]
    -> ``words`` [B, max(k)] ("" past a row's k) and ``texts`` [B]; k > 5 is refused."""
    k = arrays["k"]
    if k.max() > 5:
        raise ValueError(f"k must be at most 5, got {k.max()}")
    joined = [b"+".join(t for t in row if t) for row in arrays["text"]]
    words = np.array([[row + b"%d" % j if j < own else b"" for j in range(k.max())]
                      for row, own in zip(joined, k)], dtype=object).reshape(len(k), k.max())
    return {"words": words, "texts": (arrays["text"] != b"").sum(axis=1)}


TOY_PLAN = batching.BatchPlan(True, frozenset({"text"}), frozenset({"words"}), "k")


def _toy_request(texts, ks):
    return {"text": np.array(texts, dtype=object), "k": np.array(ks, np.int32)}


def test_the_batcher_alone_answers_each_request_as_a_call_of_its_own():
    requests = [_toy_request([[b"a"]], [2]), _toy_request([[b"b", b"c", b""], [b"d", b"", b""]],
                                                          [1, 4]),
                _toy_request([[b"e", b"f"]], [9]), _toy_request([[b""]], [3])]
    slots = threading.BoundedSemaphore(1)
    batcher = batching.RequestBatcher(_toy_signature, {"toy": TOY_PLAN}, slots, window_ms=1)
    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        assert slots.acquire(timeout=TIMEOUT)      # all four queue before the call
        futures = [pool.submit(batcher.compute, "toy", arrays, TIMEOUT) for arrays in requests]
        deadline = time.monotonic() + TIMEOUT
        while batcher.waiting < len(requests) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batcher.waiting == len(requests)
        slots.release()
        for arrays, future in zip(requests, futures):
            if arrays["k"].max() > 5:       # refused: its own error, not the others'
                with pytest.raises(ValueError, match="got 9"):
                    future.result(timeout=TIMEOUT)
                continue
            got, alone = future.result(timeout=TIMEOUT), _toy_signature("toy", arrays)
            assert sorted(got) == sorted(alone)
            for name in alone:
                assert got[name].shape == alone[name].shape
                assert got[name].tolist() == alone[name].tolist()
    # One batched call of 5 rows failed, then each request ran alone.
    assert batcher.stats.snapshot() == {"calls": 5, "requests": 8, "rows": 10,
                                        "largest_batch": 4, "largest_rows": 5, "reruns": 1}
    batcher.close()
    with pytest.raises(batching.BatcherClosed):
        batcher.compute("toy", requests[0], TIMEOUT)
    assert batcher.join(TIMEOUT) and not batcher.alive


def test_concatenate_pads_texts_and_split_cuts_each_request_to_its_own_k():
    requests = [batching._Request("toy", arrays, len(arrays["k"]), None) for arrays in
                (_toy_request([[b"a"]], [1]), _toy_request([[b"b", b"c"], [b"d", b""]], [3, 2]))]
    joined = batching.concatenate(requests, TOY_PLAN)
    assert joined["text"].tolist() == [[b"a", b""], [b"b", b"c"], [b"d", b""]]
    assert joined["k"].tolist() == [1, 3, 2]
    first, second = batching.split(_toy_signature("toy", joined), requests, TOY_PLAN)
    assert first["words"].tolist() == [[b"a0"]] and first["texts"].tolist() == [1]
    assert second["words"].tolist() == [[b"b+c0", b"b+c1", b"b+c2"], [b"d0", b"d1", b""]]
    with pytest.raises(batching._CannotSplit, match="not max"):
        batching.split({"words": joined["text"]}, requests, TOY_PLAN)   # 2 wide, not 3



def test_the_batch_plans_of_the_signatures(batched):
    plans = batched.model.batcher._plans
    assert plans["recommend_text"] == batching.BatchPlan(
        True, frozenset({"text"}), frozenset({"item_ids", "scores"}), "k")
    assert plans["recommend_user"] == batching.BatchPlan(
        True, frozenset(), frozenset({"item_ids", "scores"}), "k")
    assert plans["explain"] == batching.BatchPlan(
        True, frozenset(), frozenset({"history_item_ids", "contributions"}), "n")
    assert plans["embed_text"] == batching.BatchPlan(True)


@pytest.mark.parametrize("options, words", [
    ({"batch_window_ms": -1}, "batch_window_ms must be 0 (no batching) or more"),
    ({"batch_window_ms": float("nan")}, "batch_window_ms must be 0"),
    ({"batch_window_ms": float("inf")}, "batch_window_ms must be 0"),
    ({"batch_window_ms": "soon"}, "batch_window_ms must be a number of milliseconds"),
    ({"max_batch_rows": 0}, "max_batch_rows must be a whole number of at least 1, got 0"),
    ({"max_batch_rows": -3}, "got -3"),
    ({"max_batch_rows": 2.5}, "got 2.5"),
    ({"max_batch_rows": True}, "got True"),
])
def test_bad_batching_options_are_refused(tmp_path, options, words):
    # Refused before anything is loaded (there is no export in tmp_path).
    with pytest.raises(ValueError, match=None) as raised:
        server_module.make_server(tmp_path, port=0, **options)
    assert words in str(raised.value)
    with pytest.raises(ValueError):
        server_module.ServedModel(tmp_path, **options)


def test_cli_batching_options(capsys):
    args = cli.build_parser().parse_args(["serve", "exports/textrec"])
    assert (args.batch_window_ms, args.max_batch_rows) == (2.0, 64)
    assert (args.batch_window_ms, args.max_batch_rows) == (
        server_module.BATCH_WINDOW_MS, server_module.MAX_BATCH_ROWS)
    args = cli.build_parser().parse_args(["serve", "x", "--batch-window-ms", "0",
                                          "--max-batch-rows", "8"])
    assert (args.batch_window_ms, args.max_batch_rows) == (0.0, 8)
    for flag, value in [("--batch-window-ms", "-1"), ("--batch-window-ms", "nan"),
                        ("--max-batch-rows", "0")]:
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["serve", "x", flag, value])
        assert flag in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    assert "--batch-window-ms" in help_text and "--max-batch-rows" in help_text


# -- stopping -----------------------------------------------------------------------------------

def _batch_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("textrec-batch-") and
            t.is_alive()]


@pytest.mark.slow
def test_a_replaced_version_answers_its_waiting_requests_and_its_threads_exit(trained_export,
                                                                              tmp_path, users):
    root = tmp_path / "models" / "textrec"
    # Hard links: a version folder in no time and no space.
    shutil.copytree(trained_export.path, root / "1", copy_function=os.link)
    body = {"signature_name": "recommend_user", "instances": [{"user_id": users[0], "k": 4}]}
    threads_before = len(_batch_threads())
    with server_module.start_server(root, port=0, quiet=True, warm_up=False, poll_seconds=0,
                                    queue_timeout=TIMEOUT) as handle:
        handle.server.watcher.log = lambda line: None
        expected = post(handle, body)
        old = handle.model
        assert len(_batch_threads()) == threads_before + old.max_concurrent
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            with slots_held(old):
                waiting = pool.submit(old.predict, body)     # a request that read the old one
                deadline = time.monotonic() + TIMEOUT
                while old.stats()["waiting"] < 1 and time.monotonic() < deadline:
                    time.sleep(0.01)
                shutil.copytree(root / "1", root / "2", copy_function=os.link)
                assert handle.server.watcher.poll_once()       # the swap closes version 1
                assert handle.model.version == 2 and old.batcher.alive
            assert_same_answer(waiting.result(timeout=TIMEOUT), expected[1])
        assert old.batcher.join(TIMEOUT)
        # A request that still holds the closed version is computed alone.
        assert_same_answer(old.predict(body), expected[1])
        for version in (3, 4, 5):        # no thread left behind, however many reloads
            replaced = handle.model
            shutil.copytree(root / "1", root / str(version), copy_function=os.link)
            assert handle.server.watcher.poll_once()
            assert replaced.batcher.join(TIMEOUT)
            assert post(handle, body) == expected
        assert len(_batch_threads()) == threads_before + handle.model.max_concurrent
    assert len(_batch_threads()) == threads_before          # stopping the server ends them
