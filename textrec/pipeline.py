"""The main job: run the course's stages end to end and write ``reports/``.

Stages run in order; each returns a Markdown section and figures for the report. The stages
that exist now: ``data`` (load, clean, split, check for leakage, plot, save). Later lessons
append theirs to :data:`STAGES`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

from textrec import _environment, config


def _markdown_table(rows: dict[str, dict], columns: list[str]) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:,}" for c in columns) + " |")
    return "\n".join(lines)


def data_stage(context: dict) -> str:
    """Prepare the data and describe it: figures plus a Markdown section."""
    from textrec import plotting
    from textrec.data.prepare import prepare_data

    prepared = prepare_data(context["source"], profile=context["profile"])
    folder = prepared.save()
    context["prepared"] = prepared
    stats = prepared.stats()
    (context["reports"] / "data_report.json").write_text(json.dumps(stats, indent=2))
    figure = plotting.data_overview(prepared.reviews, title=f"Data: {prepared.name}")
    figure.savefig(context["figures"] / "data_overview.png", dpi=110)
    ratings = ", ".join(f"{k}: {v:,}" for k, v in stats["ratings"].items())
    load = prepared.load_report.summary() if prepared.load_report else "generated in memory"
    return "\n".join([
        "## Data",
        f"Source: `{prepared.name}`; prepared data saved to `{folder}`.",
        "",
        f"- {stats['reviews']:,} reviews by {stats['users']:,} users of {stats['items']:,} items "
        f"(density {stats['density']:.4f}), {stats['time_range'][0]} to {stats['time_range'][1]}",
        f"- ratings {ratings} (mean {stats['mean_rating']:.2f})",
        f"- reviews per user: median {stats['reviews_per_user_median']:g}, max "
        f"{stats['reviews_per_user_max']:,}; per item: median {stats['reviews_per_item_median']:g}, "
        f"max {stats['reviews_per_item_max']:,}",
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
        _markdown_table(stats["split"], ["reviews", "users", "items"]),
        "", "![data overview](figures/data_overview.png)",
    ])


STAGES: list[tuple[str, Callable[[dict], str]]] = [("data", data_stage)]


def run_pipeline(source: str | None = None, profile: str | None = None,
                 reports: str | Path | None = None, stages: list[str] | None = None,
                 progress: bool = True) -> Path:
    """Run the stages (all by default) and write ``report.md``; returns the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    from tqdm.auto import tqdm

    profile_obj = config.get_profile(profile)
    reports = Path(reports) if reports else config.reports_dir()
    (reports / "figures").mkdir(parents=True, exist_ok=True)
    known = [name for name, _ in STAGES]
    chosen = stages or known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; the stages are {known}")
    config.set_seeds(config.SEED)
    context = {"source": source or config.data_source(), "profile": profile_obj.name,
               "reports": reports, "figures": reports / "figures"}
    sections, timings = [], {}
    bar = tqdm([s for s in STAGES if s[0] in chosen], desc="textrec pipeline", unit="stage",
               disable=not progress)
    for name, stage in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        sections.append(stage(context))
        timings[name] = time.perf_counter() - start
    header = [
        "# textrec report",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, profile `{profile_obj.name}`, "
        f"data `{context['source']}`, seed {config.SEED}.",
        "",
        "Stage times: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in _environment.versions().items()),
        "",
    ]
    path = reports / "report.md"
    path.write_text("\n".join(header + sections) + "\n")
    return path
