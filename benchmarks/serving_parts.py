"""Parts of ``benchmarks/serving_latency.py`` (issue #18): concurrent load over HTTP, the
alternative's HTTP server, server start to first answer, and embedding throughput in turns.

Standard library and NumPy only: the alternative's server runs this module under another
Python (``--alternative-python``), one without TensorFlow or textrec.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

SOCKET_TIMEOUT = 120          # seconds; every request is bounded
START_TIMEOUT = 600           # seconds a server may take to give its first answer
POLL_SECONDS = 0.05           # how often a starting server is asked again
LISTEN_BACKLOG = 4096         # as textrec serve's (textrec.export.server.LISTEN_BACKLOG)


# --- requests (both servers get the same ones) --------------------------------------------------

def request_body(text: str, k: int) -> bytes:
    """One ``recommend_text`` request for one anonymous user with one text (row format)."""
    return json.dumps({"signature_name": "recommend_text",
                       "instances": [{"text": [text], "user_id": "", "k": int(k)}]}).encode()


def post(port: int, path: str, body: bytes) -> tuple[str, float, bytes]:
    """POST ``body`` on a new connection: (status or ``reset``/``timeout``/``refused``,
    milliseconds from connect to the last byte of the answer, the answer's bytes)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return str(response.status), (time.perf_counter() - started) * 1000, data
    except ConnectionRefusedError:
        return "refused", (time.perf_counter() - started) * 1000, b""
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return "reset", (time.perf_counter() - started) * 1000, b""
    except TimeoutError:
        return "timeout", (time.perf_counter() - started) * 1000, b""
    finally:
        connection.close()


def answer_ids(data: bytes) -> list[str]:
    """The item ids of a one-row ``:predict`` answer."""
    return [str(i) for i in json.loads(data)["predictions"][0]["item_ids"]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """A server in its own process, on a free port of 127.0.0.1; ``first_answer_s``: seconds
    from starting the process to the first 200 answer to a ``:predict`` request."""

    def __init__(self, name: str, command: list[str], port: int, path: str, body: bytes,
                 log: Path, env: dict, cwd: str):
        self.name, self.port, self.path, self.log = name, port, path, log
        with open(log, "wb") as out:
            started = time.perf_counter()
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            env=env, cwd=cwd)
        try:
            self.first_answer_s = self._wait(started, body)
        except BaseException:
            self.stop()
            raise

    def _wait(self, started: float, body: bytes) -> float:
        while time.perf_counter() - started < START_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode} "
                                   f"before answering; its log ends:\n{self.log_tail()}")
            status, _, data = post(self.port, self.path, body)
            if status == "200":
                return time.perf_counter() - started
            if status not in ("refused", "reset"):
                raise RuntimeError(f"{self.name} answered {status} to its first request: "
                                   f"{data[:500]!r}; its log ends:\n{self.log_tail()}")
            time.sleep(POLL_SECONDS)
        raise RuntimeError(f"{self.name} gave no answer within {START_TIMEOUT} s; its log ends:\n"
                           f"{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()          # textrec serve stops on SIGTERM
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


# --- the clients -------------------------------------------------------------------------------

def burst(port: int, path: str, texts_per_client: list[list[str]], k: int) -> dict:
    """Clients (threads) released together by a barrier, each sending its texts one request
    after the other, each on a new connection; returns the wall time from the release to the
    last answer and every request's (text, status, ms, top-k ids or None)."""
    clients = len(texts_per_client)
    barrier = threading.Barrier(clients + 1, timeout=SOCKET_TIMEOUT)
    results: list[list[tuple]] = [[] for _ in range(clients)]

    def client(number: int) -> None:
        barrier.wait()
        for text in texts_per_client[number]:
            status, ms, data = post(port, path, request_body(text, k))
            ids = None
            if status == "200":
                try:
                    ids = answer_ids(data)
                except (ValueError, KeyError, IndexError, TypeError):
                    status = "200 unreadable"
            results[number].append((text, status, ms, ids))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return {"wall_s": time.perf_counter() - started,
            "requests": [r for client_results in results for r in client_results]}


def client_texts(texts: list[str], clients: int, per_client: int, round_number: int
                 ) -> list[list[str]]:
    """Each client's texts for a round: consecutive slices of ``texts``, a new stretch every
    round (taken cyclically when the texts run out)."""
    offset = round_number * clients * per_client
    return [[texts[(offset + c * per_client + r) % len(texts)] for r in range(per_client)]
            for c in range(clients)]


def summarize_requests(requests: list[tuple], wall_s: float) -> dict:
    latencies = sorted(ms for _, status, ms, _ in requests if status == "200")
    statuses: dict[str, int] = {}
    for _, status, _, _ in requests:
        statuses[status] = statuses.get(status, 0) + 1
    answered = len(latencies)
    return {"requests": len(requests), "answered": answered,
            "errors": len(requests) - answered, "statuses": statuses,
            "wall_s": wall_s, "requests_per_s": answered / wall_s if wall_s > 0 else None,
            "p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
            "p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
            "mean_ms": statistics.fmean(latencies) if latencies else None,
            "max_ms": latencies[-1] if latencies else None}


def concurrent_load(servers: dict, texts: list[str], clients: int, per_client: int,
                    rounds: int, k: int) -> dict:
    """Time the ``servers`` (name -> :class:`ServerProcess`) under ``clients`` concurrent
    clients: one untimed warm-up burst (one request per client) each, then ``rounds`` rounds in
    which every server takes a turn with the same texts, the order rotated every round.

    Returns, per server, the pooled figures (:func:`summarize_requests` over all rounds: total
    answered over total wall time) and each round's requests per second; and, for the first two
    servers, how many texts got the same top-k ids from both."""
    names = list(servers)
    for name in names:
        warm = burst(servers[name].port, servers[name].path,
                     [[texts[c % len(texts)]] for c in range(clients)], k)
        bad = [status for _, status, _, _ in warm["requests"] if status != "200"]
        if bad:
            raise RuntimeError(f"{name}: warm-up requests answered {bad}")
    pooled = {name: {"requests": [], "wall_s": 0.0, "rounds_per_s": []} for name in names}
    for number in range(rounds):
        per_client_texts = client_texts(texts, clients, per_client, number)
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            got = burst(servers[name].port, servers[name].path, per_client_texts, k)
            pooled[name]["requests"].extend(got["requests"])
            pooled[name]["wall_s"] += got["wall_s"]
            answered = sum(status == "200" for _, status, _, _ in got["requests"])
            pooled[name]["rounds_per_s"].append(answered / got["wall_s"])
            print(f"  round {number + 1}/{rounds}: {name} {answered / got['wall_s']:.1f} "
                  "requests/s", flush=True)
    result = {name: {**summarize_requests(p["requests"], p["wall_s"]),
                     "rounds_requests_per_s": p["rounds_per_s"]} for name, p in pooled.items()}
    if len(names) >= 2:
        answers = [{text: ids for text, status, _, ids in pooled[name]["requests"]
                    if status == "200"} for name in names[:2]]
        common = [text for text in answers[0] if text in answers[1]]
        identical = sum(answers[0][t] == answers[1][t] for t in common)
        overlap = (float(np.mean([len(set(answers[0][t]) & set(answers[1][t])) / k
                                  for t in common])) if common else None)
        result["agreement"] = {"texts": len(common), "identical_top_k": identical,
                               "mean_overlap": overlap}
    return result


# --- the alternative's HTTP server (runs under --alternative-python) ----------------------------

class _AlternativeHandler(BaseHTTPRequestHandler):
    """``POST ...:predict`` with ``recommend_text`` rows of one text each -> the top-k of
    sentence-transformers + the NumPy query tower, in TF Serving's row format."""

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length))
            status, payload = 200, self.server.predict(request)
        except (ValueError, KeyError, TypeError) as error:
            status, payload = 400, {"error": f"{type(error).__name__}: {error}"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):   # quiet, as textrec serve --quiet
        pass


class AlternativeServer(ThreadingHTTPServer):
    """A thread per request (the standard library's ``ThreadingHTTPServer``, HTTP/1.0 as
    ``textrec serve``); each request takes one of ``len(models)`` models (its own
    SentenceTransformer, so that no two threads share a tokenizer) and makes one encode call."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, port: int, models: list):
        self.slots: queue.Queue = queue.Queue()
        for model in models:
            self.slots.put(model)
        self.k = models[0].k
        super().__init__(("127.0.0.1", port), _AlternativeHandler)

    def predict(self, request: dict) -> dict:
        if request.get("signature_name") != "recommend_text":
            raise ValueError("this server answers signature_name 'recommend_text' only")
        instances = request["instances"]
        texts = []
        for row in instances:
            if len(row["text"]) != 1 or row.get("user_id", "") != "" or int(row["k"]) != self.k:
                raise ValueError(f"this server answers rows of one text, user_id '' and "
                                 f"k {self.k}")
            texts.append(str(row["text"][0]))
        model = self.slots.get()
        try:
            ids, scores = model.recommend(texts)
        finally:
            self.slots.put(model)
        return {"predictions": [{"item_ids": [str(i) for i in row_ids],
                                 "scores": [float(s) for s in row_scores]}
                                for row_ids, row_scores in zip(ids, scores)]}


def serve_alternative(make_model, slots: int, port: int) -> None:
    """Build ``slots`` models with ``make_model()``, bind ``port`` and serve until killed."""
    server = AlternativeServer(port, [make_model() for _ in range(int(slots))])
    try:
        server.serve_forever()
    finally:
        server.server_close()


# --- embedding throughput, in turns -------------------------------------------------------------

def embedding_turns(sides: dict, repeats: int) -> dict:
    """``sides``: name -> ``() -> seconds`` for one pass over all the texts. One untimed-as-
    throughput warm-up pass each (its seconds kept as ``first_pass_s``: graph building or
    compilation shows there), then ``repeats`` rounds, every side a pass, the order rotated."""
    names = list(sides)
    result = {name: {"first_pass_s": sides[name](), "seconds": []} for name in names}
    for number in range(repeats):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            result[name]["seconds"].append(sides[name]())
            print(f"  embedding repeat {number + 1}/{repeats}: {name} "
                  f"{result[name]['seconds'][-1]:.1f} s", flush=True)
    for value in result.values():
        value["median_s"] = float(np.median(value["seconds"]))
    return result


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cosine between row i of ``a`` and row i of ``b``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
