"""The model card written beside an export: what the model is, what it was trained on, how well
it does, what privacy protection it has, and how to call it.

``model_card.json`` is for programs (the server reads its limits); ``model_card.md`` for people.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from textrec import _environment

CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"

SIGNATURES = {
    "recommend_user": {
        "inputs": {"user_id": "string [batch]: pseudonymised user id",
                   "k": "int32 [batch]: items wanted, 1 to max_k"},
        "outputs": {"item_ids": "string [batch, max k]", "scores": "float32 [batch, max k]",
                    "known_user": "bool [batch]"}},
    "recommend_text": {
        "inputs": {"text": "string [batch, texts]: a query, a new review or recent reviews "
                           "('' pads)",
                   "user_id": "string [batch]: pseudonymised id, or '' for an anonymous query",
                   "k": "int32 [batch]: items wanted, 1 to max_k"},
        "outputs": {"item_ids": "string [batch, max k]", "scores": "float32 [batch, max k]",
                    "known_user": "bool [batch]"}},
    "embed_text": {
        "inputs": {"text": "string [batch]"},
        "outputs": {"vectors": "float32 [batch, text dim]: unit interest vectors"}},
    "explain": {
        "inputs": {"user_id": "string [batch]: pseudonymised user id",
                   "item_id": "string [batch]: the recommended item",
                   "n": "int32 [batch]: history items wanted, 1 to max_k"},
        "outputs": {"history_item_ids": "string [batch, max n]: seen items closest to the item",
                    "contributions": "float32 [batch, max n]: their candidate-embedding dot "
                                     "products with the item",
                    "score": "float32 [batch]: the model's score of the item",
                    "known_user": "bool [batch]"}},
}

# Limits a server enforces on requests (the graph itself checks k).
LIMITS = {"max_text_chars": 20_000, "max_batch": 256, "max_texts_per_row": 32}


def write_card(path: Path, *, name: str, version: int, facts: dict, metrics: dict,
               privacy_budget: dict | None, data_name: str) -> dict:
    """Write ``model_card.json`` and ``model_card.md`` into ``path``; return the card."""
    card = {
        "name": name,
        "version": version,
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "data": data_name,
        "model": facts,
        "metrics": {key: float(value) for key, value in metrics.items()},
        "privacy": {
            "user_ids": "HMAC-SHA256 pseudonyms (textrec.privacy.pseudonymize); key: "
                        + facts["pseudonym_key"],
            "review_text": "not stored; only vectors derived from it",
            "differential_privacy": privacy_budget or "not trained with DP-SGD",
        },
        "signatures": SIGNATURES,
        "limits": {**LIMITS, "max_k": facts["max_k"]},
        "versions": _environment.versions(),
    }
    (path / CARD_JSON).write_text(json.dumps(card, indent=2))
    (path / CARD_MARKDOWN).write_text(markdown(card))
    return card


def read_card(path) -> dict:
    """The card of an export's version folder (``{}`` when it has none)."""
    file = Path(path) / CARD_JSON
    return json.loads(file.read_text()) if file.is_file() else {}


def _window_lines(window: dict | None) -> list[str]:
    if not window or not window.get("first review"):
        return []
    return [f"- Data window: {window['reviews']:,} reviews written from {window['first review']} "
            f"to {window['last review']} (UTC); nothing later is known to this version."]


def _compiled_lines(compiled: dict | None) -> list[str]:
    if not compiled or not compiled.get("xla"):
        return []
    lengths = ", ".join(map(str, compiled["lengths"]))
    sizes = ", ".join(map(str, compiled["batch_sizes"]))
    return [f"- The encoder runs compiled with XLA on {len(compiled['lengths'])} padded lengths "
            f"({lengths} tokens) x {len(compiled['batch_sizes'])} batch sizes ({sizes} texts); "
            "a server compiles them all when it loads this version "
            "(`textrec.export.warm_up`)."]


def _retrieval_lines(retrieval: dict | None) -> list[str]:
    if not retrieval or retrieval.get("exact", True):
        return ["- Retrieval is exact: every item is scored for every request."]
    recall = next((f"; recall{key[6:key.index(' ')]} {value:.3f} against the exact top-k"
                   for key, value in retrieval.items() if key.startswith("recall@")), "")
    return [f"- Retrieval goes through an approximate index built by {retrieval['library']} "
            f"({retrieval['index']}, {retrieval['n_lists']} lists, {retrieval['n_probe']} probed "
            f"per request{recall} for the known users), probed inside the serving graph; a "
            "request its probed lists cannot fill with unseen items is answered exactly."]


def markdown(card: dict) -> str:
    """The card as Markdown."""
    model, privacy = card["model"], card["privacy"]
    lines = [
        f"# Model card: {card['name']} version {card['version']}",
        "",
        f"Created {card['created_utc']} UTC from data `{card['data'] or 'unnamed'}`.",
        "",
        "## Model",
        f"- Two-tower recommender; text encoder `{model['encoder']}` ({model['text_dim']} dims, "
        f"texts cut at {model['max_length']} tokens), tokenised inside the graph "
        "(checked equal to the encoder's tokenizer on "
        f"{model['tokenizer_check']['texts_compared']:,} training texts).",
        f"- {model['users']:,} known users, {model['items']:,} items; {model['seen_pairs']:,} "
        f"seen (user, item) pairs are never recommended again "
        f"({model['seen_pairs_skipped']:,} skipped: unknown user or item).",
        *_window_lines(model.get("data_window")),
        *_compiled_lines(model.get("compiled_encoder")),
        *_retrieval_lines(model.get("retrieval")),
        "",
        "## Metrics",
    ]
    lines += [f"- {key}: {value:.4f}" for key, value in card["metrics"].items()] or ["- none given"]
    dp = privacy["differential_privacy"]
    dp_text = (", ".join(f"{k} {v}" for k, v in dp.items()) if isinstance(dp, dict) else dp)
    lines += [
        "",
        "## Privacy",
        f"- User ids: {privacy['user_ids']}.",
        f"- Review text: {privacy['review_text']}.",
        f"- Differential privacy: {dp_text}.",
        "",
        "## Signatures",
    ]
    for signature, spec in card["signatures"].items():
        inputs = "; ".join(f"`{k}` {v}" for k, v in spec["inputs"].items())
        outputs = "; ".join(f"`{k}` {v}" for k, v in spec["outputs"].items())
        lines.append(f"- `{signature}`: inputs {inputs}. Outputs {outputs}.")
    limits = card["limits"]
    lines += [
        "",
        f"Limits: k from 1 to {limits['max_k']}; at most {limits['max_batch']} rows per request, "
        f"{limits['max_texts_per_row']} texts per row and {limits['max_text_chars']:,} characters "
        "per text. Unfilled positions hold item id '' and score -inf.",
        "",
        "## Versions",
        ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        "",
    ]
    return "\n".join(lines)
