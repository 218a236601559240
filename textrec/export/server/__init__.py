"""Serve an export over HTTP with TensorFlow Serving's REST API, so that a client written against
this server switches to TF Serving (same export, same URLs, same JSON) without changes.

    handle = start_server("reports/export/textrec")      # background thread, a free port
    handle.url                                           # http://127.0.0.1:54321
    handle.stop()

``textrec serve EXPORT_DIR`` runs :func:`serve_forever` (Ctrl-C stops it). Endpoints, as TF
Serving's (https://www.tensorflow.org/tfx/serving/api_rest):

* ``POST /v1/models/<name>[/versions/<v>]:predict`` with ``{"signature_name": ...,
  "instances": [...]}`` (row format: one object of named inputs per row, or a bare value per row
  for a one-input signature) -> ``{"predictions": [...]}`` (one object of all outputs per row, or
  the bare value for a one-output signature); or with ``{"inputs": {...}}`` (columnar: one
  nested list per input, or a bare list for a one-input signature) -> ``{"outputs": {...}}``.
  ``signature_name`` defaults to ``serving_default``;
* ``GET /v1/models/<name>[/versions/<v>]``: the model's status;
* ``GET /v1/models/<name>[/versions/<v>]/metadata``: its signature defs.

JSON as TF Serving writes it, but strict: floats as the shortest decimal that reads back as the
same float32; strings ``{"b64": ...}``-encoded in and, for outputs named ``*_bytes``, out. No
body ever holds ``NaN`` or ``Infinity`` (TF Serving writes them as bare tokens, which strict
parsers reject, and this server refuses them in requests): an empty slot (item id ``""``, the
export's score ``-inf``) has the score ``null``, and any other non-finite value from the model
is a 500 naming the output (``response``).

Errors are ``{"error": "..."}`` with status 400 (malformed or wrong request: bad JSON, unknown
signature or input, wrong type or shape, no rows, a row with no text (only empty or blank
strings), an ``item_id`` to explain that is not in the catalogue, a body shorter than its
Content-Length, k outside [1, max_k], an error from the graph, told without TensorFlow's node
names), 404 (unknown model, version or path), 405 (wrong method), 408 (the client stalled
mid-request for ``read_timeout`` seconds, 30 by default), 411 (no Content-Length), 413 (over a
size or work limit: the body, rows per request, texts per row, characters per text, from the
model card; texts and characters per request, ``request.SERVER_LIMITS``: 256 texts, padding
included, and 200,000 characters), 503 (``max_concurrent`` model calls, 2 by default, are
running and none finished within ``queue_timeout`` seconds, 30 by default; with
``Retry-After``) or 500 (anything unexpected; the server keeps running). The checks this server
adds to TF Serving's (size and work limits, k, unknown inputs) only make it stricter. The
listen backlog is 4,096 connections where the system allows it (``lifecycle``: Linux caps it at
``net.core.somaxconn``; socketserver's default of 5 resets bursts of clients), so a thousand
clients connecting at once are queued, not reset.

Batching, as TF Serving's: ``:predict`` requests of one signature that arrive within
``batch_window_ms`` milliseconds of the first (2 by default) are computed by ONE model call on
their rows together, up to ``max_batch_rows`` rows (64 by default; a bigger request runs alone),
since the encoder runs a batch of texts more efficiently than one text at a time. Each
request gets the answer a call of its own gives: its own rows, cut to its own max(k) (or
max(n)), ``text`` rows padded with ``""`` (no text) only inside the call; floats may differ in
their last bits, as they do between batch sizes. If the graph refuses a batched call, its
requests run again one at a time, so only the bad one gets its 400. Batched calls take the
``max_concurrent`` slots like any call, and a request not taken into a call within
``queue_timeout`` seconds gets the 503. ``batch_window_ms=0`` turns batching off (one call per
request). ``ServedModel.stats()`` counts the calls, requests and rows.

Warm-up (``warmup``): the export's encoder is compiled with XLA for each of its bucket shapes
(about a second a shape on a small CPU). The server answers at once: a request runs through
TensorFlow's graph encoder until every shape it needs is compiled, and the shapes compile one by
one behind the requests (one text before several, short before long), at start and for a newer
version; so no request waits for the compiler. ``warm_up="first"`` (``--warm-up first``)
compiles them all before serving; ``"none"`` (``--no-warm-up``) compiles each on the first
request that needs it. The start message says how long loading took.

There is no authentication: the server listens on loopback unless told otherwise, and warns then.

The pieces: ``model`` (the export being served), ``request`` (JSON -> arrays, with the checks),
``response`` (arrays -> JSON), ``errors`` (:class:`RequestError`), ``batching`` (requests put
together into one call), ``handler`` (HTTP routing and status codes), ``watcher`` (a newer
version served without a restart) and ``lifecycle`` (starting and stopping a server).
"""

from textrec.export.server.batching import RequestBatcher
from textrec.export.server.errors import RequestError
from textrec.export.server.handler import DRAIN_BYTES, ENDPOINTS, MAX_BODY_BYTES, ROUTES
from textrec.export.server.lifecycle import (DEFAULT_HOST, DEFAULT_PORT, LISTEN_BACKLOG,
                                             LOOPBACK_HOSTS, READ_TIMEOUT, ServerHandle,
                                             listen_backlog, make_server, serve_forever,
                                             server_url, start_server, usage)
from textrec.export.server.model import (BATCH_WINDOW_MS, DEFAULT_SIGNATURE, MAX_BATCH_ROWS,
                                         MAX_CONCURRENT, QUEUE_TIMEOUT, ServedModel,
                                         default_model_name)
from textrec.export.server.request import SERVER_LIMITS
from textrec.export.server.response import _json_values as _json_values  # tests use it
from textrec.export.server.response import plain_outputs, to_json
from textrec.export.server.warmup import MODES as WARM_UP_MODES

__all__ = [
    "BATCH_WINDOW_MS", "DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_SIGNATURE", "DRAIN_BYTES",
    "ENDPOINTS", "LISTEN_BACKLOG", "LOOPBACK_HOSTS", "MAX_BATCH_ROWS", "MAX_BODY_BYTES",
    "MAX_CONCURRENT", "QUEUE_TIMEOUT", "READ_TIMEOUT", "ROUTES", "RequestBatcher", "RequestError",
    "SERVER_LIMITS", "ServedModel", "ServerHandle", "WARM_UP_MODES", "default_model_name",
    "listen_backlog", "make_server", "plain_outputs", "serve_forever", "server_url",
    "start_server", "to_json", "usage",
]
