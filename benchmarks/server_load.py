"""Load test of ``textrec serve`` on loopback (issue #16): bursts of concurrent clients.

    python benchmarks/server_load.py [--export reports/export/textrec] [--clients 20 50 100]
        [--requests-per-client 4] [--backlogs 5 128] [--out benchmarks/results/server_load]

The server runs in its own process (``--serve``, the same ``textrec.export.server`` as
``textrec serve``, listen backlog set per run), so that the clients' threads do not share its
interpreter. For each backlog and each number of clients, that many threads wait at a barrier,
then each sends ``--requests-per-client`` ``:predict`` requests one after the other, each on a
new connection (as a burst of browsers or scripts would): ``recommend_text`` with one real
review-like text (the encoder runs) for even clients, ``recommend_user`` for odd ones. Counted:
answers by status, connection resets (or refusals, or a connection closed without an answer),
and the latency of each answered request (p50, p95, max, in ms, from connect to the last byte).
Every socket has a 120 s timeout and the number of requests is fixed: the run is bounded.
A last, mixed run (largest backlog) repeats the smallest burst while one more client sends
``--heavy-requests`` requests of the most work allowed (8 rows x 32 texts = 256 texts), one after
the other: the light clients' latency shows whether one heavy client starves them (it holds one
of the 2 model slots at a time).

Backlog 5 is socketserver's default, the one the audit found resetting connections; 128 is
the server's now (``textrec.export.server.LISTEN_BACKLOG``). With ``--export`` the given export
is served; without, a small one is trained on the synthetic world first
(``tests/export_support.py``, about a minute). Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SOCKET_TIMEOUT = 120
TEXTS = ["bright strings that stay in tune", "this pedal hums with my amp",
         "great value for a beginner", "the strap lock broke after a week"]
RESET_ERRORS = (ConnectionResetError, ConnectionRefusedError, BrokenPipeError,
                http.client.RemoteDisconnected)


def serve(export_dir: str, backlog: int) -> None:
    """The server process: bind with ``backlog``, print the port, serve until killed."""
    from textrec.export.server import lifecycle

    lifecycle._Server.request_queue_size = backlog
    server = lifecycle.make_server(export_dir, port=0, quiet=True)
    print(server.server_port, flush=True)
    server.serve_forever()


def body(client: int, request: int) -> bytes:
    if client % 2:
        payload = {"signature_name": "recommend_user",
                   "inputs": {"user_id": [f"nobody{client}"], "k": [10]}}
    else:
        payload = {"signature_name": "recommend_text",
                   "inputs": {"text": [[TEXTS[(client + request) % len(TEXTS)]]],
                              "user_id": [""], "k": [10]}}
    return json.dumps(payload).encode()


def one_request(port: int, data: bytes) -> tuple[str, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT)
    try:
        connection.request("POST", "/v1/models/textrec:predict", data,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return str(response.status), (time.perf_counter() - started) * 1000
    except RESET_ERRORS:
        return "reset", (time.perf_counter() - started) * 1000
    except TimeoutError:
        return "timeout", (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def burst(port: int, clients: int, per_client: int) -> dict:
    barrier = threading.Barrier(clients, timeout=SOCKET_TIMEOUT)
    results: list[tuple[str, float]] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        barrier.wait()
        for request in range(per_client):
            outcome = one_request(port, body(number, request))
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOCKET_TIMEOUT * (per_client + 1))
    wall = time.perf_counter() - started
    latencies = sorted(ms for status, ms in results if status not in ("reset", "timeout"))
    counts: dict[str, int] = {}
    for status, _ in results:
        counts[status] = counts.get(status, 0) + 1

    def percentile(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    return {"clients": clients, "requests": clients * per_client, "answered": len(latencies),
            "statuses": counts, "resets": counts.get("reset", 0),
            "timeouts": counts.get("timeout", 0),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": percentile(0.95), "max_ms": round(latencies[-1], 1) if latencies else None,
            "wall_s": round(wall, 2)}


def heavy_body() -> bytes:
    """The most work one request may ask for: 8 rows x 32 texts = 256 texts (the limit)."""
    texts = [f"{TEXTS[n % len(TEXTS)]}, and more words about the tone, number {n}"
             for n in range(32)]
    return json.dumps({"signature_name": "recommend_text",
                       "inputs": {"text": [texts] * 8, "user_id": [""] * 8,
                                  "k": [10] * 8}}).encode()


def mixed(port: int, light_clients: int, per_client: int, heavy_requests: int) -> dict:
    """One heavy client sends ``heavy_requests`` maximal requests one after the other while
    ``light_clients`` light ones burst: the light ones' latency shows whether it starves them."""
    heavy: list[tuple[str, float]] = []

    def heavy_client() -> None:
        for _ in range(heavy_requests):
            heavy.append(one_request(port, heavy_body()))

    thread = threading.Thread(target=heavy_client)
    thread.start()
    time.sleep(0.5)                     # the first heavy request is being computed
    light = burst(port, light_clients, per_client)
    thread.join(SOCKET_TIMEOUT * (heavy_requests + 1))
    return {**light, "heavy_client": f"{heavy_requests} x 256 texts: "
            + ", ".join(f"{status} in {ms / 1000:.1f} s" for status, ms in heavy)}


def start_server(export_dir: str, backlog: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen([sys.executable, __file__, "--serve", export_dir,
                                "--backlog", str(backlog)], stdout=subprocess.PIPE, env=env,
                               text=True)
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"the server process did not start (printed {line!r})")
    return process, int(line)


def warm_up(port: int) -> None:
    for n in range(4):
        status, _ = one_request(port, body(n, 0))
        if status != "200":
            raise SystemExit(f"warm-up request answered {status}")


def small_export(folder: Path) -> str:
    from tests.export_support import build_trained_export

    os.environ.setdefault("TEXTREC_CACHE", str(folder / "cache"))
    return str(build_trained_export(folder / "models").path.parent)


def markdown(report: dict) -> str:
    from common import markdown_table

    rows = [{**row, "backlog": row["backlog"],
             "statuses": ", ".join(f"{k}: {v}" for k, v in sorted(row["statuses"].items()))}
            for row in report["runs"]]
    columns = ["backlog", "clients", "requests", "resets", "statuses", "p50_ms", "p95_ms",
               "max_ms", "wall_s", "heavy_client"]
    return "\n".join([
        "# `textrec serve` under concurrent clients (loopback)",
        "",
        f"{report['date']} · {report['machine']} · git {report['git']} · export "
        f"{report['export']} · {report['per_client']} requests per client, each on a new "
        "connection; even clients recommend_text (one text, the encoder runs), odd ones "
        "recommend_user; latency from connect to the last byte.",
        "",
        markdown_table(rows, columns),
        "",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export", help="an export folder (default: train a small one)")
    parser.add_argument("--clients", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--requests-per-client", type=int, default=4)
    parser.add_argument("--backlogs", type=int, nargs="+", default=[5, 128])
    parser.add_argument("--heavy-requests", type=int, default=2,
                        help="maximal requests of the one heavy client in the mixed run (0: none)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "server_load"))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--backlog", type=int, default=128, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.backlog)
        return 0
    from common import git_revision, machine

    with tempfile.TemporaryDirectory() as scratch:
        export_dir = args.export or small_export(Path(scratch))
        runs = []
        for backlog in args.backlogs:
            process, port = start_server(export_dir, backlog)
            try:
                warm_up(port)
                for clients in args.clients:
                    run = {"backlog": backlog, **burst(port, clients, args.requests_per_client)}
                    print(json.dumps(run), flush=True)
                    runs.append(run)
                if backlog == max(args.backlogs) and args.heavy_requests:
                    run = {"backlog": backlog, **mixed(port, min(args.clients),
                                                       args.requests_per_client,
                                                       args.heavy_requests)}
                    print(json.dumps(run), flush=True)
                    runs.append(run)
            finally:
                process.kill()
                process.wait(timeout=30)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "git": git_revision(),
              "export": args.export or "small synthetic export (tests/export_support.py)",
              "per_client": args.requests_per_client, "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
