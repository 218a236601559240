"""HTTP: one request's routing, JSON body, status code and log line."""

from __future__ import annotations

import http
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler

from textrec.export.server.errors import RequestError
from textrec.export.server.response import to_json

MAX_BODY_BYTES = 1 << 20          # larger bodies get 413
DRAIN_BYTES = 64 << 20            # an oversized body up to this is read (and dropped) before 413
_MODEL = r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?"
ROUTES = [  # (pattern, allowed method, action)
    (re.compile(_MODEL + r":(?P<verb>[A-Za-z]+)", re.IGNORECASE), "POST", "predict"),
    (re.compile(_MODEL + r"/metadata", re.IGNORECASE), "GET", "metadata"),
    (re.compile(_MODEL, re.IGNORECASE), "GET", "status"),
]
ENDPOINTS = ("POST /v1/models/<name>[/versions/<v>]:predict, GET /v1/models/<name>[/versions/<v>]"
             " and GET /v1/models/<name>[/versions/<v>]/metadata")


def _not_json(token: str):
    """Python's json reads ``NaN``, ``Infinity`` and ``-Infinity``; JSON has no such values."""
    raise ValueError(f"{token} is not a JSON value")


class _Handler(BaseHTTPRequestHandler):
    """One request: route, answer in JSON, log one line. ``server.model`` is the ServedModel."""

    server_version = "textrec-serve"

    def setup(self):
        # Seconds a client may stall mid-request (headers or body): ``server.read_timeout``.
        self.timeout = self.server.read_timeout
        super().setup()

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST

    def _handle(self):
        started = time.perf_counter()
        path = self.path.split("?", 1)[0]
        self._body_read, headers = False, {}
        try:
            status, payload = 200, self._dispatch(path)
        except RequestError as error:
            status, payload, headers = error.status, {"error": error.message}, error.headers
        except Exception as error:  # noqa: BLE001  (the server must keep answering)
            status, payload = 500, {"error": f"internal error: {type(error).__name__}: {error}"}
        self._discard_unread_body()
        self._send(status, payload, headers)
        self._log(path, status, started)

    def _dispatch(self, path: str) -> dict:
        model = self.server.model
        for pattern, method, action in ROUTES:
            match = pattern.fullmatch(path)
            if not match:
                continue
            if self.command != method:
                raise RequestError(405, f"{self.command} is not allowed on {path}; use {method}",
                                   {"Allow": method})
            model.check_version(match["name"], match["version"])
            if action == "status":
                return model.status()
            if action == "metadata":
                return model.metadata()
            if match["verb"].lower() != "predict":
                raise RequestError(404, f":{match['verb']} is not served here; only :predict")
            return model.predict(self._read_json())
        raise RequestError(404, f"unknown path {path}; this server answers {ENDPOINTS}")

    def _content_length(self) -> int | None:
        length = self.headers.get("Content-Length")
        if length is not None and not length.strip().isdigit():
            self.close_connection = True
            raise RequestError(400, f"bad Content-Length {length!r}")
        return None if length is None else int(length)

    def _read_json(self) -> dict:
        length = self._content_length()
        if length is None:
            raise RequestError(411, "a Content-Length header is required")
        if length > self.server.max_body_bytes:
            raise RequestError(413, f"the body has {length:,} bytes; the limit is "
                                    f"{self.server.max_body_bytes:,}")
        self._body_read = True
        data = self._read_body(length)
        try:
            body = json.loads(data, parse_constant=_not_json)
        except (ValueError, RecursionError) as error:
            raise RequestError(400, f"malformed JSON: {error}") from None
        if not isinstance(body, dict):
            raise RequestError(400, f"the body must be a JSON object, got {type(body).__name__}")
        return body

    def _read_body(self, length: int) -> bytes:
        """``length`` bytes of body: 408 unless all of it arrives within
        ``server.read_timeout`` seconds (a client sending a byte now and then cannot hold a
        thread either), 400 when the client closes the connection early."""
        chunks, received = [], 0
        limit = self.server.read_timeout
        deadline = time.monotonic() + limit
        try:
            while received < length:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(length - received, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            self.close_connection = True
            raise RequestError(408, f"the body stopped after {received:,} of the {length:,} bytes "
                                    f"its Content-Length announced: it did not arrive within "
                                    f"{limit:g} s") from None
        finally:
            self.connection.settimeout(limit)
        if received < length:
            self.close_connection = True
            raise RequestError(400, f"the body ended after {received:,} of the {length:,} bytes "
                                    "its Content-Length announced")
        return b"".join(chunks)

    def _discard_unread_body(self) -> None:
        """Read (and drop) a body refused unread: a client still sending it would otherwise see
        the connection reset instead of the answer. Past ``DRAIN_BYTES``, just close."""
        try:
            length = 0 if self._body_read else (self._content_length() or 0)
        except RequestError:
            length = 0
        if length > DRAIN_BYTES:
            self.close_connection = True
            return
        try:
            while length > 0:
                chunk = self.rfile.read1(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:   # a stalled or reset client: answer what we can, then close
            self.close_connection = True

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = to_json(payload)
        self.send_response(status)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                   **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        """Errors the base class finds (a malformed request line, headers too long) in JSON."""
        phrase = message or http.HTTPStatus(code).phrase
        self.close_connection = True
        try:
            self._send(code, {"error": phrase})
        except (AttributeError, OSError):
            pass
        self._log(getattr(self, "path", "?"), code, time.perf_counter())

    def log_request(self, code="-", size="-"):
        """Replaced by :meth:`_log` (one line per request, with its duration)."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        """The base class's own lines (e.g. a request line that timed out), unless quiet."""
        if not self.server.quiet:
            super().log_message(format, *args)

    def _log(self, path: str, status: int, started: float) -> None:
        if not self.server.quiet:
            milliseconds = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {self.client_address[0]} "
                             f"{getattr(self, 'command', '?')} {path} {status} "
                             f"{milliseconds:.1f} ms\n")
