"""Figures drawn in more than one place (notebooks and the pipeline report)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from textrec.data import schema


def rating_distribution(reviews: pd.DataFrame, ax=None):
    """Bar chart of how many reviews give each star rating, with shares on the bars."""
    ax = ax or plt.subplots(figsize=(4.5, 3.2))[1]
    counts = reviews[schema.RATING].value_counts().sort_index()
    bars = ax.bar([f"{r:g}" for r in counts.index], counts.to_numpy(), color="#4C72B0")
    for bar, share in zip(bars, counts.to_numpy() / counts.sum()):
        ax.annotate(f"{share:.0%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set(title="Ratings", xlabel="stars", ylabel="reviews")
    ax.margins(y=0.12)
    return ax


def activity_long_tail(reviews: pd.DataFrame, ax=None):
    """Reviews per user and per item against their rank, on log-log axes (the long tail)."""
    ax = ax or plt.subplots(figsize=(4.5, 3.2))[1]
    for column, label, color in ((schema.USER, "users", "#4C72B0"), (schema.ITEM, "items", "#DD8452")):
        counts = np.sort(reviews[column].value_counts().to_numpy())[::-1]
        ax.loglog(np.arange(1, len(counts) + 1), counts, label=label, color=color)
    ax.set(title="Activity long tail", xlabel="rank", ylabel="reviews")
    ax.legend()
    return ax


def review_lengths(reviews: pd.DataFrame, ax=None, clip_words: int = 600):
    """Histogram of review length in words (longer reviews piled into the last bin)."""
    ax = ax or plt.subplots(figsize=(4.5, 3.2))[1]
    words = reviews[schema.TEXT].str.split().str.len().fillna(0).clip(upper=clip_words)
    ax.hist(words, bins=50, color="#55A868")
    ax.axvline(float(np.median(words)), color="black", linestyle="--", linewidth=1,
               label=f"median {np.median(words):.0f}")
    ax.set(title="Review length", xlabel=f"words (clipped at {clip_words})", ylabel="reviews")
    ax.legend()
    return ax


def data_overview(reviews: pd.DataFrame, title: str | None = None):
    """The three data plots side by side; returns the figure."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    rating_distribution(reviews, axes[0])
    activity_long_tail(reviews, axes[1])
    review_lengths(reviews, axes[2])
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


PIPELINE_STAGES = (
    ("01", "Data", "load, clean,\nsplit leak-free"),
    ("02", "Fine-tune", "BERT learns\nreview sentiment"),
    ("03", "Interests", "u = M(x) from\na user's words"),
    ("04-05", "Recommend", "two towers, CF,\nL = L_U + L_A + L_R"),
    ("06", "Evaluate", "against strong\nbaselines"),
    ("07", "Privacy", "scrub PII,\nDP-SGD"),
    ("08", "Serve", "SavedModel\nover HTTP"),
)


def pipeline_diagram(stages=PIPELINE_STAGES):
    """The course pipeline as a row of boxes (lesson number, stage, what it does)."""
    figure, ax = plt.subplots(figsize=(13, 2.4))
    width, gap = 1.55, 0.35
    for index, (lesson, name, what) in enumerate(stages):
        x = index * (width + gap)
        ax.add_patch(plt.Rectangle((x, 0), width, 1.4, facecolor="#E8EEF7", edgecolor="#4C72B0"))
        ax.text(x + width / 2, 1.2, f"lesson {lesson}", ha="center", va="center", fontsize=8, color="gray")
        ax.text(x + width / 2, 0.95, name, ha="center", va="center", fontweight="bold")
        ax.text(x + width / 2, 0.45, what, ha="center", va="center", fontsize=8.5)
        if index:
            ax.annotate("", xy=(x, 0.7), xytext=(x - gap, 0.7), arrowprops={"arrowstyle": "->"})
    ax.set_xlim(-0.1, len(stages) * (width + gap))
    ax.set_ylim(-0.1, 1.5)
    ax.axis("off")
    figure.tight_layout()
    return figure
