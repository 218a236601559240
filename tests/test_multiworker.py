"""Lesson 11: the two-tower recipe on two worker processes on loopback ports
(MultiWorkerMirroredStrategy), bounded in time, stopping every process it started."""

import json
import os

import numpy as np
import pytest

from textrec.scale import multiworker


def _gone(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0) until reaped; ours are reaped by wait().
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] == "Z"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Inputs every worker reads: a small synthetic split and random 16-dim text vectors (the
    training does not care where the vectors come from)."""
    from textrec.data.prepare import prepare_data
    from textrec.interests.vectors import TextVectors

    data = prepare_data("synthetic", profile="quick")
    rng = np.random.default_rng(0)

    def vectors(ids, kind):
        rows = rng.normal(size=(len(ids), 16)).astype(np.float32)
        return TextVectors(np.asarray(ids, object), rows / np.linalg.norm(rows, axis=1)[:, None],
                           np.zeros(len(ids), bool), kind)

    folder = tmp_path_factory.mktemp("workers")
    users = sorted(data.split.train["user_id"].unique())
    items = sorted(data.reviews["item_id"].unique())
    return multiworker.save_inputs(folder, data.split, vectors(users, "user"),
                                   vectors(items, "item"),
                                   multiworker.WorkerJob(epochs=1, threads=1))


def test_tf_config_names_every_worker_and_this_one():
    ports = multiworker.free_ports(2)
    assert len(set(ports)) == 2
    config = multiworker.tf_config(ports, 1)
    assert config == {"cluster": {"worker": [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"]},
                      "task": {"type": "worker", "index": 1}}


@pytest.mark.slow
def test_two_workers_train_like_one_and_stop(job):
    one = multiworker.train_on_workers(job, workers=1, timeout=600)
    two = multiworker.train_on_workers(job, workers=2, timeout=600)
    assert two.workers == 2 and len(two.pids) == 2
    assert all(_gone(pid) for pid in one.pids + two.pids)
    assert json.loads((job / multiworker.RESULT_FILE).read_text())["replicas"] == 2
    # The same global batches and seed: two workers land within one worker's interval.
    assert one.metrics["ndcg@10 low"] <= two.metrics["ndcg@10"] <= one.metrics["ndcg@10 high"]
    assert two.per_user.shape == one.per_user.shape
    assert len(two.history["retrieval_loss"]) == 1


@pytest.mark.slow
def test_a_run_past_its_time_is_stopped(job):
    with pytest.raises(TimeoutError, match="did not finish within 1 s") as raised:
        multiworker.train_on_workers(job, workers=2, timeout=1)
    assert len(raised.value.pids) == 2 and all(_gone(pid) for pid in raised.value.pids)


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_inputs"):
        multiworker.train_on_workers(tmp_path, workers=2)
