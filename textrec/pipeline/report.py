"""Small helpers every stage uses: Markdown tables, figures, reading the context."""

from __future__ import annotations

import numbers

from textrec import config

# Which stage puts each shared context key in place; ``need`` names it in its error message.
PRODUCED_BY = {
    "prepared": "data",
    "finetuned_folder": "finetune",
    "sentiment_metrics": "finetune",
    "embedder": "interests",
    "review_vectors": "interests",
    "description_vectors": "interests",
    "user_text": "interests",
    "item_text": "interests",
    "joint_model": "joint",
    "joint_history": "joint",
    "user_ids": "joint",
    "item_ids": "joint",
    "evaluation_results": "evaluation",
    "best_baseline": "evaluation",
    "export": "export",
}


def need(context: dict, key: str, stage: str):
    """``context[key]``, or a ValueError saying which stage to include for ``stage`` to run."""
    if key not in context:
        producer = PRODUCED_BY.get(key, "an earlier stage")
        raise ValueError(
            f"stage {stage!r} needs context[{key!r}], which stage {producer!r} puts there; "
            f"include {producer!r} in the stages (run_pipeline adds prerequisites itself)")
    return context[key]


def profile_of(context: dict) -> config.Profile:
    """The :class:`textrec.config.Profile` the pipeline runs with."""
    return config.get_profile(context["profile"])


def format_value(value, digits: int = 4) -> str:
    """A number for a table: thousands separators for integers, ``digits`` decimals else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    return "n/a" if value != value else f"{value:.{digits}f}"


def markdown_table(rows: dict[str, dict], columns: list[str], first_column: str = "",
                   digits: int = 4) -> str:
    """A Markdown table: one row per key of ``rows``, one column per name in ``columns``."""
    lines = [f"| {first_column} | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name, row in rows.items():
        cells = [format_value(row.get(column, ""), digits) for column in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def metrics_table(metrics: dict) -> str:
    """The headline numbers of ``context["metrics"]`` as a two-column Markdown table."""
    if not metrics:
        return "No headline metrics: the stages that ran report none."
    return markdown_table({name: {"value": value} for name, value in metrics.items()},
                          ["value"], first_column="metric")


def save_figure(figure, context: dict, name: str, description: str) -> str:
    """Save ``figure`` as ``figures/<name>.png``, close it, and return its Markdown image line."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(context["figures"] / f"{name}.png", dpi=110)
    plt.close(figure)
    return f"![{description}](figures/{name}.png)"
