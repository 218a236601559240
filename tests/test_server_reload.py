"""A newer export version is served without a restart (``textrec serve`` watching
``<folder>/<name>``), and the model card says which data window a version learned from.

Each test works on its own copy of the session's trained export, so the shared one keeps its
single version. Swaps are driven with ``watcher.poll_once()`` (deterministic); one test lets
the watching thread do it, with a generous deadline and a bounded loop.
"""

import json
import shutil
import time
import urllib.request

import pytest

from textrec import export
from textrec.export import server as server_module
from textrec.export.card import CARD_JSON

pytestmark = pytest.mark.slow


def _status(handle) -> dict:
    with urllib.request.urlopen(f"{handle.url}/v1/models/textrec", timeout=60) as response:
        return json.loads(response.read())


def _served_version(handle) -> str:
    return _status(handle)["model_version_status"][0]["version"]


def _predict(handle) -> dict:
    body = json.dumps({"signature_name": "recommend_text",
                       "instances": [{"text": ["warm tone"], "user_id": "", "k": 3}]}).encode()
    request = urllib.request.Request(f"{handle.url}/v1/models/textrec:predict", data=body,
                                     method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture()
def root(trained_export, tmp_path):
    root = tmp_path / "models" / "textrec"
    shutil.copytree(trained_export.path, root / "1")
    return root


def test_the_card_gives_the_data_window(trained_export):
    window = export.read_card(trained_export.path)["model"]["data_window"]
    train = trained_export.train
    assert window["reviews"] == len(train)
    assert window["first review"] <= window["last review"]
    assert "Data window:" in (trained_export.path / "model_card.md").read_text()


def test_a_new_version_is_served_without_a_restart(root):
    with server_module.start_server(root, port=0, quiet=True,
                                    warm_up=False, poll_seconds=0) as handle:
        assert _served_version(handle) == "1"
        before = _predict(handle)
        # An unfinished copy (no model card yet, as while export_recommender writes) is left
        # alone; once the card is there, the next poll serves it.
        shutil.copytree(root / "1", root / "2", ignore=shutil.ignore_patterns(CARD_JSON))
        assert not handle.server.watcher.poll_once() and _served_version(handle) == "1"
        shutil.copy(root / "1" / CARD_JSON, root / "2" / CARD_JSON)
        assert handle.server.watcher.poll_once()
        assert _served_version(handle) == "2"
        assert _predict(handle) == before  # the same model copied: the same answers


def test_a_broken_version_is_reported_and_the_current_one_keeps_serving(root):
    lines = []
    with server_module.start_server(root, port=0, quiet=True,
                                    warm_up=False, poll_seconds=0) as handle:
        handle.server.watcher.log = lines.append
        (root / "7").mkdir()
        (root / "7" / "saved_model.pb").write_bytes(b"not a SavedModel")
        shutil.copy(root / "1" / CARD_JSON, root / "7" / CARD_JSON)
        assert not handle.server.watcher.poll_once()
        assert not handle.server.watcher.poll_once()  # reported once, then skipped
        assert len(lines) == 1 and "version 7" in lines[0] and "still serving version 1" in lines[0]
        assert _served_version(handle) == "1" and _predict(handle)["predictions"]


def test_the_watching_thread_swaps_by_itself(root):
    with server_module.start_server(root, port=0, quiet=True,
                                    warm_up=False, poll_seconds=0.2) as handle:
        handle.server.watcher.log = lambda line: None
        shutil.copytree(root / "1", root / "3")
        deadline = time.monotonic() + 120  # loading takes seconds; a busy machine, more
        while _served_version(handle) != "3" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _served_version(handle) == "3"


def test_a_version_folder_given_directly_stays(root):
    with server_module.start_server(root / "1", port=0, quiet=True,
                                    warm_up=False, poll_seconds=0.2) as handle:
        assert handle.server.watcher.pinned and handle.server.watcher._thread is None
        shutil.copytree(root / "1", root / "2")
        assert not handle.server.watcher.poll_once() and _served_version(handle) == "1"


def test_warm_up_first_compiles_every_shape_before_a_version_serves(root):
    """``warm_up="first"`` (``--warm-up first``): at start and before a swap, the XLA encoder is
    compiled on every bucket shape before the version serves; what it took is said. (The
    default compiles behind the requests: test_server_warmup.py.)"""
    buckets = export.read_card(root / "1")["model"]["compiled_encoder"]
    shapes = len(buckets["lengths"]) * len(buckets["batch_sizes"])
    lines = []
    with server_module.start_server(root, port=0, quiet=True, poll_seconds=0,
                                    warm_up="first") as handle:
        warm = handle.model.warm
        assert (warm["mode"], warm["shapes"], warm["compiled"]) == ("first", shapes, shapes)
        assert handle.model.loaded.encoder_shapes()["ready"].numpy().all()
        assert f"compiled for {shapes} input shapes" in server_module.lifecycle.usage(
            handle.server)
        handle.server.watcher.log = lines.append
        shutil.copytree(root / "1", root / "2")
        assert handle.server.watcher.poll_once()
        assert handle.model.version == 2 and handle.model.warm["compiled"] == shapes
        assert len(lines) == 1 and f"encoder compiled for {shapes} shapes" in lines[0]
        assert _predict(handle)["predictions"]
