"""Load test of ``textrec serve`` on loopback: its start, bursts, a crowd, idle slow connections.

    python benchmarks/server_load.py [--export reports/export/textrec] [--max-length 128]
        [--parts start bursts crowd idle] [--start-runs 2] [--probe-seconds 20]
        [--clients 20 50 100] [--requests-per-client 4] [--backlogs 5 4096]
        [--crowd 1000] [--crowd-backlogs 128 4096] [--idle 500] [--live 200]
        [--heavy-requests 2] [--out benchmarks/results/server_load]

Every server runs in its own process, as ``textrec serve`` does, so that the clients' threads do
not share its interpreter. Every socket has a 120 s timeout and every part a fixed number of
requests: the run is bounded. Four parts (``--parts``):

* **start**: from starting ``python -m textrec.cli serve EXPORT`` (a cold process: importing
  TensorFlow, loading the export) to its first 200 answer to a ``recommend_text`` request (the
  request is sent every 50 ms until then), for each warm-up mode in the same run, taking turns
  ``--start-runs`` times: ``background`` (now: answer at once through TensorFlow's graph
  encoder while the compiled shapes warm up behind the requests) and ``first`` (before: compile
  every shape, then serve). The ratio of the two medians is the speed-up. For ``background``,
  single-text requests are then sent one after the other for ``--probe-seconds``: their latency
  while the shapes compile and once all are compiled (the server says when, on stderr);
* **bursts**: for each ``--backlogs`` value and each ``--clients`` count, that many threads wait
  at a barrier, then each sends ``--requests-per-client`` requests one after the other, each on a
  new connection: ``recommend_text`` with one text (the encoder runs) for even clients,
  ``recommend_user`` for odd ones; a last run repeats the smallest burst while one more client
  sends ``--heavy-requests`` requests of the most work allowed (8 rows x 32 texts = 256 texts);
* **crowd**: ``--crowd`` clients (1,000) connect at once, one request each, for each
  ``--crowd-backlogs`` value (128 before, 4096 now; Linux caps it at ``net.core.somaxconn``);
* **idle**: ``--idle`` connections (500) send their headers and the first byte of a 100-byte
  body, then stall; with them open, ``--live`` clients (200) connect at once, one request each.
  The stalled ones must get 408 once the server's ``read_timeout`` (30 s) is up.

Counted: answers by status, connection resets (or refusals, or a connection closed without an
answer), timeouts, and the latency of each answered request (p50, p95, max, in ms, from connect
to the last byte). With ``--export`` the given export is served; without, a small one is trained
on the synthetic world first (``tests/export_support.py``, ``--max-length`` tokens: 128, the
course's, gives the 40 bucket shapes of a real export). Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
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
PARTS = ("start", "bursts", "crowd", "idle")
PREDICT = "/v1/models/textrec:predict"


def serve(export_dir: str, backlog: int, warm_up: str, read_timeout: float) -> None:
    """The server process: bind with ``backlog``, print the port, serve until killed."""
    from textrec.export.server import lifecycle

    server = lifecycle.make_server(export_dir, port=0, quiet=True, backlog=backlog,
                                   warm_up=warm_up, read_timeout=read_timeout, poll_seconds=0)
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
        connection.request("POST", PREDICT, data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return str(response.status), (time.perf_counter() - started) * 1000
    except RESET_ERRORS:
        return "reset", (time.perf_counter() - started) * 1000
    except TimeoutError:
        return "timeout", (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def summarize(results: list[tuple[str, float]], wall: float) -> dict:
    latencies = sorted(ms for status, ms in results if status not in ("reset", "timeout"))
    counts: dict[str, int] = {}
    for status, _ in results:
        counts[status] = counts.get(status, 0) + 1

    def percentile(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    return {"requests": len(results), "answered": len(latencies), "statuses": counts,
            "resets": counts.get("reset", 0), "timeouts": counts.get("timeout", 0),
            "server_errors": sum(n for status, n in counts.items()
                                 if status.isdigit() and int(status) >= 500),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": percentile(0.95), "max_ms": round(latencies[-1], 1) if latencies else None,
            "wall_s": round(wall, 2)}


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
    return {"clients": clients, **summarize(results, time.perf_counter() - started)}


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


def stalled_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that send a request's headers and one byte of its 100-byte body,
    then nothing (a slow or stuck client)."""
    head = (f"POST {PREDICT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{").encode()
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        sock.sendall(head)
        sockets.append(sock)
    return sockets


def stalled_answers(sockets: list[socket.socket], deadline: float) -> dict:
    """What each stalled connection got: its status (408 expected), ``closed`` (closed without
    an answer) or ``none`` (nothing by ``deadline``)."""
    counts: dict[str, int] = {}
    for sock in sockets:
        answer = b""
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            status = answer.split()[1].decode() if answer.startswith(b"HTTP/") else "closed"
        except TimeoutError:
            status = "none"
        except OSError:
            status = "reset"
        finally:
            sock.close()
        counts[status] = counts.get(status, 0) + 1
    return counts


class Server:
    """``textrec serve`` (this file with ``--serve``) in its own process."""

    def __init__(self, export_dir: str, backlog: int, warm_up: str = "first",
                 read_timeout: float = 30.0):
        env = {**os.environ,
               "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", export_dir, "--backlog", str(backlog),
             "--warm-up", warm_up, "--read-timeout", str(read_timeout)],
            stdout=subprocess.PIPE, env=env, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise SystemExit(f"the server process did not start (printed {line!r})")
        self.port = int(line)
        for n in range(4):
            status, _ = one_request(self.port, body(n, 0))
            if status != "200":
                self.stop()
                raise SystemExit(f"warm-up request answered {status}")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


# --- the parts -----------------------------------------------------------------------------------

def start_part(export_dir: str, runs: int, probe_seconds: float,
               modes=("background", "first")) -> dict:
    """Start to first answer, ``background`` against ``first``, taking turns (or the
    ``modes`` given)."""
    from serving_parts import ServerProcess, free_port, post

    modes = list(modes)
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    probes = []
    text_body = json.dumps({"signature_name": "recommend_text", "instances": [
        {"text": ["warm tone, stays in tune"], "user_id": "", "k": 10}]}).encode()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(runs):
            for mode in (modes if run % 2 == 0 else modes[::-1]):
                port = free_port()
                log = Path(scratch) / f"{mode}-{run}.log"
                command = [sys.executable, "-m", "textrec.cli", "serve", export_dir, "--port",
                           str(port), "--poll-seconds", "0", "--warm-up", mode]
                server = ServerProcess(mode, command, port, PREDICT, text_body, log, env,
                                       str(ROOT))
                try:
                    seconds[mode].append(server.first_answer_s)
                    print(f"  start {run + 1}/{runs}: --warm-up {mode} answered "
                          f"{server.first_answer_s:.1f} s after its start", flush=True)
                    if mode == "background" and run == 0:
                        probes = probe(server, post, text_body, probe_seconds, log)
                finally:
                    server.stop()
    medians = {mode: statistics.median(values) for mode, values in seconds.items()}
    return {"runs": runs, "seconds": seconds, "median_s": medians,
            "ratio_first_over_background": (medians["first"] / medians["background"]
                                            if {"first", "background"} <= set(medians) else None),
            "probe": probes}


def probe(server, post, text_body: bytes, seconds: float, log: Path) -> dict:
    """Single-text requests one after the other for ``seconds`` after the first answer: their
    latency while the shapes compile, and after (once the server's log says they all are)."""
    during, after = [], []
    deadline = time.perf_counter() + seconds
    texts = ["warm tone", "the bridge rattles at high volume and the tuners slip",
             "great strings " * 12, "a cheap capo that works"]
    number, line = 0, None
    while time.perf_counter() < deadline:
        if line is None:   # once said, it stays said (the log's tail moves on with requests)
            line = next((text for text in server.log_tail(100_000).splitlines()
                         if "compiled for" in text), None)
        data = text_body.replace(b"warm tone, stays in tune", texts[number % 4].encode())
        status, ms, _ = post(server.port, PREDICT, data)
        if status == "200":
            (after if line is not None else during).append(ms)
        number += 1

    def figures(values):
        values = sorted(values)
        return {"requests": len(values),
                "p50_ms": round(statistics.median(values), 1) if values else None,
                "p95_ms": round(values[int(0.95 * (len(values) - 1))], 1) if values else None,
                "max_ms": round(values[-1], 1) if values else None}

    return {"seconds": seconds, "while_compiling": figures(during),
            "all_compiled": figures(after), "server_said": line}


def bursts_part(export_dir: str, backlogs, clients, per_client, heavy_requests) -> list:
    runs = []
    for backlog in backlogs:
        server = Server(export_dir, backlog)
        try:
            for count in clients:
                run = {"part": "bursts", "backlog": backlog, **burst(server.port, count,
                                                                     per_client)}
                print(json.dumps(run), flush=True)
                runs.append(run)
            if backlog == max(backlogs) and heavy_requests:
                run = {"part": "bursts + heavy", "backlog": backlog,
                       **mixed(server.port, min(clients), per_client, heavy_requests)}
                print(json.dumps(run), flush=True)
                runs.append(run)
        finally:
            server.stop()
    return runs


def crowd_part(export_dir: str, backlogs, crowd: int) -> list:
    runs = []
    for backlog in backlogs:
        server = Server(export_dir, backlog)
        try:
            run = {"part": "crowd", "backlog": backlog, **burst(server.port, crowd, 1)}
            print(json.dumps(run), flush=True)
            runs.append(run)
        finally:
            server.stop()
    return runs


def idle_part(export_dir: str, backlog: int, idle: int, live: int,
              read_timeout: float = 30.0) -> list:
    server = Server(export_dir, backlog, read_timeout=read_timeout)
    try:
        opened = time.monotonic()
        sockets = stalled_connections(server.port, idle)
        run = {"part": f"crowd with {idle} stalled connections open", "backlog": backlog,
               **burst(server.port, live, 1)}
        run["stalled"] = stalled_answers(sockets, opened + read_timeout + 60)
        run["stalled_waited_s"] = round(time.monotonic() - opened, 1)
        print(json.dumps(run), flush=True)
        return [run]
    finally:
        server.stop()


def small_export(folder: Path, max_length: int) -> str:
    from tests.export_support import build_trained_export

    os.environ.setdefault("TEXTREC_CACHE", str(folder / "cache"))
    return str(build_trained_export(folder / "models", max_length=max_length).path.parent)


def markdown(report: dict) -> str:
    from common import markdown_table

    lines = [
        "# `textrec serve`: its start, bursts, a crowd and idle connections (loopback)",
        "",
        f"{report['date']} · {report['machine']} · load average {report['load_average']} "
        f"· git {report['git']} · export {report['export']}.",
        "",
    ]
    start = report.get("start")
    if start:
        rows = [{"warm-up": mode, "runs (s)": ", ".join(f"{s:.1f}" for s in values),
                 "median s": f"{start['median_s'][mode]:.1f}"}
                for mode, values in start["seconds"].items()]
        lines += ["## Start to first answer (a cold process)", "",
                  markdown_table(rows, ["warm-up", "runs (s)", "median s"]), ""]
        if start.get("ratio_first_over_background"):
            lines += [f"`first` (compile every shape, then serve: the old start) over "
                      f"`background` (serve at once): {start['ratio_first_over_background']:.2f}x.",
                      ""]
        probe_figures = start.get("probe") or {}
        if probe_figures:
            rows = [{"phase": name.replace("_", " "), **figures}
                    for name, figures in probe_figures.items()
                    if isinstance(figures, dict)]
            lines += [f"Single-text `recommend_text` requests one after the other for "
                      f"{probe_figures['seconds']:g} s after the first answer (`background`):",
                      "", markdown_table(rows, ["phase", "requests", "p50_ms", "p95_ms",
                                                "max_ms"]), "",
                      f"The server said: {probe_figures.get('server_said') or 'nothing yet'}.",
                      ""]
    runs = report.get("runs", [])
    if runs:
        rows = [{**row, "statuses": ", ".join(f"{k}: {v}" for k, v in
                                              sorted(row["statuses"].items())),
                 "stalled": ", ".join(f"{k}: {v}" for k, v in
                                      sorted(row.get("stalled", {}).items()))}
                for row in runs]
        columns = ["part", "backlog", "clients", "requests", "resets", "statuses", "p50_ms",
                   "p95_ms", "max_ms", "wall_s", "stalled", "heavy_client"]
        lines += ["## Bursts, the crowd and stalled connections", "",
                  f"{report['per_client']} requests per client in the bursts, one in the crowds,"
                  " each on a new connection; even clients `recommend_text` (one text, the "
                  "encoder runs), odd ones `recommend_user`; latency from connect to the last "
                  "byte. `stalled`: what the stalled connections got.", "",
                  markdown_table(rows, columns), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export", help="an export folder (default: train a small one)")
    parser.add_argument("--max-length", type=int, default=128,
                        help="tokens per text of the small export (default 128)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--start-runs", type=int, default=2)
    parser.add_argument("--start-modes", default="background,first",
                        help="the --warm-up modes whose start is timed, comma-separated")
    parser.add_argument("--probe-seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--requests-per-client", type=int, default=4)
    parser.add_argument("--backlogs", type=int, nargs="+", default=[5, 4096])
    parser.add_argument("--heavy-requests", type=int, default=2,
                        help="maximal requests of the one heavy client in the mixed run (0: none)")
    parser.add_argument("--crowd", type=int, default=1000)
    parser.add_argument("--crowd-backlogs", type=int, nargs="+", default=[128, 4096])
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "server_load"))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--backlog", type=int, default=4096, help=argparse.SUPPRESS)
    parser.add_argument("--warm-up", default="first", help=argparse.SUPPRESS)
    parser.add_argument("--read-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.backlog, args.warm_up, args.read_timeout)
        return 0
    from common import git_revision, machine
    from textrec.export.server.lifecycle import listen_backlog, raise_open_files_limit

    raise_open_files_limit()              # this process holds a thousand client sockets
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "git": git_revision(),
              "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
              "somaxconn": listen_backlog()["cap"], "per_client": args.requests_per_client,
              "runs": []}
    with tempfile.TemporaryDirectory() as scratch:
        export_dir = args.export or small_export(Path(scratch), args.max_length)
        report["export"] = args.export or (f"small synthetic export (tests/export_support.py, "
                                           f"{args.max_length} tokens)")
        if "start" in args.parts:
            report["start"] = start_part(export_dir, args.start_runs, args.probe_seconds,
                                         args.start_modes.split(","))
            print(json.dumps(report["start"]), flush=True)
        if "bursts" in args.parts:
            report["runs"] += bursts_part(export_dir, args.backlogs, args.clients,
                                          args.requests_per_client, args.heavy_requests)
        if "crowd" in args.parts:
            report["runs"] += crowd_part(export_dir, args.crowd_backlogs, args.crowd)
        if "idle" in args.parts:
            report["runs"] += idle_part(export_dir, max(args.crowd_backlogs), args.idle,
                                        args.live)
    report["load_average_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
