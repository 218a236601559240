"""Serving latency (lesson 08): the exported SavedModel against sentence-transformers + NumPy.

    python benchmarks/serving_latency.py [--data PATH] [--calls 200] [--batches 20]
        [--batch-size 64] [--k 10] [--epochs 1] [--alternative-python PYTHON]
        [--xla-encoder] [--tf-threads N] [--tf-inter-threads N] [--torch-threads N]
        [--onednn-bf16] [--out benchmarks/results/serving_latency.md]

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
``--xla-encoder`` also exports and times a variant whose encoder call is compiled with XLA on
lengths padded to multiples of 8 (compiled for every length before timing);
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
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import git_revision, machine, markdown_table, real_data_path

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
        self.item_embeddings = np.ascontiguousarray(weights["item_embeddings"], np.float32)
        self.item_ids = np.asarray(weights["item_ids"])
        self.k = int(k)

    def recommend(self, texts) -> tuple[np.ndarray, np.ndarray]:
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


def worker(npz_path: str) -> None:
    """The alternative in its own environment: read commands (JSON lines) on stdin, reply on
    stdout."""
    latency = _latency_module()
    with np.load(npz_path, allow_pickle=False) as data:
        weights = {name: data[name] for name in data.files}
    settings = json.loads(str(weights.pop("settings")))
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
        reply(run_command(alternative.recommend, weights["single_texts"], weights["batch_texts"],
                          settings["batch_size"], command, latency))


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
        return run_command(self.alternative.recommend, self.payload["single_texts"],
                           self.payload["batch_texts"], self.settings["batch_size"], command,
                           self.latency)

    def close(self) -> None:
        pass


class Worker:
    """The alternative in a worker process under another Python (``--alternative-python``)."""

    def __init__(self, python: str, payload: dict, settings: dict, scratch: Path):
        npz = scratch / "alternative.npz"
        np.savez(npz, settings=np.array(json.dumps(settings)), **payload)
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


def load_averages() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


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


def train_and_export(args, folder: Path) -> dict:
    """Prepare the real data, embed the train reviews (cached), train the joint model briefly
    and export it; returns what the timing and the variant need."""
    import pandas as pd

    from textrec import config, export, interests, models
    from textrec.data import schema, tfdata
    from textrec.data.prepare import prepare_data
    from textrec.text import TextEmbedder

    started = time.perf_counter()
    profile = config.get_profile()
    data = prepare_data(str(real_data_path(args.data)), seed=config.SEED)
    train = data.split.train
    user_ids = tfdata.vocabulary(train[schema.USER])
    item_ids = tfdata.vocabulary(data.reviews[schema.ITEM])
    embedder = TextEmbedder(max_length=profile.max_seq_length)
    review_vectors = interests.embed_texts(embedder, train[schema.TEXT].tolist())
    user_text = interests.interest_vectors(train, review_vectors, user_ids=user_ids)
    # The 2014 file has no item descriptions: an item's text is its train reviews.
    items = pd.DataFrame({schema.ITEM: item_ids, schema.DESCRIPTION: ""})
    item_text = interests.item_text_vectors(items, train, review_vectors, None, item_ids=item_ids)
    seconds = {"prepare + embed": time.perf_counter() - started}
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


XLA_BUCKET = 8


def export_xla_variant(trained: dict, folder: Path) -> Path:
    """Tried for speed, not the course's export: the same serving graph, but the encoder call
    compiled with XLA (``tf.function(jit_compile=True)``) on token ids padded to a multiple of
    ``XLA_BUCKET`` tokens (XLA compiles once per input shape: 16 lengths up to 128 per batch
    size, compiled on first use)."""
    import tensorflow as tf

    from textrec.export import ServingParts, build_module

    module, _ = build_module(ServingParts(trained["model"], trained["user_text"],
                                          trained["item_text"], trained["train"],
                                          trained["review_vectors"], trained["embedder"]))
    plain_encode = module._encode

    @tf.function(jit_compile=True)
    def xla_encode(ids, mask):
        return plain_encode(ids, mask)

    def bucketed_encode(ids, mask):
        paddings = [[0, 0], [0, tf.math.floormod(-tf.shape(ids)[1], XLA_BUCKET)]]
        return xla_encode(tf.pad(ids, paddings, constant_values=module.tokenizer.pad_id),
                          tf.pad(mask, paddings))

    module._encode = bucketed_encode     # what the signatures call when they are traced
    path = folder / "textrec-xla" / "1"
    tf.saved_model.save(module, str(path), signatures=module.signatures())
    return path


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
            shown.append(argument)
    return " ".join(shown)


NAMES = {"export": "textrec export (SavedModel, reloaded)",
         "export + XLA encoder": "variant: export, encoder under XLA (tried)",
         "alternative": "sentence-transformers + NumPy top-k"}


def main() -> None:
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
                             "runs there, in a worker process")
    parser.add_argument("--no-alternative", action="store_true")
    parser.add_argument("--xla-encoder", action="store_true",
                        help="also time a variant of the export with the encoder under XLA")
    parser.add_argument("--tf-threads", type=int, default=0,
                        help="TensorFlow intra-op threads (0: TensorFlow's default)")
    parser.add_argument("--tf-inter-threads", type=int, default=0,
                        help="TensorFlow inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="PyTorch threads for the alternative (0: PyTorch's default)")
    parser.add_argument("--onednn-bf16", action="store_true",
                        help="serve with grappler's auto_mixed_precision_onednn_bfloat16 rewrite")
    parser.add_argument("--note", default="", help="a paragraph to add to the results")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"
                                             / "serving_latency.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    import textrec  # noqa: F401  (before TensorFlow)
    import tensorflow as tf

    if args.tf_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
    if args.tf_inter_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.tf_inter_threads)
    import tensorflow_text
    import transformers

    from textrec import config
    from textrec.data import schema
    from textrec.export import latency, load_export
    from textrec.text import package_model_dir

    load_before = load_averages()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="serving_latency_") as scratch:
        scratch = Path(scratch)
        trained = train_and_export(args, scratch / "export")
        info, k = trained["info"], args.k
        print(f"{trained['data'].name}: {len(trained['item_ids'])} items; trained and exported "
              f"({', '.join(f'{n} {s:.0f} s' for n, s in trained['seconds'].items())})",
              flush=True)
        size = latency.export_size_bytes(info.path)
        variables = latency.export_size_bytes(info.path / "variables")
        if args.onednn_bf16:
            tf.config.optimizer.set_experimental_options(
                {"auto_mixed_precision_onednn_bfloat16": True})
        loaded, reload_s = latency.time_once(load_export, info.path)
        export_recommend = recommender(loaded, k)

        rng = np.random.default_rng(config.SEED)
        # Blank reviews are left out: the export serves a text without tokens from no text at
        # all (a zero interest vector), sentence-transformers embeds [CLS] [SEP]; neither is a
        # query.
        texts = [str(t) for t in trained["test"][schema.TEXT].tolist()]
        n_blank = sum(not t.strip() for t in texts)
        texts = [t for t in texts if t.strip()]
        order = rng.permutation(len(texts))
        n_batches = min(args.batches, len(texts) // args.batch_size)
        single_texts = np.array([texts[i] for i in order[: args.calls]], dtype=str)
        batch_texts = np.array([texts[i] for i in order[: n_batches * args.batch_size]],
                               dtype=str)
        first_call = latency.time_once(export_recommend, [single_texts[0]])[1]
        hf_tokenizer = trained["embedder"].tokenizer
        tokens = np.array([len(hf_tokenizer(t, truncation=True, max_length=trained["max_length"])
                               ["input_ids"]) for t in single_texts])

        def local(recommend):
            return lambda command: run_command(recommend, single_texts, batch_texts,
                                               args.batch_size, command, latency)

        sides = {"export": local(export_recommend)}
        extra = {}
        if args.xla_encoder:
            path = export_xla_variant(trained, scratch / "export")
            xla_recommend = recommender(load_export(path), k)
            warm_texts = [" ".join(["a"] * (n - 2))
                          for n in range(XLA_BUCKET, trained["max_length"] + 1, XLA_BUCKET)]
            start = time.perf_counter()
            for text in warm_texts:      # compile every length for one query and for a batch
                xla_recommend([text])
                xla_recommend([text] * args.batch_size)
            extra["xla_warmup_s"] = time.perf_counter() - start
            sides["export + XLA encoder"] = local(xla_recommend)

        # The alternative gets the trained query tower's weights and the export's item matrix.
        model = trained["model"]
        payload = query_tower_weights(model.query_model)
        payload["item_embeddings"] = loaded.item_embeddings.numpy()
        payload["item_ids"] = np.array([i.decode() for i in loaded.item_ids.numpy()], dtype=str)
        vectors = trained["embedder"].embed(list(single_texts[:8]), progress=False)
        oov = (tf.constant(np.repeat(payload["oov_id_vector"][None], len(vectors), 0))
               if model.query_model.use_ids else None)
        tower_error = float(np.abs(numpy_query_tower(payload, vectors) - model.query_model.combine(
            oov, tf.constant(vectors)).numpy()).max())
        print(f"NumPy query tower vs the trained tower: max |difference| {tower_error:.1e}")
        payload["single_texts"], payload["batch_texts"] = single_texts, batch_texts
        settings = {"model_dir": str(package_model_dir()), "max_seq_length": trained["max_length"],
                    "k": k, "batch_size": args.batch_size, "torch_threads": args.torch_threads}
        alternative, reason = None, ""
        if not args.no_alternative:
            if args.alternative_python:
                alternative = Worker(args.alternative_python, payload, settings, scratch)
            else:
                try:
                    alternative = InProcess(payload, settings)
                except ImportError as error:
                    reason = (f"sentence-transformers is not importable here ({error}); "
                              "see --alternative-python")
                    print(reason)
        if alternative is not None:
            sides["alternative"] = alternative.run

        load_during = load_averages()
        try:
            stats = measure(sides, len(single_texts), n_batches, args.block)
            answers = {}
            for name, run in sides.items():
                got = run({"op": "recommend", "start": 0, "stop": len(single_texts)})
                answers[name] = (got["ids"], got["scores"])
        finally:
            if alternative is not None:
                alternative.close()
        load_after = load_averages()
        fresh = fresh_process_start(info.path, str(single_texts[0]))
        versions = {"Python": platform.python_version(), "TensorFlow": tf.__version__,
                    "tensorflow-text": tensorflow_text.__version__,
                    "transformers": transformers.__version__, "NumPy": np.__version__,
                    "TensorFlow threads (intra, inter)":
                        f"{args.tf_threads or 'default'}, {args.tf_inter_threads or 'default'}"}
        alternative_versions = alternative.versions if alternative is not None else {}
    total = time.perf_counter() - started

    rows = []
    for name in sides:
        single, batch = stats[name, "single"], stats[name, "batch"]
        rows.append({"implementation": NAMES[name],
                     "1 query: median ms": f"{single['median_ms']:.1f}",
                     "1 query: p95 ms": f"{single['p95_ms']:.1f}",
                     "1 query: mean ms": f"{single['mean_ms']:.1f}",
                     f"batch of {args.batch_size}: median ms": f"{batch['median_ms']:.0f}",
                     f"batch of {args.batch_size}: queries/s":
                         f"{latency.items_per_second(batch, args.batch_size):.0f}"})
    lines = [
        "# Serving latency (lesson 08)",
        "",
        f"`python benchmarks/serving_latency.py {shown_arguments(sys.argv[1:])}`",
        "",
        f"{dt.date.today()} · {machine()} · working tree on top of git {git_revision()} · "
        f"profile {trained['profile']} · {trained['data'].name}: {len(trained['item_ids'])} "
        f"items in the catalogue · at most {trained['max_length']} tokens · k = {k} · anonymous "
        "user",
        "",
        f"Load average (1, 5, 15 min): before the run {load_before}; when timing started "
        f"{load_during}; after timing {load_after}. Whole run {total:.0f} s "
        f"({', '.join(f'{n} {s:.0f} s' for n, s in trained['seconds'].items())}).",
        "",
        f"Versions: {', '.join(f'{n} {v}' for n, v in versions.items())}.",
    ]
    if alternative_versions:
        lines.append("Alternative: " + ", ".join(f"{n} {v}" for n, v in
                                                   alternative_versions.items()) + ".")
    elif reason:
        lines.append(f"Alternative not measured: {reason}.")
    if args.onednn_bf16:
        lines.append("Served with grappler's auto_mixed_precision_onednn_bfloat16 rewrite.")
    lines += [
        "",
        f"{len(single_texts)} single queries: real test-split review texts (blank reviews left "
        f"out: {n_blank} of {len(texts) + n_blank:,}), one per call "
        f"(tokens per text: median {np.median(tokens):.0f}, p95 {np.percentile(tokens, 95):.0f}, "
        f"{int((tokens >= trained['max_length']).sum())} cut at {trained['max_length']}); "
        f"{n_batches} batches of {args.batch_size} texts. The implementations took turns in "
        "blocks, the samples of all blocks pooled.",
        "",
        markdown_table(rows, list(rows[0])),
        "",
    ]
    if "alternative" in sides:
        e1, a1 = stats["export", "single"]["median_ms"], stats["alternative", "single"]["median_ms"]
        eb = latency.items_per_second(stats["export", "batch"], args.batch_size)
        ab = latency.items_per_second(stats["alternative", "batch"], args.batch_size)
        lines += [f"Aim (the export at least as fast for one query, faster in batches): one query "
                  f"{e1:.1f} against {a1:.1f} ms median, **{'met' if e1 <= a1 else 'not met'}** "
                  f"(the export takes {e1 / a1:.2f}x the time); batches {eb:.0f} against {ab:.0f} "
                  f"queries/s, **{'met' if eb > ab else 'not met'}** ({eb / ab:.2f}x).", ""]
        same = compare(*answers["export"], *answers["alternative"])
        lines += [f"Same answers: {same['identical']} of {same['n']} top-{k} lists identical "
                  f"between the export and the alternative (mean overlap {same['overlap']:.3f}, "
                  f"largest score difference {same['score_difference']:.1e}); the NumPy query "
                  f"tower matches the trained one to {tower_error:.1e}.", ""]
    if "export + XLA encoder" in sides:
        same = compare(*answers["export"], *answers["export + XLA encoder"])
        n_shapes = 2 * len(range(XLA_BUCKET, trained["max_length"] + 1, XLA_BUCKET))
        lines += [f"XLA variant: compiling its {n_shapes} "
                  f"shapes (lengths padded to multiples of {XLA_BUCKET}, one query and a batch) "
                  f"took {extra['xla_warmup_s']:.0f} s before timing; {same['identical']} of "
                  f"{same['n']} top-{k} lists identical to the export's (largest score "
                  f"difference {same['score_difference']:.1e}).", ""]
    lines += [
        f"Export: {size / 1e6:.1f} MB on disk ({variables / 1e6:.1f} MB of it variables). Reload "
        f"with `textrec.export.load_export` in the process that exported it: {reload_s:.2f} s; "
        f"the first `recommend_text` call after it {first_call:.2f} s. In a fresh Python process: "
        f"importing TensorFlow and tensorflow-text {fresh['import_s']:.1f} s, loading "
        f"{fresh['load_s']:.2f} s, first call {fresh['first_call_s']:.2f} s.",
    ]
    if args.note:
        lines += ["", args.note]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
