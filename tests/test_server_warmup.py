"""``textrec serve`` answers at once while the encoder's shapes compile behind the requests
(textrec.export.server.warmup), at start and for a newer version.

No test depends on how fast the machine is: the compiling thread is held at a gate (a
semaphore the test releases one shape at a time), so a test knows which shapes are compiled
when it sends a request. Answers during the warm-up (TensorFlow's graph encoder) are compared
with the compiled path's answers (a copy of the export loaded apart, every shape compiled on
demand): the same top k, scores to 1e-4.
"""

import shutil
import threading

import numpy as np
import pytest

from textrec import export
from textrec.export import server as server_module
from textrec.export.server import warmup
from tests.export_support import post_predict

pytestmark = pytest.mark.slow  # the shared trained-export fixture trains and exports a model

TIMEOUT = 120
PREDICT = "/v1/models/textrec:predict"
SHORT = ["bright strings that stay in tune", "this pedal hums"]
LONG = "the case is sturdy and the latches close well, " * 12     # past 64 tokens: cut to 64


def post(server, body) -> tuple:
    return post_predict(server, body, TIMEOUT)


def text_request(texts, k=5):
    return {"signature_name": "recommend_text",
            "instances": [{"text": [text], "user_id": "", "k": k} for text in texts]}


def compiled_answer(reference, texts, k=5) -> dict:
    return export.call_signature(reference, "recommend_text", text=[[t] for t in texts],
                                 user_id=[""] * len(texts), k=[k] * len(texts))


def assert_same_top_k(payload, expected):
    rows = payload["predictions"]
    assert [row["item_ids"] for row in rows] == expected["item_ids"].tolist()
    np.testing.assert_allclose(np.array([row["scores"] for row in rows], np.float32),
                               expected["scores"], rtol=1e-4, atol=1e-4)


class Gate:
    """Holds the compiling thread before each shape until :meth:`open_one`."""

    def __init__(self, monkeypatch):
        self.allowed = threading.Semaphore(0)
        self.waiting = threading.Event()
        self.compiled = threading.Semaphore(0)
        original = warmup.EncoderWarmUp._compile
        gate = self

        def gated(self, index):
            gate.waiting.set()
            if not gate.allowed.acquire(timeout=TIMEOUT) or self._stop.is_set():
                return
            original(self, index)
            gate.compiled.release()

        monkeypatch.setattr(warmup.EncoderWarmUp, "_compile", gated)

    def open_one(self) -> None:
        """Let one shape compile and wait until it has."""
        self.allowed.release()
        assert self.compiled.acquire(timeout=TIMEOUT)

    def release_all(self) -> None:
        for _ in range(100):
            self.allowed.release()


@pytest.fixture()
def root(trained_export, tmp_path):
    """A copy of the session's export: loaded apart from it, so its compile flags are its own."""
    root = tmp_path / "models" / "textrec"
    shutil.copytree(trained_export.path, root / "1")
    return root


@pytest.fixture()
def reference(trained_export):
    """The compiled path: a copy loaded apart, every shape marked compiled (each compiles on
    its first call)."""
    loaded = export.load_export(trained_export.path, shared=False)
    assert loaded.encoder_shapes()["ready"].numpy().all()
    return loaded


def test_requests_are_answered_through_the_graph_while_the_shapes_compile(root, reference,
                                                                          monkeypatch):
    gate = Gate(monkeypatch)
    handle = server_module.start_server(root, port=0, quiet=True, poll_seconds=0)
    try:
        model = handle.model
        assert gate.waiting.wait(TIMEOUT)       # the signatures are built; no shape compiled
        assert model.warm["mode"] == "background" and model.warm["compiled"] == 0
        # Each signature built once, with its first warm-up record (recommend_text's: one
        # text of the first shape), before any shape compiles.
        assert set(model.warm["primed"]) == {"serving_default", "recommend_user",
                                             "recommend_text", "embed_text", "explain"}
        shapes = model.loaded.encoder_shapes()
        assert not shapes["ready"].numpy().any()
        assert shapes["shapes"].numpy()[0].tolist() == [1, 16]   # one short text compiles first
        # Shapes (1, 16), (2, 16) and (1, 64): none compiled, all answered through the graph.
        for texts in ([SHORT[0]], SHORT, [LONG]):
            status, payload = post(handle, text_request(texts))
            assert status == 200, payload
            assert_same_top_k(payload, compiled_answer(reference, texts))
        assert not model.loaded.encoder_shapes()["ready"].numpy().any()
        # The first shape compiles: one short text now runs compiled, two still take the graph.
        gate.open_one()
        ready = model.loaded.encoder_shapes()["ready"].numpy()
        assert ready[0] and not ready[1:].any() and model.warm["compiled"] == 1
        for texts in ([SHORT[1]], SHORT):
            status, payload = post(handle, text_request(texts))
            assert status == 200, payload
            assert_same_top_k(payload, compiled_answer(reference, texts))
        assert "compiled behind the requests" in server_module.usage(handle.server)
    finally:
        handle.stop()
        gate.release_all()


def test_a_new_version_is_served_at_once_while_its_shapes_compile(root, reference, monkeypatch):
    gate = Gate(monkeypatch)
    lines = []
    with server_module.start_server(root, port=0, quiet=True, poll_seconds=0) as handle:
        try:
            handle.server.watcher.log = lines.append
            shutil.copytree(root / "1", root / "2")
            assert handle.server.watcher.poll_once()           # loaded and primed, then swapped
            model = handle.model
            assert model.version == 2 and model.warm["compiled"] == 0
            assert set(model.warm["primed"]) >= {"serving_default", "explain"}
            assert len(lines) == 1 and "shapes compile behind the requests" in lines[0]
            status, payload = post(handle, text_request([SHORT[0]]))
            assert status == 200
            assert_same_top_k(payload, compiled_answer(reference, [SHORT[0]]))
            assert not model.loaded.encoder_shapes()["ready"].numpy().any()
        finally:
            gate.release_all()


def test_the_warm_up_waits_for_a_moment_without_model_calls():
    activity = warmup.Activity()
    assert activity.wait_idle(0)
    with activity:
        assert activity.running == 1 and not activity.wait_idle(0.01)
        done = threading.Event()
        waiter = threading.Thread(target=lambda: done.set() if activity.wait_idle(TIMEOUT)
                                  else None)
        waiter.start()
        assert not done.wait(0.05)
    waiter.join(TIMEOUT)
    assert done.is_set() and activity.running == 0


def test_warm_up_modes_are_checked():
    assert warmup.check_mode(True) == "background" and warmup.check_mode(False) == "none"
    assert [warmup.check_mode(mode) for mode in warmup.MODES] == list(warmup.MODES)
    with pytest.raises(ValueError, match="warm_up must be one of"):
        warmup.check_mode("later")


def test_cli_warm_up_option():
    from textrec import cli

    parser = cli.build_parser()
    assert parser.parse_args(["serve", "x"]).warm_up == "background"
    assert parser.parse_args(["serve", "x", "--warm-up", "first"]).warm_up == "first"
    assert parser.parse_args(["serve", "x", "--no-warm-up"]).no_warm_up
