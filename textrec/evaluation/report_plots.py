"""Figures of :class:`textrec.evaluation.results.EvaluationResults`: bars with bootstrap error
bars, and a metric against the users' number of train interactions."""

from __future__ import annotations

import numpy as np


def plot_bars(results, metric: str = "ndcg@10", part: str = "test", fit: str = "train",
              slices=("all", "cold"), ax=None, **bootstrap):
    """Grouped horizontal bars: one group per model (its name on the left, read without
    turning the head, however many models there are), one bar per slice, with the interval as
    error bar."""
    import matplotlib.pyplot as plt

    tidy = results.summary((metric,), part, (fit,), slices, **bootstrap)
    models = list(dict.fromkeys(tidy["model"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, max(3.2, 0.22 * len(models) * len(slices) + 1.2)))
    height = 0.8 / len(slices)
    positions = np.arange(len(models))
    for offset, name in enumerate(slices):
        rows = tidy[tidy["slice"] == name].set_index("model").reindex(models)
        errors = np.vstack([rows["mean"] - rows["low"], rows["high"] - rows["mean"]])
        n = int(rows["n_users"].max()) if rows["n_users"].notna().any() else 0
        ax.barh(positions + (offset - (len(slices) - 1) / 2) * height, rows["mean"], height,
                xerr=errors, capsize=3, label=f"{name} ({n} users)")
    ax.set_yticks(positions, models)
    ax.invert_yaxis()                      # the first model on top, as in the results table
    confidence = int(100 * bootstrap.get("confidence", 0.95))
    ax.set(xlabel=metric, ylabel="model",
           title=f"{metric} on {part} (fit on {fit}), {confidence}% bootstrap intervals")
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_activity_curve(results, metric: str = "ndcg@10", part: str = "test", fit: str = "train",
                        models=None, ax=None, **options):
    """``metric`` per bin of train interactions, one line per model, intervals shaded."""
    import matplotlib.pyplot as plt

    curve = results.activity_curve(metric, part, fit, **options)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4))
    for model in models or list(dict.fromkeys(curve["model"])):
        rows = curve[curve["model"] == model]
        ax.plot(rows["bin"], rows["mean"], marker="o", label=model)
        ax.fill_between(rows["bin"], rows["low"], rows["high"], alpha=0.12)
    labels = curve.drop_duplicates("bin").sort_values("bin")
    counts = labels["n_users"].astype(int)
    ax.set_xticks(labels["bin"],
                  [f"{t}\n({n})" for t, n in zip(labels["train interactions"], counts)])
    ax.set(xlabel="train interactions of the user (number of users)", ylabel=metric,
           title=f"{metric} on {part} by user activity (fit on {fit})")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax
