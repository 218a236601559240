"""Small helpers every stage uses: Markdown tables and figures."""

from __future__ import annotations

import numbers


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
    """The headline numbers of ``state.metrics`` as a two-column Markdown table."""
    if not metrics:
        return "No headline metrics: the stages that ran report none."
    return markdown_table({name: {"value": value} for name, value in metrics.items()},
                          ["value"], first_column="metric")


def save_figure(figure, state, name: str, description: str) -> str:
    """Save ``figure`` as ``figures/<name>.png``, close it, and return its Markdown image line."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(state.figures / f"{name}.png", dpi=110)
    plt.close(figure)
    return f"![{description}](figures/{name}.png)"
