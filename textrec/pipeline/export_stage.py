"""Stage ``export``: the joint model as a SavedModel that serves from text (lesson 08), checked.

Writes ``<reports>/export/textrec/1/`` (overwritten on each run; a deployment would bump the
version) with the model card carrying the metrics gathered so far. Every known interaction
(train, validation and test) counts as seen: the service never recommends an item a user has
already reviewed. Then it checks the export:

* ``recommend_user`` on the reloaded SavedModel equals the in-memory model for some users, and
  so does a fresh Python process that imports only TensorFlow and tensorflow-text;
* no train review text and no raw user id occurs in any file of the export;
* the latency of ``recommend_text`` for single queries (median and p95), after the compiled
  encoder's warm-up (``textrec.export.warm_up``: every shape compiled, so no timed call waits
  for XLA).

Puts ``export`` (the :class:`textrec.export.ExportInfo`) and the export's size and
latency into ``state.metrics``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from textrec.data import schema
from textrec.pipeline.state import PipelineState

CHECKED_USERS = 20
LATENCY_CALLS = 50
K = 10


def export_stage(state: PipelineState) -> str:
    from textrec import export, privacy
    from textrec.export import latency

    prepared = state.need("prepared", "export")
    model = state.need("joint_model", "export")
    user_text, item_text = state.need("user_text", "export"), state.need("item_text", "export")
    train = prepared.split.train
    # The model read the train reviews only; a service knows every interaction, and never
    # recommends an item a user has already reviewed.
    known = pd.concat([prepared.split.train, prepared.split.validation, prepared.split.test],
                      ignore_index=True)
    parts = export.ServingParts(model, user_text, item_text, train,
                                state.need("review_vectors", "export"), state.base_embedder())
    settings = export.ExportSettings(version=1, overwrite=True, seen=known,
                                     metrics=dict(state.metrics), data_name=prepared.name)
    info = export.export_recommender(parts, state.reports / "export", settings)
    state.put("export", export=info)
    key, _ = export.resolve_pseudonym_key()
    users = [str(u) for u in user_text.ids[:CHECKED_USERS]]
    loaded = export.load_export(info.path)
    checks = _equality_checks(info, loaded, model, item_text.ids, users,
                              list(privacy.pseudonymize_ids(users, key)), known)
    leaked = export.find_strings(info.path, train[schema.TEXT].tolist()
                                 + [str(u) for u in user_text.ids])
    texts = [t for t in prepared.split.test[schema.TEXT].tolist() if t.strip()] or ["great strings"]
    warm = export.warm_up(loaded)    # every shape compiled: no timed call waits for XLA
    state.metrics["encoder warm-up (s)"] = warm["seconds"]
    single = latency.time_calls(lambda text: _one_query(loaded, text), LATENCY_CALLS,
                                inputs=texts, warmup=3)
    size_mb = info.size_bytes / 1e6
    state.metrics["export size (MB)"] = size_mb
    state.metrics["recommend_text median latency (ms)"] = single["median_ms"]
    return "\n".join(_section(info, size_mb, checks, leaked, single, warm,
                              len(train) + len(user_text.ids)))


def _one_query(loaded, text: str):
    outputs = loaded.signatures["recommend_text"](
        text=tf.constant([[text]]), user_id=tf.constant([""]), k=tf.constant([K]))
    return outputs["item_ids"].numpy()


def _equality_checks(info, loaded, model, item_ids, users, pseudonyms, seen) -> dict:
    """Whether the reloaded export (``loaded``, and a fresh process) gives the in-memory
    model's top k for ``users``; raises when it does not (a broken export must not ship)."""
    from textrec import export
    from textrec.export import reference

    here = export.call_signature(loaded, "recommend_user", user_id=pseudonyms,
                                 k=[K] * len(pseudonyms))
    scores, ids = reference.recommend_user(model, item_ids, users, K, seen)
    request = {"signature": "recommend_user", "inputs": {"user_id": pseudonyms,
                                                         "k": [K] * len(pseudonyms)}}
    fresh = export.run_in_fresh_process(info.path, [request])
    fresh_ids = np.array(fresh["results"][0]["outputs"]["item_ids"], dtype=object)
    checks = {
        "same items as the in-memory model": bool(np.array_equal(here["item_ids"], ids)),
        "largest score difference": float(np.abs(here["scores"] - scores).max()),
        "same items in a fresh process": bool(np.array_equal(fresh_ids, here["item_ids"])),
        "textrec modules imported there": fresh["textrec_modules"],
    }
    if not (checks["same items as the in-memory model"]
            and checks["same items in a fresh process"] and not fresh["textrec_modules"]):
        raise RuntimeError(f"the export at {info.path} does not reproduce the model: {checks}")
    return checks


def _section(info, size_mb: float, checks: dict, leaked: list, single: dict, warm: dict,
             n_searched: int) -> list[str]:
    root = info.path.parent
    return [
        "## Export",
        f"SavedModel `{info.path}` ({size_mb:.1f} MB; TF Serving layout `<name>/<version>/`), "
        f"signatures `recommend_user`, `recommend_text`, `embed_text`; model card "
        f"`{info.path / 'model_card.md'}`. User ids are pseudonyms (key: "
        f"{info.pseudonym_key_source}).",
        "",
        f"- Reloaded, `recommend_user` for {CHECKED_USERS} users gives the in-memory model's top "
        f"{K}: {checks['same items as the in-memory model']} (largest score difference "
        f"{checks['largest score difference']:.1e}); in a fresh process with only TensorFlow and "
        f"tensorflow-text: {checks['same items in a fresh process']}.",
        f"- Searched every file for {n_searched:,} strings (train review texts and raw user ids): "
        f"{len(leaked)} found.",
        f"- The encoder, compiled with XLA on {warm['shapes']} bucket shapes, warmed up in "
        f"{warm['seconds']:.0f} s (what `textrec serve` does when it loads a version).",
        f"- `recommend_text`, one query per call ({single['n']} calls, in process, this machine): "
        f"median {single['median_ms']:.1f} ms, p95 {single['p95_ms']:.1f} ms.",
        "",
        f"Serve it with `textrec serve {root}` (TF Serving's REST API on 127.0.0.1:8501), or with "
        f"TF Serving: `docker run -p 8501:8501 --mount type=bind,source={root},"
        f"target=/models/textrec -e MODEL_NAME=textrec -t tensorflow/serving`.",
    ]
