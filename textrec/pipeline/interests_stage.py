"""Stage ``interests``: embed the train reviews and item descriptions with the base encoder,
build users' interest vectors and items' text vectors (notebook 03), and score the text-only
recommender on validation against the most popular items.

The base encoder (not the fine-tuned one) is used on purpose: the exported model embeds new
text in-graph with the base encoder, so the vectors it was trained on must come from it too.
"""

from __future__ import annotations

from textrec.pipeline.report import markdown_table, save_figure
from textrec.pipeline.state import PipelineState


def interests_stage(state: PipelineState) -> str:
    """Puts ``embedder``, ``review_vectors`` [len(train), dim] in train order,
    ``description_vectors`` ([len(items), dim] or None), ``user_text`` and ``item_text``
    (``TextVectors``)."""
    from textrec import interests

    prepared = state.need("prepared", "interests")
    train, items = prepared.split.train, prepared.items
    embedder = state.base_embedder()
    review_vectors, description_vectors = interests.embed_train_and_items(train, items, embedder)
    user_text = interests.interest_vectors(train, review_vectors)
    item_text = interests.item_text_vectors(items, train, review_vectors, description_vectors)
    state.put("interests", review_vectors=review_vectors,
              description_vectors=description_vectors, user_text=user_text, item_text=item_text)
    table = validation_table(prepared.split, user_text, item_text)
    state.metrics["text-only validation ndcg@10"] = table["text-only (mean)"]["NDCG@10"]
    image = save_figure(_figure(table), state, "interests_validation",
                        "text-only recommender against most popular, validation")
    return "\n".join(_section(embedder, review_vectors, description_vectors, user_text,
                              item_text, table) + ["", image])


def validation_table(split, user_text, item_text) -> dict:
    """Validation HR@10 and NDCG@10 of the text-only recommender and of the most popular items
    (full ranking, train items masked); users without text fall back to popularity."""
    from textrec import interests
    from textrec.evaluation import RANDOM, evaluate_scores, random_reference
    from textrec.models import item_popularity, most_popular_scores

    popularity = item_popularity(split.train, item_text.ids)
    scores = {
        "text-only (mean)": interests.TextOnlyRecommender(user_text, item_text).scores(
            popularity / max(popularity.max(), 1.0)),
        "most popular": most_popular_scores(split.train, item_text.ids, len(user_text)),
    }
    table = {}
    for name, model_scores in scores.items():
        metrics = evaluate_scores(model_scores, split, user_text.ids, item_text.ids,
                                  "validation")
        table[name] = {"HR@10": metrics["hr@10"], "NDCG@10": metrics["ndcg@10"]}
    chance = random_reference(split, "validation", user_text.ids, item_text.ids)
    table[RANDOM] = {"HR@10": chance["hr@10"], "NDCG@10": chance["ndcg@10"]}
    return table


def _section(embedder, review_vectors, description_vectors, user_text, item_text,
             table: dict) -> list[str]:
    descriptions = ("no item descriptions in this data: item vectors come from train reviews "
                    "only" if description_vectors is None else
                    f"{len(description_vectors):,} item descriptions embedded and mixed 1:1 with "
                    "each item's train reviews")
    return [
        "## Interest vectors and the text-only recommender",
        f"Encoder: base `{embedder.name}` (max {embedder.max_length} tokens), not the fine-tuned "
        f"one, so that the exported model's in-graph encoder matches. {len(review_vectors):,} "
        f"train reviews embedded ({descriptions}). Only train reviews are read.",
        "",
        f"- users: {user_text.summary()}",
        f"- items: {item_text.summary()}",
        "",
        "Validation, full ranking with each user's train items masked (users without text fall "
        "back to popularity):",
        "",
        markdown_table(table, ["HR@10", "NDCG@10"], first_column="model"),
    ]


def _figure(table: dict):
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axis = plt.subplots(figsize=(6, 3))
    names, metrics = list(table), ["HR@10", "NDCG@10"]
    positions, width = np.arange(len(metrics)), 0.8 / len(names)
    for offset, name in enumerate(names):
        axis.bar(positions + (offset - (len(names) - 1) / 2) * width,
                 [table[name][m] for m in metrics], width, label=name)
    axis.set_xticks(positions, metrics)
    axis.set(title="Validation: text-only recommender vs most popular", ylabel="score")
    axis.legend(fontsize=8)
    return figure
