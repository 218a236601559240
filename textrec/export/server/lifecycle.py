"""Starting a server (in a background thread or until Ctrl-C) and stopping it.

A crowd of clients connecting at once: the kernel queues connections the server has not
accepted yet, up to the *listen backlog*; past it, a new connection is reset. The server asks
for :data:`LISTEN_BACKLOG` (4096) connections. Linux silently cuts that to
``net.core.somaxconn`` (4096 by default since kernel 5.4, 128 before), so the server reads it
and says when it is lower; macOS and the BSDs cut it to ``kern.ipc.somaxconn`` (128 by default)
just as silently; Windows takes it as asked. Each accepted connection holds a file descriptor
while its thread serves it, so the process's soft limit on open files is raised towards its hard
limit (:data:`OPEN_FILES`): with a soft limit of 1,024, the thousandth connection would
otherwise wait unaccepted.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import sys
import threading
import warnings
from http.server import ThreadingHTTPServer
from pathlib import Path

from textrec.export.server.handler import MAX_BODY_BYTES, _Handler
from textrec.export.server.model import (BATCH_WINDOW_MS, MAX_BATCH_ROWS, MAX_CONCURRENT,
                                         QUEUE_TIMEOUT, ServedModel)
from textrec.export.server.watcher import POLL_SECONDS, ModelWatcher

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
LISTEN_BACKLOG = 4096     # connections the kernel queues before the server accepts them
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")    # Linux's cap on any listen backlog
OPEN_FILES = 16384        # the soft limit on open files the server raises itself to, at most
READ_TIMEOUT = 30.0       # seconds a client may stall mid-request before a 408


def listen_backlog(wanted: int = LISTEN_BACKLOG, somaxconn: Path = SOMAXCONN) -> dict:
    """The backlog to ask ``listen()`` for: ``{"backlog": n, "asked": wanted, "cap": c}``, where
    ``c`` is Linux's ``net.core.somaxconn`` (read from ``somaxconn``; None elsewhere, where the
    system cuts the backlog without saying, see the module docstring) and ``n = min(wanted,
    c)``."""
    try:
        cap = int(somaxconn.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        cap = None
    backlog = min(int(wanted), cap) if cap is not None and cap > 0 else int(wanted)
    return {"backlog": backlog, "asked": int(wanted), "cap": cap}


def raise_open_files_limit(wanted: int = OPEN_FILES) -> int | None:
    """Raise this process's soft limit on open files to ``wanted`` (at most its hard limit);
    the limit now (None where there is no such limit, as on Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else soft


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when 20 clients arrive together;
    # __init__ sets the backlog of each server (listen_backlog()).
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, watcher: ModelWatcher, quiet: bool, max_body_bytes: int,
                 read_timeout: float, backlog: dict | None = None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.watcher, self.quiet, self.max_body_bytes = watcher, quiet, int(max_body_bytes)
        self.read_timeout = float(read_timeout)
        self.backlog = backlog or listen_backlog()
        self.request_queue_size = self.backlog["backlog"]     # what server_activate listens with
        self.open_files = raise_open_files_limit()
        try:
            super().__init__(address, _Handler)
        except OSError:
            watcher.stop()
            raise

    @property
    def model(self) -> ServedModel:
        """The version being served now (a request reads it once and keeps it)."""
        return self.watcher.current

    def server_close(self) -> None:
        self.watcher.stop()
        super().server_close()


def make_server(export_dir, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                model_name: str | None = None, quiet: bool = False,
                max_body_bytes: int = MAX_BODY_BYTES, read_timeout: float = READ_TIMEOUT,
                max_concurrent: int = MAX_CONCURRENT, queue_timeout: float = QUEUE_TIMEOUT,
                poll_seconds: float = POLL_SECONDS, batch_window_ms: float = BATCH_WINDOW_MS,
                max_batch_rows: int = MAX_BATCH_ROWS, warm_up="background",
                backlog: int = LISTEN_BACKLOG) -> _Server:
    """Load the export and bind (not yet serve) an HTTP server; ``port=0`` picks a free port.

    ``read_timeout``: seconds a client may stall mid-request (408); ``max_concurrent``: model
    calls run at once; ``queue_timeout``: seconds a request waits for one of them (then 503);
    ``poll_seconds``: how often to look for a newer version of ``<folder>/<name>`` and serve
    it without a restart (0: never; a version folder given directly is never replaced);
    ``batch_window_ms``: requests of one signature arriving within this many milliseconds of
    the first share one model call (0: one call per request); ``max_batch_rows``: the most
    rows such a call gathers; ``warm_up``: how the XLA encoder's shapes get compiled, at start
    and for a newer version (``"background"``, True: serve at once through TensorFlow's graph
    encoder and compile them behind the requests; ``"first"``: compile them all before
    serving; ``"none"``, False: each on the first request that needs it; see
    :mod:`textrec.export.server.warmup`); ``backlog``: the listen backlog to ask for (cut to
    Linux's ``net.core.somaxconn``, :func:`listen_backlog`).
    """
    if host not in LOOPBACK_HOSTS:
        warnings.warn(f"serving on {host}: this server has no authentication and no TLS; anyone "
                      "who can reach the port can query the model", stacklevel=3)
    watcher = ModelWatcher(export_dir, model_name, poll_seconds=poll_seconds,
                           max_concurrent=max_concurrent, queue_timeout=queue_timeout,
                           batch_window_ms=batch_window_ms, max_batch_rows=max_batch_rows,
                           warm_up=warm_up, announce=None if quiet else _to_stderr)
    return _Server((host, port), watcher, quiet, max_body_bytes, read_timeout,
                   listen_backlog(backlog))


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def server_url(server: _Server) -> str:
    host = server.server_address[0]
    return f"http://[{host}]:{server.server_port}" if ":" in host else \
        f"http://{host}:{server.server_port}"


@dataclasses.dataclass(repr=False)
class ServerHandle:
    """A server running in a background thread; ``stop()`` (or ``with``) ends it."""

    server: _Server
    thread: threading.Thread

    def __repr__(self) -> str:
        return f"ServerHandle(url={self.url!r}, model={self.model.name!r})"

    @property
    def url(self) -> str:
        return server_url(self.server)

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def model(self) -> ServedModel:
        return self.server.model

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def start_server(export_dir, host: str = DEFAULT_HOST, port: int = 0, **options) -> ServerHandle:
    """Serve ``export_dir`` in a background thread (for notebooks and tests); ``options`` are
    :func:`make_server`'s."""
    server = make_server(export_dir, host, port, **options)
    thread = threading.Thread(target=server.serve_forever, name="textrec-serve", daemon=True)
    thread.start()
    return ServerHandle(server, thread)


def usage(server: _Server) -> str:
    """What to print when a server starts: its URL and a request to try."""
    url, model = server_url(server), server.model
    example = {"text": ["warm tone, stays in tune"], "user_id": "", "k": 5}
    body = json.dumps({"signature_name": "recommend_text", "instances": [example]})
    return (f"serving {model.path} as model {model.name!r} version {model.version} at {url}\n"
            f"  status:   curl {url}/v1/models/{model.name}\n"
            f"  metadata: curl {url}/v1/models/{model.name}/metadata\n"
            f"  predict:  curl -X POST {url}/v1/models/{model.name}:predict -d '{body}'\n"
            + _ready(model) + _watching(server.watcher) + _batching(model)
            + _crowd(server) + "Ctrl-C stops it.")


def _ready(model: ServedModel) -> str:
    warm = model.warm
    if warm["mode"] == "none":
        compiled = "the encoder compiles each new input shape on its first request (--no-warm-up)"
    elif not warm["shapes"]:
        compiled = "the encoder is not compiled (nothing to warm up)"
    elif warm["mode"] == "first":
        compiled = (f"the encoder compiled for {warm['shapes']} input shapes in "
                    f"{warm['seconds']:.1f} s")
    else:
        compiled = (f"requests are answered now, through TensorFlow's graph encoder until the "
                    f"{warm['shapes']} compiled input shapes are ready (compiled behind the "
                    "requests)")
    return f"Loaded in {model.load_seconds:.1f} s; {compiled}.\n"


def _crowd(server: _Server) -> str:
    backlog = server.backlog
    line = f"Listen backlog: {backlog['backlog']} connections"
    if backlog["cap"] is not None and backlog["cap"] < backlog["asked"]:
        line += (f" (asked for {backlog['asked']}; the kernel's net.core.somaxconn caps it at "
                 f"{backlog['cap']}: more clients connecting at once are reset)")
    return line + ".\n"


def _batching(model: ServedModel) -> str:
    if model.batcher is None:
        return "Each request gets a model call of its own (no batching).\n"
    return (f"Requests of one signature arriving within {model.batch_window_ms:g} ms of each "
            f"other share one model call (up to {model.max_batch_rows} rows).\n")


def _watching(watcher: ModelWatcher) -> str:
    if watcher.pinned or watcher.poll_seconds <= 0:
        return "This version stays until the server restarts.\n"
    return (f"A newer version exported to {watcher.root} is served within "
            f"{watcher.poll_seconds:g} s, without a restart.\n")


def serve_forever(export_dir, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                  announce=print, **options) -> None:
    """Serve until Ctrl-C (or SIGTERM); ``announce`` receives :func:`usage`'s text."""
    server = make_server(export_dir, host, port, **options)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    announce(usage(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        announce("stopped")
    finally:
        server.server_close()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_handler)


def _raise_keyboard_interrupt(signal_number, frame):
    raise KeyboardInterrupt
