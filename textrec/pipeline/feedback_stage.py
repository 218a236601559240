"""Stage ``feedback``: lesson 09 on the pipeline's data. The faithfulness of the text-only
recommender's and EASE's explanations (train split), what explanations cost when serving, and
the time-ordered replay (frozen, live interest vectors, periodic retrains) with drift.

Every review is embedded with the base encoder (the train reviews come from the on-disk cache
the ``interests`` stage filled); the replay never lets a period's own reviews feed the model
that predicts it.
"""

from __future__ import annotations

from textrec.pipeline.report import markdown_table, save_figure
from textrec.pipeline.state import PipelineState

K = 10


def feedback_stage(state: PipelineState) -> str:
    """Puts ``feedback_study`` (``textrec.feedback.FeedbackStudy``)."""
    from textrec import feedback, interests
    from textrec.data import schema

    prepared = state.need("prepared", "feedback")
    train_vectors = state.need("review_vectors", "feedback")
    description_vectors = state.need("description_vectors", "feedback")
    embedder = state.base_embedder()
    all_vectors = interests.embed_texts(embedder, prepared.reviews[schema.TEXT].tolist())
    study = feedback.run_study(prepared.reviews, all_vectors, prepared.split.train,
                               prepared.items, train_vectors, description_vectors, k=K,
                               seed=state.seed)
    state.put("feedback", feedback_study=study)
    live = _comparison(study, "text live", "text frozen")
    state.metrics["replay ndcg@10 gain, live vs frozen"] = live["difference"]
    state.metrics["faithfulness ratio (text-only)"] = (
        study.faithfulness["text-only (cited review)"].ratio)
    image = save_figure(_figure(study), state, "feedback_replay",
                        "replay NDCG@10 per period for each update schedule")
    return "\n".join(_section(study) + ["", image])


def _comparison(study, a: str, b: str):
    rows = study.comparisons
    return rows[(rows["a"] == a) & (rows["b"] == b) & (rows["users"] == "all")].iloc[0]


def _section(study) -> list[str]:
    from textrec import feedback

    faith = {name: result.summary() for name, result in study.faithfulness.items()}
    pooled = {row["model"]: row for row in feedback.pooled_means(study).to_dict("records")}
    paired = {f"{row['a']} - {row['b']} ({row['users']} users)": row
              for row in study.comparisons.to_dict("records")}
    window = study.window
    latency = study.latency
    return [
        "## Explanations and the feedback loop",
        "Explanations quote the user's review with the largest contribution to the item's "
        "score (text-only) or the history item with the largest weight (EASE). Faithfulness: "
        "the mean score drop when the cited evidence is left out over the mean drop for a "
        "random piece (each user's top 3; aim >= 2):",
        "",
        markdown_table(faith, ["pairs", "skipped", "ratio", "low", "high",
                               "cited beats random"], first_column="model"),
        "",
        f"Serving one user (NumPy top-{K}) took {latency['serve ms']:.2f} ms; explaining the "
        f"top 3 added {latency['added ms']:.2f} ms (mean over {latency['users']} users; a "
        "busy CPU makes this noisy).",
        "",
        f"Replay: reviews from {window['first review']} to {window['last review']}, cut-off "
        f"{window['cut-off']}, {len(study.replay.served)} periods served at their starts; "
        f"NDCG@{K} over every (period, user) pair with 95% intervals:",
        "",
        markdown_table(pooled, ["ndcg", "low", "high", "pairs"], first_column="schedule"),
        "",
        "Paired differences (95% bootstrap intervals; known users wrote before the cut-off, new "
        "ones did not):",
        "",
        markdown_table(paired, ["difference", "low", "high", "p_value"],
                       first_column="a - b"),
    ]


def _figure(study):
    import matplotlib.pyplot as plt

    table = study.table
    figure, axis = plt.subplots(figsize=(10, 4))
    colours = plt.get_cmap("tab10").colors
    names = study.replay.names
    for number, name in enumerate(names):
        rows = table[table["model"] == name]
        shift = (number - len(names) / 2) * 0.04
        axis.errorbar(rows["period"] + shift, rows[f"ndcg@{K}"],
                      yerr=[rows[f"ndcg@{K}"] - rows["low"], rows["high"] - rows[f"ndcg@{K}"]],
                      marker="o", capsize=3, color=colours[number % 10], label=name)
    chance = table.groupby("period")["random"].first()
    axis.plot(chance.index, chance.to_numpy(), "k--", label="random ranking (expected)")
    axis.set(title=f"Replay after the cut-off ({study.window['cut-off']}): NDCG@{K}, 95% "
             "intervals", xlabel="period (served at its start)", ylabel=f"NDCG@{K}")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure
