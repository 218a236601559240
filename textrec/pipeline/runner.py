"""Running the stages and writing ``report.md``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from textrec import _environment, config
from textrec.pipeline import stages as stage_registry
from textrec.pipeline.report import metrics_table
from textrec.pipeline.state import PipelineState


def run_pipeline(source: str | None = None, profile: str | None = None,
                 reports: str | Path | None = None, stages: list[str] | None = None,
                 progress: bool = True) -> Path:
    """Run the stages (all by default, else ``stages`` and their prerequisites, in order) and
    write ``report.md`` in ``reports``; returns the report's path.

    ``config.set_seeds(config.SEED)`` is called before each stage.
    """
    import matplotlib

    matplotlib.use("Agg")
    from textrec._logging import only_outer_progress, progress_bar

    profile_settings = config.get_profile(profile)
    to_run, added = stage_registry.plan(stages)
    reports = Path(reports) if reports else config.reports_dir()
    (reports / "figures").mkdir(parents=True, exist_ok=True)
    state = PipelineState(source=source or config.data_source(), profile=profile_settings.name,
                          seed=config.SEED, reports=reports, progress=progress)
    sections, timings = [], {}
    bar = progress_bar(to_run, desc="textrec pipeline", unit="stage", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        # Every stage starts from freshly seeded generators (TensorFlow's too, once a stage
        # has loaded it), so its numbers do not depend on which stages ran before it.
        config.set_seeds(state.seed)
        start = time.perf_counter()
        with only_outer_progress():  # the stage bar is the run's one progress display
            sections.append(stage_registry.get_stage(name).run(state))
        timings[name] = time.perf_counter() - start
    path = reports / "report.md"
    header = _header(state, timings, added)
    path.write_text("\n".join(header) + "\n" + "\n\n".join(sections) + "\n")
    return path


def _header(state: PipelineState, timings: dict, added: list[str]) -> list[str]:
    total = sum(timings.values())
    prerequisites = (f" ({', '.join(added)} added as prerequisites of the chosen stages)"
                     if added else "")
    return [
        "# textrec report",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, profile "
        f"`{state.profile}`, data `{state.source}`, seed {state.seed}.",
        "",
        f"Stages: {', '.join(timings)}{prerequisites}.",
        "",
        "## Summary",
        metrics_table(state.metrics),
        "",
        *_metrics_note(state.metrics),
        "Stage times: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + f"; total {total:.1f} s",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in _environment.versions().items()),
        "",
    ]


def _metrics_note(metrics: dict) -> list[str]:
    """Report lines saying whose the unqualified metrics are, once the joint model has some."""
    if "validation ndcg@10" not in metrics:
        return []
    return ["Metrics without a model name are the joint model's; each stage's section below "
            "says how they were measured.", ""]
