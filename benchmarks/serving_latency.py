"""Serving latency and throughput (lesson 08, issue #18): the export against sentence-transformers.

    python benchmarks/serving_latency.py [--data PATH] [--calls 200] [--batches 20]
        [--batch-size 64] [--k 10] [--epochs 1] [--alternative-python PYTHON]
        [--clients 8] [--concurrent-requests 25] [--concurrent-rounds 3]
        [--serve-args "..."] [--variant-serve-args "..."] [--alternative-slots 2]
        [--embed-texts 2000] [--embed-repeats 2] [--embed-batch-size 64]
        [--skip-single] [--skip-concurrent] [--skip-embed] [--quick] [--no-merge]
        [--graph-encoder] [--tf-threads N] [--tf-inter-threads N] [--torch-threads N]
        [--onednn-bf16] [--out benchmarks/results/serving_latency.md]

Three parts, each against the same alternative, both sides in the same run, taking turns:
**one query and batches** (in-process calls, below), **concurrent load over HTTP** (``textrec
serve`` and a plain HTTP server around the alternative, each in its own process, ``--clients``
client threads; see ``serving_parts.py``) and **embedding throughput** (``TextEmbedder``
against ``SentenceTransformer.encode``). ``--skip-single``/``--skip-concurrent``/``--skip-embed``
leave a part out (the skipped parts are carried over, marked, from the existing JSON unless
``--no-merge``); ``--quick`` is a smoke run with fewer calls. Writes ``--out`` (markdown) and
the same stem ``.json``: ``single_query_ratio`` (export median / alternative median, one query),
``concurrent_throughput_ratio`` (export / alternative requests/s), ``embed_throughput_ratio``
(TextEmbedder / sentence-transformers texts/s), ``start_to_first_answer_s``, ``aims``,
``load_average`` and each part's raw figures (``single_query``, ``concurrent_load``,
``embedding``, each with its own ``run`` stamp and load averages).

One run trains, exports, reloads and times, on the shared real data (Amazon 2014 Musical
Instruments, 5-core; ``--data PATH`` or ``TEXTREC_REAL_DATA``):

* **model**: the course's joint model (lesson 05: query tower = user id embedding 32 + interest
  vector -> Dense 64 projection -> Dense 64 -> 32; candidate tower = item id embedding 32 + the
  item's review vector -> Dense 64 -> 32), trained ``--epochs`` on the train split. Quality does
  not matter here; sizes do: all 900 items, all-MiniLM-L6-v2 (6 layers, 384 wide), at most the
  profile's ``max_seq_length`` tokens (128 in the quick profile);
* **export**: ``textrec.export.export_recommender`` to a temporary folder, then
  ``textrec.export.load_export``. Timed: ``recommend_text`` through the reloaded signature, one
  anonymous user (``user_id=""``), k=10, including building the input tensors and bringing
  ``item_ids`` and ``scores`` back as NumPy. Inside the call: WordPiece tokenisation
  (tensorflow-text), the encoder, mean pooling, the query tower, scores against the 900 item
  embeddings, the seen-item mask (empty for an anonymous user) and top-k;
* **alternative** ("sentence-transformers + NumPy"): ``SentenceTransformer.encode`` on the same
  all-MiniLM-L6-v2 weights (the offline package folder, ``max_seq_length`` the same, unit
  vectors; its tokenizer, encoder and pooling), then the trained query tower re-implemented in
  NumPy from its weights (the out-of-vocabulary id embedding an anonymous user gets, then the
  Dense layers), then ``query @ items.T`` against the *same* item embedding matrix the export
  holds and ``np.argpartition`` top-k (sorted, ids looked up), excluding nothing (an anonymous
  user has seen nothing). Timed from the list of strings to the ids and scores as NumPy, like the
  export. Included on neither side: HTTP, JSON, loading;
* **figures**: single-query latency over ``--calls`` real review texts of the test split (blank
  reviews left out), one text per call (median and p95 in ms), and throughput for ``--batches``
  batches of ``--batch-size`` texts (queries/s = texts over total time), after 5 warm-up calls
  and one warm-up batch each. The implementations take turns in blocks (``--block`` single calls,
  a tenth as many batches), the order rotated every block, so that other jobs on a shared CPU
  slow them alike. Also: the export's size on disk, the time to load it in this process, and in
  a fresh Python process the import, load and first-call times (a server's cold start). The
  top-10 lists of the two are compared text by text.

Things to try for speed (each reported beside the plain export, never instead of it):
``--graph-encoder`` also exports and times the export as it was before issue #18: its encoder
in TensorFlow's graph, not XLA (``ExportSettings(compiled_encoder=False)``);
``--tf-threads``/``--tf-inter-threads`` and ``--torch-threads`` set the thread pools;
``--onednn-bf16`` serves with grappler's oneDNN bfloat16 rewrite.

sentence-transformers needs PyTorch, which is not a course dependency. It is used in-process when
importable; better, point ``--alternative-python`` at the Python of an environment that has it,
and the alternative runs there in a worker process (this same script with ``--worker``; it
imports only NumPy, PyTorch and sentence-transformers, and times itself with
``textrec/export/latency.py`` loaded from its file). In one process PyTorch's and TensorFlow's
thread pools get in each other's way, which slows single queries of the alternative several
times over. To make such an environment:

    python3.11 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    /tmp/benchvenv/bin/pip install sentence-transformers

Without either, only the export is measured.

Concurrent load: ``textrec serve`` runs as ``python -m textrec.cli serve MODEL_FOLDER --quiet
--port P`` plus ``--serve-args`` (e.g. batching flags), with this interpreter and this working
tree's ``textrec``; the alternative's server (this script with ``--alternative-server`` under
``--alternative-python``) is the standard library's ``ThreadingHTTPServer`` answering the same
``:predict`` body with the same JSON shape, ``--alternative-slots`` SentenceTransformer models,
one ``encode`` call per request. ``--variant-serve-args "..."`` adds the same export under
``textrec serve`` with other flags as a third side in the same turns (e.g. batching off), shown
beside the export, counting for no aim. Each client sends real test-split texts, one per
request, each on a new connection; both servers get the same texts; their top-k ids are compared
text by text. Start to first answer: from starting a server's process to its first 200 answer.

Embedding: ``TextEmbedder(max_length=..., use_cache=False).embed(texts, progress=False)`` in this
process against ``SentenceTransformer.encode(texts, batch_size=64, normalize_embeddings=True)``
in the alternative's worker, ``--embed-texts`` distinct real reviews, one warm-up pass each (its
time reported: it may include graph building or compilation), then ``--embed-repeats`` timed
passes each in turns; the cosine between the two vectors of each text.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import git_revision, machine, markdown_table, real_data_path
from serving_parts import load_average

ROOT = Path(__file__).resolve().parents[1]
REPLY = "@@serving_latency "          # the worker's reply lines start with this
WARMUP_SINGLE = 5


# --- shared by both sides (NumPy only) ----------------------------------------------------------

def _latency_module():
    """``textrec.export.latency`` loaded from its file: the worker must not import textrec (its
    package imports TensorFlow)."""
    spec = importlib.util.spec_from_file_location(
        "textrec_export_latency", ROOT / "textrec" / "export" / "latency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numpy_query_tower(weights, text_vectors: np.ndarray) -> np.ndarray:
    """The query tower's ``combine`` for anonymous users, in NumPy: [oov id embedding,
    relu(text @ W + b) (the projection)] -> relu Dense hidden layers -> linear output layer
    (-> unit length when the tower normalises)."""
    text = np.asarray(text_vectors, np.float32)
    n = len(text)
    parts = []
    if "oov_id_vector" in weights:
        parts.append(np.broadcast_to(weights["oov_id_vector"], (n, len(weights["oov_id_vector"]))))
    if "projection_kernel" in weights:
        text = np.maximum(text @ weights["projection_kernel"] + weights["projection_bias"], 0.0)
    parts.append(text)
    x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
    layer = 0
    while f"hidden{layer}_kernel" in weights:
        x = np.maximum(x @ weights[f"hidden{layer}_kernel"] + weights[f"hidden{layer}_bias"], 0.0)
        layer += 1
    if "output_kernel" in weights:
        x = x @ weights["output_kernel"] + weights["output_bias"]
    if bool(weights["normalize"]):
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows [n, k], scores [n, k]) of the k best columns of each row, best first."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


class SentenceTransformersTopK:
    """The alternative: sentence-transformers encode -> NumPy query tower -> NumPy top-k."""

    def __init__(self, weights, model_dir: str, max_seq_length: int, k: int,
                 torch_threads: int = 0):
        import torch
        from sentence_transformers import SentenceTransformer

        if torch_threads:
            torch.set_num_threads(int(torch_threads))
        self.model = SentenceTransformer(model_dir, device="cpu")
        self.model.max_seq_length = int(max_seq_length)
        self.weights = {name: np.asarray(weights[name]) for name in weights
                        if name != "item_ids" and not name.endswith("_texts")}
        self.k = int(k)
        if "item_embeddings" not in weights:    # embedding only (no model trained this run)
            self.item_embeddings = self.item_ids = None
            return
        self.item_embeddings = np.ascontiguousarray(weights["item_embeddings"], np.float32)
        self.item_ids = np.asarray(weights["item_ids"])

    def recommend(self, texts) -> tuple[np.ndarray, np.ndarray]:
        if self.item_embeddings is None:
            raise RuntimeError("no query tower and item embeddings were given")
        texts = list(texts)
        vectors = self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        queries = numpy_query_tower(self.weights, vectors)
        rows, scores = top_k(queries @ self.item_embeddings.T, self.k)
        return self.item_ids[rows], scores

    @staticmethod
    def versions() -> dict:
        import sentence_transformers
        import torch
        import transformers

        return {"python": platform.python_version(), "torch": torch.__version__,
                "sentence-transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__, "numpy": np.__version__,
                "torch threads": torch.get_num_threads()}


def _decode(ids) -> list:
    """Item ids as lists of ``str`` (TensorFlow gives bytes, NumPy ``str_``)."""
    return [[i.decode() if isinstance(i, bytes) else str(i) for i in row] for row in ids]


def run_command(recommend, single_texts, batch_texts, batch_size: int, command: dict,
                latency) -> dict:
    """One timing command for either implementation (``recommend``: list of texts -> (ids,
    scores)). ``single``: one text per call, texts [start, stop); ``batch``: batches
    [start, stop) of ``batch_size`` texts; ``recommend``: the top-k ids of texts [start, stop)."""
    op, start, stop = command["op"], command["start"], command["stop"]
    if op == "single":
        return latency.time_calls(lambda text: recommend([text]),
                                  inputs=list(single_texts[start:stop]),
                                  warmup=command.get("warmup", 0))
    if op == "batch":
        batches = [list(batch_texts[b * batch_size:(b + 1) * batch_size])
                   for b in range(start, stop)]
        return latency.time_calls(recommend, inputs=batches, warmup=command.get("warmup", 0))
    if op == "recommend":
        ids, scores = recommend(list(single_texts[start:stop]))
        return {"ids": _decode(ids), "scores": np.asarray(scores).tolist()}
    raise ValueError(f"unknown command {op!r}")


def alternative_command(alternative: SentenceTransformersTopK, payload, settings: dict,
                        command: dict, latency) -> dict:
    """One command for the alternative: ``embed`` (one pass of ``SentenceTransformer.encode``
    over the embedding texts, batch ``embed_batch_size``, unit vectors; its seconds, the vectors
    saved to ``command["out"]`` as .npy when given) or one of :func:`run_command`'s."""
    if command["op"] == "embed":
        texts = [str(t) for t in payload["embed_texts"]]
        start = time.perf_counter()
        vectors = alternative.model.encode(texts, batch_size=settings["embed_batch_size"],
                                           normalize_embeddings=True, convert_to_numpy=True,
                                           show_progress_bar=False)
        seconds = time.perf_counter() - start
        if command.get("out"):
            np.save(command["out"], vectors)
        return {"seconds": seconds}
    return run_command(alternative.recommend, payload["single_texts"], payload["batch_texts"],
                       settings["batch_size"], command, latency)


def read_payload(npz_path: str) -> tuple[dict, dict]:
    """The alternative's arrays and settings, as :func:`write_payload` saved them."""
    with np.load(npz_path, allow_pickle=False) as data:
        weights = {name: data[name] for name in data.files}
    return weights, json.loads(str(weights.pop("settings")))


def write_payload(path: Path, payload: dict, settings: dict) -> Path:
    np.savez(path, settings=np.array(json.dumps(settings)), **payload)
    return path


def worker(npz_path: str) -> None:
    """The alternative in its own environment: read commands (JSON lines) on stdin, reply on
    stdout."""
    latency = _latency_module()
    weights, settings = read_payload(npz_path)
    alternative = SentenceTransformersTopK(weights, settings["model_dir"],
                                           settings["max_seq_length"], settings["k"],
                                           settings["torch_threads"])

    def reply(message):
        sys.stdout.write(REPLY + json.dumps(message) + "\n")
        sys.stdout.flush()

    reply({"versions": alternative.versions()})
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        reply(alternative_command(alternative, weights, settings, command, latency))


def alternative_server(npz_path: str, port: int, slots: int) -> None:
    """The alternative behind HTTP (``serving_parts.AlternativeServer``), in its own process:
    ``slots`` SentenceTransformer models, each request one encode call on one of them."""
    from serving_parts import serve_alternative

    import torch

    weights, settings = read_payload(npz_path)
    if settings["torch_threads"]:
        torch.set_num_threads(int(settings["torch_threads"]))
    print(REPLY + json.dumps({"versions": SentenceTransformersTopK.versions()}), flush=True)
    serve_alternative(lambda: SentenceTransformersTopK(weights, settings["model_dir"],
                                                       settings["max_seq_length"],
                                                       settings["k"], settings["torch_threads"]),
                      slots, port)


class InProcess:
    """The alternative in this process."""

    def __init__(self, payload: dict, settings: dict):
        from textrec.export import latency

        self.latency, self.payload, self.settings = latency, payload, settings
        self.alternative = SentenceTransformersTopK(payload, settings["model_dir"],
                                                    settings["max_seq_length"], settings["k"],
                                                    settings["torch_threads"])
        self.versions = {**self.alternative.versions(), "where": "in-process"}

    def run(self, command: dict) -> dict:
        return alternative_command(self.alternative, self.payload, self.settings, command,
                                   self.latency)

    def close(self) -> None:
        pass


class Worker:
    """The alternative in a worker process under another Python (``--alternative-python``)."""

    def __init__(self, python: str, npz: Path):
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", str(npz)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
        self.versions = {**self._read()["versions"], "where": f"worker process ({python})"}

    def _read(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY):])
        raise RuntimeError(f"the alternative's worker stopped (exit code {self.process.wait()})")

    def run(self, command: dict) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=60)


# --- the export side ----------------------------------------------------------------------------

def query_tower_weights(tower) -> dict:
    """What :func:`numpy_query_tower` needs from a trained ``QueryTower``."""
    import tensorflow as tf

    def dense(layer, name, activation):
        got = tf.keras.activations.serialize(layer.activation)
        got = got if isinstance(got, str) else got.get("config", {}).get("name", got)
        if got != activation:
            raise ValueError(f"{layer.name}: activation {got}, expected {activation}")
        return {f"{name}_kernel": layer.kernel.numpy(), f"{name}_bias": layer.bias.numpy()}

    weights = {"normalize": np.array(bool(tower.normalize))}
    if tower.use_ids:
        weights["oov_id_vector"] = tower.id_embedding(tf.constant([0], tf.int64)).numpy()[0]
    if tower.text_projection is not None:
        weights.update(dense(tower.text_projection, "projection", "relu"))
    for i, layer in enumerate(tower.hidden_layers):
        weights.update(dense(layer, f"hidden{i}", "relu"))
    if tower.output_layer is not None:
        weights.update(dense(tower.output_layer, "output", "linear"))
    return weights


def fresh_process_start(path: Path, text: str) -> dict:
    """Import, load and first-call seconds of the export in a new Python process."""
    code = (
        "import json, sys, time\n"
        "t0 = time.perf_counter()\n"
        "import tensorflow as tf, tensorflow_text\n"
        "t1 = time.perf_counter()\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "t2 = time.perf_counter()\n"
        "out = m.signatures['recommend_text'](text=tf.constant([[sys.argv[2]]]),"
        " user_id=tf.constant(['']), k=tf.constant([10]))\n"
        "out['item_ids'].numpy()\n"
        "t3 = time.perf_counter()\n"
        "print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1, 'first_call_s': t3 - t2}))\n")
    completed = subprocess.run([sys.executable, "-c", code, str(path), text], capture_output=True,
                               text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                               timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def prepare(args):
    """The real data, prepared (cleaned, split) as the course does."""
    from textrec import config
    from textrec.data.prepare import prepare_data

    return prepare_data(str(real_data_path(args.data)), seed=config.SEED)


def train_and_export(args, data, folder: Path) -> dict:
    """Embed the train reviews (cached), train the joint model briefly and export it; returns
    what the timing and the variant need."""
    import pandas as pd

    from textrec import config, export, interests, models
    from textrec.data import schema, tfdata
    from textrec.text import TextEmbedder

    started = time.perf_counter()
    profile = config.get_profile()
    train = data.split.train
    user_ids = tfdata.vocabulary(train[schema.USER])
    item_ids = tfdata.vocabulary(data.reviews[schema.ITEM])
    embedder = TextEmbedder(max_length=profile.max_seq_length)
    review_vectors = interests.embed_texts(embedder, train[schema.TEXT].tolist())
    user_text = interests.interest_vectors(train, review_vectors, user_ids=user_ids)
    # The 2014 file has no item descriptions: an item's text is its train reviews.
    items = pd.DataFrame({schema.ITEM: item_ids, schema.DESCRIPTION: ""})
    item_text = interests.item_text_vectors(items, train, review_vectors, None, item_ids=item_ids)
    seconds = {"embed": time.perf_counter() - started}
    probabilities = models.candidate_sampling_probabilities(train)
    mean_rating = float(train[schema.RATING].mean())

    def build():   # lesson 05's joint model (benchmarks/models_benchmark.py, weights 1/1/1)
        query = models.QueryTower(user_ids, 32, user_text, hidden_units=(64,),
                                  text_projection_units=64)
        candidate = models.CandidateTower(item_ids, 32, item_text, hidden_units=(64,))
        return models.JointModel(query, candidate, mean_rating=mean_rating,
                                 remove_accidental_hits=True,
                                 candidate_probabilities=probabilities)

    start = time.perf_counter()
    model = models.fit_model(build, models.review_dataset(train, review_vectors,
                                                          batch_size=profile.batch_size),
                             epochs=args.epochs, learning_rate=0.01).model
    seconds["train"] = time.perf_counter() - start
    start = time.perf_counter()
    parts = export.ServingParts(model, user_text, item_text, train, review_vectors, embedder)
    info = export.export_recommender(parts, folder, export.ExportSettings(data_name=data.name))
    seconds["export"] = time.perf_counter() - start
    return {"data": data, "train": train, "test": data.split.test, "model": model,
            "embedder": embedder, "review_vectors": review_vectors, "user_text": user_text,
            "item_text": item_text, "item_ids": item_ids, "info": info,
            "max_length": profile.max_seq_length, "profile": profile.name, "seconds": seconds}


def export_graph_variant(trained: dict, folder: Path) -> Path:
    """The same model exported with its encoder in TensorFlow's graph (no XLA): the export as it
    was before issue #18, timed beside the compiled one."""
    from textrec.export import ExportSettings, ServingParts, export_recommender

    parts = ServingParts(trained["model"], trained["user_text"], trained["item_text"],
                         trained["train"], trained["review_vectors"], trained["embedder"])
    return export_recommender(parts, folder, ExportSettings(name="textrec-graph",
                                                            compiled_encoder=False)).path


def recommender(loaded, k: int):
    """``texts -> (item ids, scores)`` through the reloaded ``recommend_text`` signature, for an
    anonymous user, inputs built and outputs brought back as NumPy inside."""
    import tensorflow as tf

    signature = loaded.signatures["recommend_text"]

    def recommend(texts):
        texts = list(texts)
        outputs = signature(text=tf.constant([[t] for t in texts], tf.string),
                            user_id=tf.constant([""] * len(texts), tf.string),
                            k=tf.constant([k] * len(texts), tf.int32))
        return outputs["item_ids"].numpy(), outputs["scores"].numpy()
    return recommend


def measure(sides: dict, n_single: int, n_batches: int, block: int) -> dict:
    """Warm every side up, then time them in turns: blocks of ``block`` single calls (and of
    ``block // 10`` batches), the order rotated every block; the samples of all blocks pooled.

    ``sides``: name -> ``command -> stats`` (see :func:`run_command`)."""
    from textrec.export import latency

    names = list(sides)
    for name in names:   # first calls: graph instantiation, thread pools, allocators
        sides[name]({"op": "single", "start": 0, "stop": min(WARMUP_SINGLE, n_single)})
        sides[name]({"op": "batch", "start": 0, "stop": 1})
    batch_block = max(1, block // 10)
    blocks = [("single", start, min(start + block, n_single))
              for start in range(0, n_single, block)]
    blocks += [("batch", start, min(start + batch_block, n_batches))
               for start in range(0, n_batches, batch_block)]
    samples = {(name, kind): [] for name in names for kind in ("single", "batch")}
    for number, (kind, start, stop) in enumerate(blocks):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            stats = sides[name]({"op": kind, "start": start, "stop": stop})
            samples[name, kind].extend(stats["samples_ms"])
        print(f"  block {number + 1}/{len(blocks)} ({kind}) done", flush=True)
    return {key: latency.summarize(value) for key, value in samples.items()}


def compare(ids_a, scores_a, ids_b, scores_b) -> dict:
    """How alike two sets of top-k lists are."""
    k = len(ids_a[0])
    return {"identical": sum(a == b for a, b in zip(ids_a, ids_b)), "n": len(ids_a),
            "overlap": float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids_a, ids_b)])),
            "score_difference": float(np.abs(np.asarray(scores_a, np.float64)
                                             - np.asarray(scores_b, np.float64)).max())}


def shown_arguments(argv) -> str:
    """The command line as run, the ``--note`` text left out (it is printed below)."""
    shown, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == "--note":
            shown.append('--note "..."')
            skip = True
        elif argument.startswith("--note="):
            shown.append('--note "..."')
        else:
            shown.append(shlex.quote(argument))
    return " ".join(shown)


NAMES = {"export": "textrec export (SavedModel, reloaded)",
         "export, graph encoder": "variant: export, encoder in TensorFlow's graph (before #18)",
         "alternative": "sentence-transformers + NumPy top-k"}
PARTS = {"single_query": "skip_single", "concurrent_load": "skip_concurrent",
         "embedding": "skip_embed"}
QUICK = {"calls": 40, "batches": 4, "block": 10, "concurrent_requests": 5,
         "concurrent_rounds": 2, "embed_texts": 256, "embed_repeats": 1}
AIM_SINGLE, AIM_CONCURRENT, AIM_EMBED, AIM_COSINE = 1.0, 1.5, 1.2, 0.999


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--calls", type=int, default=200, help="single-query calls to time")
    parser.add_argument("--batches", type=int, default=20, help="batches to time")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--block", type=int, default=20,
                        help="single calls per turn (batches per turn: a tenth of it)")
    parser.add_argument("--alternative-python",
                        help="a Python with torch and sentence-transformers: the alternative "
                             "runs there, in a worker process (and its HTTP server)")
    parser.add_argument("--no-alternative", action="store_true")
    parser.add_argument("--graph-encoder", action="store_true",
                        help="also time the export with its encoder in TensorFlow's graph "
                             "(compiled_encoder=False: the export before issue #18)")
    parser.add_argument("--tf-threads", type=int, default=0,
                        help="TensorFlow intra-op threads (0: TensorFlow's default)")
    parser.add_argument("--tf-inter-threads", type=int, default=0,
                        help="TensorFlow inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="PyTorch threads for the alternative (0: PyTorch's default)")
    parser.add_argument("--onednn-bf16", action="store_true",
                        help="serve with grappler's auto_mixed_precision_onednn_bfloat16 rewrite")
    load = parser.add_argument_group("concurrent load over HTTP")
    load.add_argument("--clients", type=int, default=8, help="concurrent clients")
    load.add_argument("--concurrent-requests", type=int, default=25,
                      help="requests per client per round")
    load.add_argument("--concurrent-rounds", type=int, default=3,
                      help="rounds: each server takes one turn per round")
    load.add_argument("--serve-args", default="",
                      help="more arguments for `textrec serve` (e.g. its batching flags)")
    load.add_argument("--variant-serve-args",
                      help="also serve the export with these `textrec serve` flags instead of "
                           "--serve-args, as a third side in the same turns (e.g. batching off: "
                           "\"--batch-window-ms 0\"; \"\": the server's defaults)")
    load.add_argument("--alternative-slots", type=int, default=2,
                      help="models in the alternative's server, each serving one request at a "
                           "time (default 2, as textrec serve's --max-concurrent)")
    embed = parser.add_argument_group("embedding throughput")
    embed.add_argument("--embed-texts", type=int, default=2000, help="distinct review texts")
    embed.add_argument("--embed-repeats", type=int, default=2,
                       help="timed passes each, after one warm-up pass")
    embed.add_argument("--embed-batch-size", type=int, default=64,
                       help="sentence-transformers' encode batch size")
    embed.add_argument("--embedder-batch-size", type=int, default=0,
                       help="TextEmbedder's batch size (0: its default, the profile's)")
    embed.add_argument("--embed-variants", default="graph,bfloat16",
                       help="embedder variants timed beside the default, comma-separated: "
                            "graph (compiled=False), bfloat16 (precision='bfloat16'); '' none")
    parser.add_argument("--skip-single", action="store_true",
                        help="leave out the single-query and batch timing")
    parser.add_argument("--skip-concurrent", action="store_true",
                        help="leave out the concurrent load over HTTP")
    parser.add_argument("--skip-embed", action="store_true",
                        help="leave out the embedding throughput")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: " + ", ".join(f"--{k.replace('_', '-')} {v}"
                                                         for k, v in QUICK.items())
                             + " (unless given)")
    parser.add_argument("--no-merge", action="store_true",
                        help="do not carry the skipped parts over from the existing JSON")
    parser.add_argument("--note", default="", help="a paragraph to add to the results")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"
                                             / "serving_latency.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--alternative-server", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--slots", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    return args


def stamp(args) -> dict:
    """When, where and how a part was measured."""
    return {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "git": git_revision(),
            "command": f"python benchmarks/serving_latency.py {shown_arguments(sys.argv[1:])}"}


def query_texts(data, seed: int) -> tuple[list[str], int]:
    """The test split's review texts in a seeded random order, blank ones left out (the export
    serves a text without tokens from no text at all, a zero interest vector;
    sentence-transformers embeds [CLS] [SEP]; neither is a query); and how many were blank."""
    from textrec.data import schema

    texts = [str(t) for t in data.split.test[schema.TEXT].tolist()]
    kept = [t for t in texts if t.strip()]
    order = np.random.default_rng(seed).permutation(len(kept))
    return [kept[i] for i in order], len(texts) - len(kept)


def embedding_texts(data, n: int, seed: int) -> list[str]:
    """``n`` distinct non-blank review texts of the whole data set, in a seeded random order
    (distinct: TextEmbedder embeds a repeated text once, sentence-transformers every time)."""
    from textrec.data import schema

    texts = list(dict.fromkeys(t for t in map(str, data.reviews[schema.TEXT]) if t.strip()))
    order = np.random.default_rng(seed + 1).permutation(len(texts))
    return [texts[i] for i in order[:n]]


def _stats(stats: dict) -> dict:
    """Latency statistics without the samples."""
    return {key: value for key, value in stats.items() if key != "samples_ms"}


def single_part(args, setup: dict, alternative, reason: str) -> dict:
    """One query at a time and batches, in this process and the alternative's worker: the
    measurement this script has always made (no HTTP)."""
    from textrec.export import latency, load_export

    trained, k = setup["trained"], args.k
    info, export_recommend = trained["info"], setup["export_recommend"]
    single_texts, batch_texts = setup["single_texts"], setup["batch_texts"]
    n_batches = len(batch_texts) // args.batch_size
    size = latency.export_size_bytes(info.path)
    variables = latency.export_size_bytes(info.path / "variables")
    first_call = latency.time_once(export_recommend, [single_texts[0]])[1]
    hf_tokenizer = trained["embedder"].tokenizer
    tokens = np.array([len(hf_tokenizer(t, truncation=True, max_length=trained["max_length"])
                           ["input_ids"]) for t in single_texts])

    def local(recommend):
        return lambda command: run_command(recommend, single_texts, batch_texts,
                                           args.batch_size, command, latency)

    sides = {"export": local(export_recommend)}
    if args.graph_encoder:
        path = export_graph_variant(trained, setup["scratch"] / "export")
        sides["export, graph encoder"] = local(recommender(load_export(path), k))
    if alternative is not None:
        sides["alternative"] = alternative.run

    load_start = load_average()
    stats = measure(sides, len(single_texts), n_batches, args.block)
    answers = {}
    for name, run in sides.items():
        got = run({"op": "recommend", "start": 0, "stop": len(single_texts)})
        answers[name] = (got["ids"], got["scores"])
    load_end = load_average()
    fresh = fresh_process_start(info.path, str(single_texts[0]))

    figures = {"calls": len(single_texts), "batches": n_batches, "batch_size": args.batch_size,
               "tokens_median": float(np.median(tokens)),
               "tokens_p95": float(np.percentile(tokens, 95)),
               "texts_cut": int((tokens >= trained["max_length"]).sum())}
    rows = []
    for name in sides:
        single, batch = stats[name, "single"], stats[name, "batch"]
        figures[name] = {"single": _stats(single), "batch": _stats(batch),
                         "batch_queries_per_s": latency.items_per_second(batch,
                                                                         args.batch_size)}
        rows.append({"implementation": NAMES[name],
                     "1 query: median ms": f"{single['median_ms']:.1f}",
                     "1 query: p95 ms": f"{single['p95_ms']:.1f}",
                     "1 query: mean ms": f"{single['mean_ms']:.1f}",
                     f"batch of {args.batch_size}: median ms": f"{batch['median_ms']:.0f}",
                     f"batch of {args.batch_size}: queries/s":
                         f"{figures[name]['batch_queries_per_s']:.0f}"})
    lines = [
        "## One query, and batches (in-process calls, no HTTP)",
        "",
        f"{len(single_texts)} single queries: real test-split review texts (blank reviews left "
        f"out: {setup['n_blank']} of {setup['n_test_texts']:,}), one per call (tokens per text: "
        f"median {np.median(tokens):.0f}, p95 {np.percentile(tokens, 95):.0f}, "
        f"{figures['texts_cut']} cut at {trained['max_length']}); {n_batches} batches of "
        f"{args.batch_size} texts. The implementations took turns in blocks, the samples of all "
        "blocks pooled.",
        "",
        markdown_table(rows, list(rows[0])),
        "",
    ]
    if alternative is None:
        lines += [f"Alternative not measured: {reason or 'not asked for'}.", ""]
    else:
        same = compare(*answers["export"], *answers["alternative"])
        figures["agreement"] = same
        figures["tower_error"] = setup["tower_error"]
        eb = figures["export"]["batch_queries_per_s"]
        ab = figures["alternative"]["batch_queries_per_s"]
        lines += [f"Batches: {eb:.0f} against {ab:.0f} queries/s ({eb / ab:.2f}x).", "",
                  f"Same answers: {same['identical']} of {same['n']} top-{k} lists identical "
                  f"between the export and the alternative (mean overlap {same['overlap']:.3f}, "
                  f"largest score difference {same['score_difference']:.1e}); the NumPy query "
                  f"tower matches the trained one to {setup['tower_error']:.1e}.", ""]
    warm = setup["warm_up"]
    figures["warm_up"] = warm
    lines += [f"Before timing, `textrec.export.warm_up` compiled the export's XLA encoder on its "
              f"{warm['shapes']} bucket shapes in {warm['seconds']:.0f} s (what `textrec serve` "
              "does when it loads a version).", ""]
    if "export, graph encoder" in sides:
        same = compare(*answers["export"], *answers["export, graph encoder"])
        figures["graph_encoder_same_lists"] = same
        lines += [f"Graph-encoder variant: {same['identical']} of {same['n']} top-{k} lists "
                  f"identical to the compiled export's (largest score difference "
                  f"{same['score_difference']:.1e}).", ""]
    figures.update({"export_mb": size / 1e6, "variables_mb": variables / 1e6,
                    "reload_s": setup["reload_s"], "first_call_s": first_call,
                    "fresh_process": fresh})
    lines += [
        f"Export: {size / 1e6:.1f} MB on disk ({variables / 1e6:.1f} MB of it variables). Reload "
        f"with `textrec.export.load_export` in the process that exported it: "
        f"{setup['reload_s']:.2f} s; the first `recommend_text` call after it {first_call:.2f} "
        f"s. In a fresh Python process: importing TensorFlow and tensorflow-text "
        f"{fresh['import_s']:.1f} s, loading {fresh['load_s']:.2f} s, first call "
        f"{fresh['first_call_s']:.2f} s.",
        "",
    ]
    return {"run": stamp(args), "load_average": {"start": load_start, "end": load_end},
            "figures": figures, "markdown": lines}


def alternative_python(args) -> tuple[str | None, str]:
    """The Python that runs the alternative's processes, or None and why."""
    if args.no_alternative:
        return None, "--no-alternative"
    if args.alternative_python:
        return args.alternative_python, ""
    if importlib.util.find_spec("sentence_transformers") is not None:
        return sys.executable, ""
    return None, "sentence-transformers is not importable here; see --alternative-python"


def concurrent_part(args, setup: dict) -> dict:
    """``--clients`` clients over HTTP against ``textrec serve`` and the alternative's server,
    each in its own process, in turns (see serving_parts.concurrent_load)."""
    from serving_parts import ServerProcess, concurrent_load, free_port, request_body

    model_dir = setup["trained"]["info"].path.parent
    path = f"/v1/models/{model_dir.name}:predict"
    texts = setup["texts"]
    first = request_body(texts[0], args.k)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
               filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
           "TF_CPP_MIN_LOG_LEVEL": "2", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONUNBUFFERED": "1"}
    serve_args = ["--quiet", *shlex.split(args.serve_args)]
    serve_command = [sys.executable, "-m", "textrec.cli", "serve", str(model_dir), *serve_args]
    variant_args = (None if args.variant_serve_args is None
                    else ["--quiet", *shlex.split(args.variant_serve_args)])
    python, reason = alternative_python(args)
    servers, alternative_versions = {}, {}
    try:
        port = free_port()
        servers["export"] = ServerProcess(
            "textrec serve", serve_command + ["--port", str(port)], port, path, first,
            setup["scratch"] / "textrec_serve.log", env, str(ROOT))
        print(f"textrec serve answered {servers['export'].first_answer_s:.1f} s after its start",
              flush=True)
        if python:
            port = free_port()
            servers["alternative"] = ServerProcess(
                "the alternative's server",
                [python, str(Path(__file__).resolve()), "--alternative-server",
                 str(setup["npz"]), "--port", str(port), "--slots", str(args.alternative_slots)],
                port, path, first, setup["scratch"] / "alternative_server.log", env, str(ROOT))
            for line in servers["alternative"].log_tail(100_000).splitlines():
                if line.startswith(REPLY):
                    alternative_versions = json.loads(line[len(REPLY):])["versions"]
            print(f"the alternative's server answered "
                  f"{servers['alternative'].first_answer_s:.1f} s after its start", flush=True)
        if variant_args is not None:
            port = free_port()
            servers["export variant"] = ServerProcess(
                "textrec serve (variant)",
                serve_command[:5] + variant_args + ["--port", str(port)], port, path, first,
                setup["scratch"] / "textrec_serve_variant.log", env, str(ROOT))
            print(f"textrec serve (variant) answered "
                  f"{servers['export variant'].first_answer_s:.1f} s after its start", flush=True)
        load_start = load_average()
        result = concurrent_load(servers, texts, args.clients, args.concurrent_requests,
                                 args.concurrent_rounds, args.k)
        load_end = load_average()
    finally:
        for server in servers.values():
            server.stop()
    figures = {"clients": args.clients, "requests_per_client_per_round": args.concurrent_requests,
               "rounds": args.concurrent_rounds,
               "serve_command": " ".join(["textrec serve EXPORT", *serve_args]),
               "variant_serve_command": (" ".join(["textrec serve EXPORT", *variant_args])
                                         if variant_args is not None else None),
               "alternative_slots": args.alternative_slots if python else None,
               "alternative_versions": alternative_versions,
               "start_to_first_answer_s": {name: server.first_answer_s
                                           for name, server in servers.items()},
               **result}
    rows = []
    names = {"export": "`textrec serve` (the export)",
             "alternative": "stdlib ThreadingHTTPServer + sentence-transformers + NumPy top-k",
             "export variant": f"variant: `{figures['variant_serve_command']}`"}
    for name in servers:
        got = result[name]
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(got["statuses"].items()))
        rows.append({"server": names[name], "requests": got["requests"],
                     "answered": got["answered"], "statuses": statuses,
                     "requests/s": f"{got['requests_per_s']:.1f}",
                     "per round": ", ".join(f"{x:.1f}" for x in got["rounds_requests_per_s"]),
                     "p50 ms": f"{got['p50_ms']:.0f}", "p95 ms": f"{got['p95_ms']:.0f}",
                     "start to first answer s": f"{servers[name].first_answer_s:.1f}"})
    lines = [
        f"## Concurrent load over HTTP ({args.clients} clients)",
        "",
        f"Each server in its own process on 127.0.0.1. {args.clients} client threads in the "
        f"benchmark's process, released together by a barrier, each send "
        f"{args.concurrent_requests} `recommend_text` requests one after the other (one real "
        "test-split review text each, anonymous user, k = "
        f"{args.k}; row format `{{\"signature_name\": \"recommend_text\", \"instances\": "
        f"[{{\"text\": [...], \"user_id\": \"\", \"k\": {args.k}}}]}}`), each on a new "
        "connection (both servers speak HTTP/1.0 and close it); latency from connect to the "
        f"last byte. {args.concurrent_rounds} rounds, each server a turn per round with the same "
        "texts, the order rotated; requests/s = all answered requests over the servers' total "
        "time, after one untimed warm-up request per client.",
        "",
        f"`{figures['serve_command']}` (its own defaults otherwise; EXPORT the model folder, "
        "version 1 in it); the "
        "alternative: the standard library's `ThreadingHTTPServer` (a thread per request), "
        f"{args.alternative_slots} sentence-transformers models (as many as `textrec serve` "
        "runs model calls at once by default; each request takes one, so no two threads share "
        "a tokenizer), PyTorch threads "
        f"{args.torch_threads or 'default'} (`--torch-threads`), one `encode` call per request, "
        "then the NumPy query tower and top-k, as a straightforward server would. Start to "
        "first answer: from starting the process to "
        "the first 200 answer to a `:predict` request (imports, loading, any warm-up).",
        "",
    ]
    if variant_args is not None:
        lines += ["The variant (`--variant-serve-args`): the same export under `textrec serve` "
                  "with other flags, in its own process, taking its turns with the others; it "
                  "is shown beside the export and counts for no aim.", ""]
    if rows:
        lines += [markdown_table(rows, list(rows[0])), ""]
    if "alternative" in result:
        ratio = result["export"]["requests_per_s"] / result["alternative"]["requests_per_s"]
        agreement = result["agreement"]
        lines += [f"Throughput: the export {ratio:.2f}x the alternative's. Same answers: "
                  f"{agreement['identical_top_k']} of {agreement['texts']} texts got identical "
                  f"top-{args.k} lists from both servers (mean overlap "
                  f"{agreement['mean_overlap']:.3f}).", ""]
    else:
        lines += [f"Alternative not measured: {reason}.", ""]
    if "export variant" in result:
        variant = result["export variant"]["requests_per_s"]
        against = [f"{variant / result['export']['requests_per_s']:.2f}x the export's"]
        if "alternative" in result:
            against.append(f"{variant / result['alternative']['requests_per_s']:.2f}x the "
                           "alternative's")
        lines += [f"The variant: {' and '.join(against)} requests/s.", ""]
    return {"run": stamp(args), "load_average": {"start": load_start, "end": load_end},
            "figures": figures, "markdown": lines}


def embed_part(args, setup: dict, alternative, reason: str) -> dict:
    """The course's TextEmbedder against SentenceTransformer.encode on the same texts, in turns;
    the embedder in this process, sentence-transformers in the alternative's worker."""
    from serving_parts import cosines, embedding_turns

    from textrec.text import TextEmbedder

    texts, max_length = setup["embed_texts"], setup["max_length"]
    embedder = TextEmbedder(max_length=max_length, batch_size=args.embedder_batch_size or None,
                            use_cache=False, precision="float32")
    # Variants, timed in the same turns and counting for no aim: TensorFlow's graph without XLA
    # (the embedder before issue #18) and the opt-in bfloat16 products.
    variants = {"graph": {"compiled": False},
                "bfloat16": {"precision": "bfloat16"}}
    embedders = {"course": embedder}
    for name in [v for v in args.embed_variants.split(",") if v]:
        embedders[f"course, {name}"] = TextEmbedder.from_model(
            embedder.tokenizer, embedder.model, embedder.name, max_length=max_length,
            batch_size=embedder.batch_size, use_cache=False, **variants[name])
    ours = {}

    def timer(name):
        def run() -> float:
            start = time.perf_counter()
            ours[name] = embedders[name].embed(texts, progress=False)
            return time.perf_counter() - start
        return run

    sides = {name: timer(name) for name in embedders}
    theirs_path = setup["scratch"] / "sentence_transformers_vectors.npy"
    if alternative is not None:
        sides["sentence-transformers"] = lambda: alternative.run(
            {"op": "embed", "out": str(theirs_path)})["seconds"]
    load_start = load_average()
    turns = embedding_turns(sides, args.embed_repeats)
    load_end = load_average()
    for value in turns.values():
        value["texts_per_s"] = len(texts) / value["median_s"]
        value["first_pass_texts_per_s"] = len(texts) / value["first_pass_s"]
    figures = {"texts": len(texts), "max_length": max_length,
               "truncated": embedder.last_stats.n_truncated, "repeats": args.embed_repeats,
               "embedder_batch_size": embedder.batch_size,
               "sentence_transformers_batch_size": args.embed_batch_size, **turns}
    names = {"course": "textrec `TextEmbedder` (TensorFlow, XLA on buckets: the default)",
             "course, graph": "variant: `TextEmbedder(compiled=False)` (TensorFlow's graph)",
             "course, bfloat16": "variant: `TextEmbedder(precision='bfloat16')` (opt-in)",
             "sentence-transformers": "sentence-transformers `encode` (PyTorch)"}
    batch = {name: embedder.batch_size for name in embedders}
    batch["sentence-transformers"] = args.embed_batch_size
    rows = [{"implementation": names[name], "batch": batch[name],
             "first pass s": f"{got['first_pass_s']:.1f}",
             "timed passes s": ", ".join(f"{s:.1f}" for s in got["seconds"]),
             "texts/s (median pass)": f"{got['texts_per_s']:.0f}"}
            for name, got in turns.items()]
    lines = [
        "## Embedding throughput",
        "",
        f"{len(texts):,} distinct real review texts (the whole data set, seeded order), at most "
        f"{max_length} tokens ({figures['truncated']} cut), all-MiniLM-L6-v2 from the offline "
        "package folder on both sides, unit vectors. The course: "
        f"`TextEmbedder(max_length={max_length}, use_cache=False).embed(texts, progress=False)` "
        "in the benchmark's process; sentence-transformers: `SentenceTransformer.encode(texts, "
        f"batch_size={args.embed_batch_size}, normalize_embeddings=True)` in its worker process. "
        "One warm-up pass each (its time shown: graph building or compilation), then "
        f"{args.embed_repeats} timed pass{'es' if args.embed_repeats != 1 else ''} each, in "
        "turns, the order rotated; texts/s from the median pass.",
        "",
        markdown_table(rows, list(rows[0])),
        "",
    ]
    if alternative is not None:
        theirs = np.load(theirs_path)
        cosine = cosines(ours["course"], theirs)
        figures["cosine_min"], figures["cosine_median"] = float(cosine.min()), float(
            np.median(cosine))
        ratio = turns["course"]["texts_per_s"] / turns["sentence-transformers"]["texts_per_s"]
        lines += [f"The course's embedder {ratio:.2f}x sentence-transformers' texts/s; cosine "
                  f"between the two vectors of each text: min {cosine.min():.6f}, median "
                  f"{np.median(cosine):.6f}.", ""]
        figures["variants"] = {}
        for name in embedders:
            if name == "course":
                continue
            cosine = cosines(ours[name], theirs)
            variant = {"ratio": turns[name]["texts_per_s"]
                       / turns["sentence-transformers"]["texts_per_s"],
                       "cosine_min": float(cosine.min()),
                       "cosine_median": float(np.median(cosine))}
            figures["variants"][name] = variant
            lines += [f"{names[name]}: {variant['ratio']:.2f}x sentence-transformers' texts/s; "
                      f"cosine min {variant['cosine_min']:.6f}, median "
                      f"{variant['cosine_median']:.6f} (a variant: it counts for no aim).", ""]
    else:
        lines += [f"sentence-transformers not measured: {reason or 'not asked for'}.", ""]
    return {"run": stamp(args), "load_average": {"start": load_start, "end": load_end},
            "figures": figures, "markdown": lines}


def headline(parts: dict) -> dict:
    """The ratios and the aims of issue #18 from whatever parts there are."""
    single = parts.get("single_query", {}).get("figures", {})
    load = parts.get("concurrent_load", {}).get("figures", {})
    embed = parts.get("embedding", {}).get("figures", {})
    out = {"single_query_ratio": None, "concurrent_throughput_ratio": None,
           "embed_throughput_ratio": None, "start_to_first_answer_s": None, "aims": []}
    aims = out["aims"]
    if "alternative" in single:
        e, a = single["export"]["single"]["median_ms"], single["alternative"]["single"]["median_ms"]
        out["single_query_ratio"] = e / a
        aims.append({"aim": f"one query: export median <= {AIM_SINGLE:.1f}x the alternative's",
                     "met": e / a <= AIM_SINGLE,
                     "figures": f"{e:.1f} against {a:.1f} ms median ({e / a:.2f}x)"})
    else:
        aims.append({"aim": f"one query: export median <= {AIM_SINGLE:.1f}x the alternative's",
                     "met": None, "figures": "not measured"})
    clients = load.get("clients", 8)
    if "alternative" in load:
        e, a = load["export"]["requests_per_s"], load["alternative"]["requests_per_s"]
        out["concurrent_throughput_ratio"] = e / a
        aims.append({"aim": f"concurrent load, {clients} clients: export >= {AIM_CONCURRENT}x "
                            "the alternative's requests/s",
                     "met": e / a >= AIM_CONCURRENT,
                     "figures": f"{e:.1f} against {a:.1f} requests/s ({e / a:.2f}x); p95 "
                                f"{load['export']['p95_ms']:.0f} against "
                                f"{load['alternative']['p95_ms']:.0f} ms; errors "
                                f"{load['export']['errors']} and {load['alternative']['errors']}"})
    else:
        aims.append({"aim": f"concurrent load, {clients} clients: export >= {AIM_CONCURRENT}x "
                            "the alternative's requests/s", "met": None,
                     "figures": "not measured"})
    if "sentence-transformers" in embed:
        e, a = embed["course"]["texts_per_s"], embed["sentence-transformers"]["texts_per_s"]
        out["embed_throughput_ratio"] = e / a
        aims.append({"aim": f"embedding: TextEmbedder >= {AIM_EMBED}x sentence-transformers' "
                            f"texts/s, vectors equal (cosine > {AIM_COSINE})",
                     "met": e / a >= AIM_EMBED and embed["cosine_min"] > AIM_COSINE,
                     "figures": f"{e:.0f} against {a:.0f} texts/s ({e / a:.2f}x); cosine min "
                                f"{embed['cosine_min']:.6f}, median "
                                f"{embed['cosine_median']:.6f}"})
    else:
        aims.append({"aim": f"embedding: TextEmbedder >= {AIM_EMBED}x sentence-transformers' "
                            f"texts/s, vectors equal (cosine > {AIM_COSINE})", "met": None,
                     "figures": "not measured"})
    for aim, part in zip(aims, ["single_query", "concurrent_load", "embedding"]):
        if parts.get(part, {}).get("from_earlier_run"):
            aim["figures"] += f"; from an earlier run, {parts[part]['run']['date']}"
    starts = load.get("start_to_first_answer_s")
    if starts:
        load_run = {**parts["concurrent_load"]["run"],
                    "from_earlier_run": parts["concurrent_load"].get("from_earlier_run")}
        out["start_to_first_answer_s"] = starts
        aims.append({"aim": "server start to first answer stated", "met": True,
                     "figures": f"textrec serve {starts['export']:.1f} s"
                                + (f"; the alternative's server {starts['alternative']:.1f} s"
                                   if "alternative" in starts else "")
                                + (f"; from an earlier run, {load_run['date']}"
                                   if load_run.get("from_earlier_run") else "")})
    else:
        aims.append({"aim": "server start to first answer stated", "met": None,
                     "figures": "not measured"})
    return out


def _load(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def markdown_report(results: dict, note: str) -> str:
    lines = [
        "# Serving latency and throughput (lesson 08, issue #18)",
        "",
        f"`{results['command']}`",
        "",
        f"{results['date']} · {results['machine']} · working tree on top of git "
        f"{results['git']} · profile {results['profile']} · {results['data']}"
        + (f": {results['items']} items in the catalogue" if results.get("items") else "")
        + f" · at most {results['max_length']} tokens · k = {results['k']} · anonymous user",
        "",
        f"Load average (1, 5, 15 min): before the run {_load(results['load_average']['before'])}"
        f"; after it {_load(results['load_average']['after'])}; each part's at its start and "
        "end below. "
        f"Whole run {results['whole_run_s']:.0f} s"
        + (f" ({', '.join(f'{n} {s:.0f} s' for n, s in results['train_export_s'].items())})"
           if results.get("train_export_s") else "") + ".",
        "",
        f"Versions: {', '.join(f'{n} {v}' for n, v in results['versions'].items())}.",
    ]
    if results.get("alternative_versions"):
        lines.append("Alternative: " + ", ".join(
            f"{n} {v}" for n, v in results["alternative_versions"].items()) + ".")
    lines += ["", "## Aims (issue #18)", ""]
    for aim in results["aims"]:
        verdict = {True: "met", False: "not met", None: "not measured"}[aim["met"]]
        figures = f" ({aim['figures']})" if aim["met"] is not None else ""
        lines.append(f"* {aim['aim']}: **{verdict}**{figures}")
    lines.append("")
    for part in PARTS:
        got = results.get(part)
        if not got:
            continue
        lines += got["markdown"][:1] + [""]
        load = got["load_average"]
        when = (f"From an earlier run ({got['run']['date']}, git {got['run']['git']}, "
                f"`{got['run']['command']}`); " if got.get("from_earlier_run") else "")
        lines += [f"*{when}load average {_load(load['start'])} at its start, "
                  f"{_load(load['end'])} at its end.*", ""]
        lines += got["markdown"][2:]
    if note:
        lines += ["", note]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.alternative_server:
        alternative_server(args.alternative_server, args.port, args.slots)
        return
    if args.skip_single and args.skip_concurrent and args.skip_embed:
        raise SystemExit("nothing to do: every part is skipped")

    import textrec  # noqa: F401  (before TensorFlow)
    import tensorflow as tf

    if args.tf_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
    if args.tf_inter_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.tf_inter_threads)
    import tensorflow_text
    import transformers

    from textrec import config
    from textrec.export import latency, load_export
    from textrec.export import warm_up as export_warm_up
    from textrec.text import package_model_dir

    load_before = load_average()
    started = time.perf_counter()
    profile = config.get_profile()
    data = prepare(args)
    need_model = not (args.skip_single and args.skip_concurrent)
    texts, n_blank = query_texts(data, config.SEED)
    parts, trained, alternative = {}, None, None
    with tempfile.TemporaryDirectory(prefix="serving_latency_") as scratch:
        scratch = Path(scratch)
        setup = {"scratch": scratch, "texts": texts, "n_blank": n_blank,
                 "n_test_texts": len(texts) + n_blank, "max_length": profile.max_seq_length}
        payload = {}
        if need_model:
            trained = train_and_export(args, data, scratch / "export")
            setup["trained"] = trained
            print(f"{data.name}: {len(trained['item_ids'])} items; trained and exported "
                  f"({', '.join(f'{n} {s:.0f} s' for n, s in trained['seconds'].items())})",
                  flush=True)
            if args.onednn_bf16:
                tf.config.optimizer.set_experimental_options(
                    {"auto_mixed_precision_onednn_bfloat16": True})
            loaded, setup["reload_s"] = latency.time_once(load_export, trained["info"].path)
            setup["warm_up"] = export_warm_up(loaded)      # as a server does before serving
            print(f"warm-up: {setup['warm_up']['shapes']} shapes compiled in "
                  f"{setup['warm_up']['seconds']:.0f} s", flush=True)
            setup["export_recommend"] = recommender(loaded, args.k)
            # The alternative gets the trained query tower's weights and the export's items.
            model = trained["model"]
            payload = query_tower_weights(model.query_model)
            payload["item_embeddings"] = loaded.item_embeddings.numpy()
            payload["item_ids"] = np.array([i.decode() for i in loaded.item_ids.numpy()],
                                           dtype=str)
            vectors = trained["embedder"].embed(texts[:8], progress=False)
            oov = (tf.constant(np.repeat(payload["oov_id_vector"][None], len(vectors), 0))
                   if model.query_model.use_ids else None)
            setup["tower_error"] = float(np.abs(
                numpy_query_tower(payload, vectors)
                - model.query_model.combine(oov, tf.constant(vectors)).numpy()).max())
            print(f"NumPy query tower vs the trained tower: max |difference| "
                  f"{setup['tower_error']:.1e}")
        n_batches = min(args.batches, len(texts) // args.batch_size)
        setup["single_texts"] = np.array(texts[: args.calls], dtype=str)
        setup["batch_texts"] = np.array(texts[: n_batches * args.batch_size], dtype=str)
        payload["single_texts"], payload["batch_texts"] = (setup["single_texts"],
                                                           setup["batch_texts"])
        if not args.skip_embed:
            setup["embed_texts"] = embedding_texts(data, args.embed_texts, config.SEED)
            payload["embed_texts"] = np.array(setup["embed_texts"], dtype=str)
        settings = {"model_dir": str(package_model_dir()), "max_seq_length": setup["max_length"],
                    "k": args.k, "batch_size": args.batch_size,
                    "torch_threads": args.torch_threads,
                    "embed_batch_size": args.embed_batch_size}
        setup["npz"] = write_payload(scratch / "alternative.npz", payload, settings)
        reason = ""
        if not args.no_alternative and not (args.skip_single and args.skip_embed):
            if args.alternative_python:
                alternative = Worker(args.alternative_python, setup["npz"])
            else:
                try:
                    alternative = InProcess(payload, settings)
                except ImportError as error:
                    reason = (f"sentence-transformers is not importable here ({error}); "
                              "see --alternative-python")
                    print(reason)
        elif args.no_alternative:
            reason = "--no-alternative"
        try:
            if not args.skip_single:
                print("single queries and batches", flush=True)
                parts["single_query"] = single_part(args, setup, alternative, reason)
            if not args.skip_concurrent:
                print(f"concurrent load over HTTP, {args.clients} clients", flush=True)
                parts["concurrent_load"] = concurrent_part(args, setup)
            if not args.skip_embed:
                print(f"embedding throughput, {args.embed_texts} texts", flush=True)
                parts["embedding"] = embed_part(args, setup, alternative, reason)
        finally:
            if alternative is not None:
                alternative.close()
    versions = {"Python": platform.python_version(), "TensorFlow": tf.__version__,
                "tensorflow-text": tensorflow_text.__version__,
                "transformers": transformers.__version__, "NumPy": np.__version__,
                "TensorFlow threads (intra, inter)":
                    f"{args.tf_threads or 'default'}, {args.tf_inter_threads or 'default'}"}
    if args.onednn_bf16:
        versions["grappler"] = "auto_mixed_precision_onednn_bfloat16 on (this process)"

    out = Path(args.out)
    json_path = out.with_suffix(".json")
    earlier = {}
    if not args.no_merge and json_path.is_file():
        try:
            earlier = json.loads(json_path.read_text())
        except ValueError:
            print(f"{json_path} is not JSON; not carrying earlier parts over")
    for part, skip in PARTS.items():
        if getattr(args, skip) and earlier.get(part):
            parts[part] = {**earlier[part], "from_earlier_run": True}
    results = {**stamp(args), "profile": profile.name, "data": data.name,
               "items": len(trained["item_ids"]) if trained else None,
               "max_length": profile.max_seq_length, "k": args.k, "versions": versions,
               "alternative_versions": (alternative.versions if alternative is not None else
                                        parts.get("concurrent_load", {}).get("figures", {})
                                        .get("alternative_versions", {})),
               "load_average": {"before": load_before, "after": load_average(),
                                **{part: got["load_average"] for part, got in parts.items()
                                   if not got.get("from_earlier_run")}},
               "whole_run_s": time.perf_counter() - started,
               "train_export_s": trained["seconds"] if trained else {}}
    results.update(headline(parts))
    results.update(parts)
    report = markdown_report(results, args.note)
    print("\n" + report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    json_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"written to {out} and {json_path}")


if __name__ == "__main__":
    main()
