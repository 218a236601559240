"""Stage ``data``: load, clean, split, check for leakage, plot and save the reviews."""

from __future__ import annotations

import json

from textrec.pipeline.report import markdown_table, save_figure
from textrec.pipeline.state import PipelineState


def data_stage(state: PipelineState) -> str:
    """Prepare the data and describe it; puts ``prepared`` (a ``PreparedData``)."""
    from textrec import plotting
    from textrec.data.prepare import prepare_data

    prepared = prepare_data(state.source, profile=state.profile, seed=state.seed)
    folder = prepared.save()
    state.put("data", prepared=prepared)
    stats = prepared.stats()
    (state.reports / "data_report.json").write_text(json.dumps(stats, indent=2))
    figure = plotting.data_overview(prepared.reviews, title=f"Data: {prepared.name}")
    image = save_figure(figure, state, "data_overview", "data overview")
    return "\n".join(_description(prepared, stats, folder) + ["", image])


def _description(prepared, stats: dict, folder) -> list[str]:
    ratings = ", ".join(f"{k}: {v:,}" for k, v in stats["ratings"].items())
    load = prepared.load_report.summary() if prepared.load_report else (
        "generated in memory (synthetic reviews, no file read)")
    return [
        "## Data",
        f"Source: `{prepared.name}`; prepared data saved to `{folder}`.",
        "",
        f"- {stats['reviews']:,} reviews by {stats['users']:,} users of {stats['items']:,} items "
        f"(density {stats['density']:.4f}), {stats['time_range'][0]} to {stats['time_range'][1]}",
        f"- ratings {ratings} (mean {stats['mean_rating']:.2f})",
        f"- reviews per user: median {stats['reviews_per_user_median']:g}, max "
        f"{stats['reviews_per_user_max']:,}; per item: median "
        f"{stats['reviews_per_item_median']:g}, max {stats['reviews_per_item_max']:,}",
        f"- review length in words: median {stats['review_words_median']:g}, p95 "
        f"{stats['review_words_p95']:g}, max {stats['review_words_max']:,}; "
        f"{stats['empty_texts']:,} empty",
        f"- users whose last two reviews share a day: {stats['users_last_two_same_day']:.0%} "
        "(ties broken by file order)",
        "",
        "Loading:", "```", load, "```",
        "Cleaning (every removed row is listed in `removed_rows.csv`):", "```",
        prepared.cleaning_report.summary(), "```",
        f"Split ({prepared.split.protocol}, checked leak-free):", "",
        markdown_table(stats["split"], ["reviews", "users", "items"]),
    ]
