"""The two-tower recipe trained by several worker processes with
``tf.distribute.MultiWorkerMirroredStrategy``, on this machine's loopback ports.

Every worker is a separate Python process that runs :func:`worker_main`:

1. it reads ``TF_CONFIG``, which names every worker's address and its own index
   (``{"cluster": {"worker": ["127.0.0.1:P0", "127.0.0.1:P1"]}, "task": {"type": "worker",
   "index": 1}}``); on Kubernetes (the Kubeflow training operator) or Vertex AI the platform
   writes this variable for each replica;
2. it builds the same model from the same inputs with the recipe's public API
   (:func:`textrec.models.two_tower_recipe`, ``Recipe.fit(strategy=...)``); each step every
   worker takes its share of the *global* batch, computes gradients, and an all-reduce
   averages them, so every worker holds the same weights;
3. ``tf.keras.callbacks.BackupAndRestore`` saves the training state at each epoch's end under
   the job folder (shared storage on a cluster), so a restarted worker resumes there;
4. the chief (worker 0) evaluates on validation (full-ranking NDCG@10 and HR@10, per user) and
   writes ``result.json``.

:func:`train_on_workers` starts the workers, waits at most ``timeout`` seconds, and always
stops every process it started (a process group each), also on a failure or a timeout.
``workers=1`` runs the same script in one process with the default strategy: the reference.

Run it from a shell: ``textrec train-workers --data FILE --workers 2``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

JOB_FILE, RESULT_FILE = "job.json", "result.json"


@dataclasses.dataclass(frozen=True)
class WorkerJob:
    """What every worker trains: the recipe's settings ``changes`` (e.g. ``{"use_text":
    False}``), ``epochs`` and global ``batch_size`` (None: the recipe's and the profile's),
    ``seed``, ``threads`` per worker (TensorFlow's intra- and inter-op threads; None: its
    choice), and ``backup`` (BackupAndRestore under the job folder)."""

    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 42
    threads: int | None = None
    backup: bool = True
    changes: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainingRun:
    """What a run gave: ``metrics`` (validation ``ndcg@10``, ``hr@10``, their 95% bootstrap
    intervals), ``per_user`` (validation NDCG@10 per user, NaN where none), ``history`` (the
    Keras logs per epoch), ``fit_seconds`` (the chief's ``fit``), ``wall_seconds`` (from the
    first process started to the last stopped), ``workers`` and the processes' ``pids``."""

    metrics: dict
    per_user: np.ndarray
    history: dict
    fit_seconds: float
    wall_seconds: float
    workers: int
    pids: list


class WorkerFailed(RuntimeError):
    """A worker exited with an error; the message holds the end of its log."""


# ----------------------------------------------------------------- inputs, written once


def save_inputs(folder, split, user_text, item_text, job: WorkerJob | None = None) -> Path:
    """Write what every worker reads into ``folder``: the split (train interactions and the
    validation targets), the users' and items' text vectors and the job."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    split.save(folder / "split")
    for name, vectors in (("user_text", user_text), ("item_text", item_text)):
        np.savez(folder / f"{name}.npz", ids=np.asarray(vectors.ids, str),
                 vectors=vectors.vectors, empty=vectors.empty)
    (folder / JOB_FILE).write_text(json.dumps(dataclasses.asdict(job or WorkerJob()), indent=2))
    return folder


def _load_inputs(folder: Path):
    from textrec.data.splits import Split
    from textrec.interests.vectors import TextVectors

    split = Split.load(folder / "split")
    texts = {}
    for name, kind in (("user_text", "user"), ("item_text", "item")):
        with np.load(folder / f"{name}.npz") as arrays:
            texts[name] = TextVectors(arrays["ids"].astype(object), arrays["vectors"],
                                      arrays["empty"], kind)
    job = WorkerJob(**json.loads((folder / JOB_FILE).read_text()))
    return split, texts["user_text"], texts["item_text"], job


# ----------------------------------------------------------------- one worker


def worker_main(folder) -> None:
    """One worker's whole life (see the module docstring); ``TF_CONFIG`` says which."""
    import textrec  # noqa: F401  (before TensorFlow: the Keras 2 API)

    folder = Path(folder)
    config_json = os.environ.get("TF_CONFIG")
    task = json.loads(config_json)["task"] if config_json else {"type": "worker", "index": 0}
    import tensorflow as tf

    # The strategy must exist before any other TensorFlow op runs.
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if config_json else None
    from textrec import config, models
    from textrec.data import tfdata
    from textrec.evaluation import bootstrap_ci, heldout, ranking_metrics

    split, user_text, item_text, job = _load_inputs(folder)
    recipe = models.two_tower_recipe(user_text, item_text, split.train, **job.changes)
    batch_size = job.batch_size or config.get_profile().batch_size
    validation = tfdata.interactions_dataset(split.validation, batch_size=batch_size)
    callbacks = []
    if job.backup:
        callbacks.append(tf.keras.callbacks.BackupAndRestore(str(folder / "backup")))
    start = time.perf_counter()
    history = recipe.fit(validation, epochs=job.epochs, batch_size=batch_size, seed=job.seed,
                         callbacks=callbacks, strategy=strategy)
    fit_seconds = time.perf_counter() - start
    if task["index"] != 0:
        return
    model = history.model
    targets, seen = heldout(split, "validation", user_text.ids, item_text.ids)
    scores = models.score_matrix(model.query_model, model.candidate_model, user_text.ids,
                                 item_text.ids)
    found = ranking_metrics(scores, targets, exclude=seen, ks=(10,), per_user=True)
    per_user = found["per_user"]
    metrics = {}
    for name in ("ndcg@10", "hr@10"):
        mean, low, high = bootstrap_ci(per_user[name], seed=job.seed)
        metrics.update({name: mean, f"{name} low": low, f"{name} high": high})
    metrics["users evaluated"] = int(found["n_users_evaluated"])
    np.save(folder / "per_user_ndcg.npy", per_user["ndcg@10"])
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    (folder / RESULT_FILE).write_text(json.dumps(
        {"metrics": metrics, "history": logs, "fit_seconds": fit_seconds,
         "replicas": int(strategy.num_replicas_in_sync) if strategy else 1}, indent=2))


# ----------------------------------------------------------------- the launcher


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` ports free on ``host`` right now (the system picks them)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports, index: int, host: str = "127.0.0.1") -> dict:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on ``ports``."""
    return {"cluster": {"worker": [f"{host}:{port}" for port in ports]},
            "task": {"type": "worker", "index": int(index)}}


def _stop(processes) -> None:
    """Stop every process group we started: SIGTERM, then SIGKILL after 5 s."""
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def train_on_workers(folder, workers: int = 2, timeout: float = 900.0,
                     poll_seconds: float = 0.5) -> TrainingRun:
    """Train on ``workers`` local processes from the inputs :func:`save_inputs` wrote to
    ``folder``; returns the chief's :class:`TrainingRun`. Raises ``TimeoutError`` after
    ``timeout`` seconds and :class:`WorkerFailed` when a worker fails; in every case each
    process started here is stopped before returning (their pids are in the result or the
    exception's ``pids``)."""
    folder = Path(folder)
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not (folder / JOB_FILE).is_file():
        raise FileNotFoundError(f"{folder / JOB_FILE} not found: write the inputs with "
                                "save_inputs() first")
    for stale in (RESULT_FILE, "per_user_ndcg.npy"):
        (folder / stale).unlink(missing_ok=True)
    job = WorkerJob(**json.loads((folder / JOB_FILE).read_text()))
    ports = free_ports(workers) if workers > 1 else []
    processes, logs = [], []
    start = time.perf_counter()
    try:
        for index in range(workers):
            env = dict(os.environ)
            env.pop("TF_CONFIG", None)
            if workers > 1:
                env["TF_CONFIG"] = json.dumps(tf_config(ports, index))
            if job.threads:
                env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(job.threads)
            log = folder / f"worker-{index}.log"
            logs.append(log)
            with open(log, "w") as handle:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "textrec.scale.multiworker", str(folder)],
                    env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True))
        while any(process.poll() is None for process in processes):
            failed = [i for i, p in enumerate(processes) if p.poll() not in (None, 0)]
            if failed:
                index = failed[0]
                raise WorkerFailed(f"worker {index} exited with status "
                                   f"{processes[index].returncode}; the end of its log "
                                   f"({logs[index]}):\n{_tail(logs[index])}")
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"the {workers} workers did not finish within {timeout:g} s; "
                                   f"stopped them (logs: {', '.join(map(str, logs))})")
            time.sleep(poll_seconds)
        failed = [i for i, p in enumerate(processes) if p.returncode != 0]
        if failed:
            index = failed[0]
            raise WorkerFailed(f"worker {index} exited with status "
                               f"{processes[index].returncode}; the end of its log "
                               f"({logs[index]}):\n{_tail(logs[index])}")
    except BaseException as error:
        _stop(processes)
        error.pids = [p.pid for p in processes]
        raise
    _stop(processes)
    wall = time.perf_counter() - start
    result = json.loads((folder / RESULT_FILE).read_text())
    return TrainingRun(metrics=result["metrics"],
                       per_user=np.load(folder / "per_user_ndcg.npy"),
                       history=result["history"], fit_seconds=float(result["fit_seconds"]),
                       wall_seconds=wall, workers=workers, pids=[p.pid for p in processes])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one worker of textrec's multi-worker "
                                                 "training (started by train_on_workers)")
    parser.add_argument("folder")
    worker_main(parser.parse_args(argv).folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
