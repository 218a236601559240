"""Deployment: export a trained recommender as a SavedModel that serves from plain text, load it
back anywhere, serve it over HTTP, and measure its latency.

* ``build``: :func:`export_recommender` writes ``<folder>/<name>/<version>/`` with the
  signatures ``recommend_user``, ``recommend_text``, ``embed_text`` and ``explain``, TF
  Serving's warm-up records and a model card;
* ``warmup_requests``: the warm-up records (``assets.extra/tf_serving_warmup_requests``) that
  make TF Serving compile the encoder's shapes before its first request;
* ``module``: the serving graph (:class:`RecommenderModule`);
* ``tokenizer``: WordPiece tokenisation inside the graph (tensorflow-text);
* ``reload``: :func:`load_export`, :func:`warm_up`, :func:`call_signature`,
  :func:`run_in_fresh_process`, :func:`find_strings`;
* ``reference``: the same recommendations computed with the in-memory textrec objects;
* ``server``: ``textrec serve``, TF Serving's REST ``:predict`` API on loopback;
* ``latency``: timing of single queries and batches.
"""

from textrec.export.build import (DEFAULT_NAME, ExportInfo, ExportSettings, ServingParts,
                                  build_module, export_recommender, resolve_pseudonym_key,
                                  user_review_sums)
from textrec.export.card import read_card
from textrec.export.module import NO_ITEM, RecommenderModule
from textrec.export.reload import (call_signature, find_strings, load_export,
                                   run_in_fresh_process, version_folder, warm_up)
from textrec.export import tokenizer, warmup_requests
from textrec.export.tokenizer import GraphTokenizer, compare_with_hf

__all__ = [
    "DEFAULT_NAME", "ExportInfo", "ExportSettings", "GraphTokenizer", "NO_ITEM",
    "RecommenderModule", "ServingParts",
    "build_module", "call_signature", "compare_with_hf",
    "export_recommender", "find_strings", "load_export", "read_card", "resolve_pseudonym_key",
    "run_in_fresh_process", "tokenizer", "user_review_sums", "version_folder", "warm_up",
    "warmup_requests",
]
