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
    for column, label, color in ((schema.USER, "users", "#4C72B0"),
                                 (schema.ITEM, "items", "#DD8452")):
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
    ("09", "Explain", "reasons in their\nwords; a replay"),
)


def pipeline_diagram(stages=PIPELINE_STAGES):
    """The course pipeline as a row of boxes (lesson number, stage, what it does)."""
    figure, ax = plt.subplots(figsize=(1.65 * len(stages), 2.4))
    width, gap = 1.55, 0.35
    for index, (lesson, name, what) in enumerate(stages):
        x = index * (width + gap)
        ax.add_patch(plt.Rectangle((x, 0), width, 1.4, facecolor="#E8EEF7", edgecolor="#4C72B0"))
        ax.text(x + width / 2, 1.2, f"lesson {lesson}", ha="center", va="center", fontsize=8,
                color="gray")
        ax.text(x + width / 2, 0.95, name, ha="center", va="center", fontweight="bold")
        ax.text(x + width / 2, 0.45, what, ha="center", va="center", fontsize=8.5)
        if index:
            ax.annotate("", xy=(x, 0.7), xytext=(x - gap, 0.7), arrowprops={"arrowstyle": "->"})
    ax.set_xlim(-0.1, len(stages) * (width + gap))
    ax.set_ylim(-0.1, 1.5)
    ax.set_title("The course pipeline: one lesson per stage")
    ax.axis("off")
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ the figure check (issue #17)

_OVERLAP_PIXELS = 1.0  # texts may touch; overlapping by more than a pixel each way is a clash


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images or ax.containers)


def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>" or hasattr(ax, "_colorbar")


def _categorical(axis) -> bool:
    """Whether an axis's tick labels are category names (they then label the axis)."""
    labels = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
    numeric = 0
    for label in labels:
        try:
            float(label.replace("\u2212", "-").replace(",", "").rstrip("%"))
            numeric += 1
        except ValueError:
            pass
    return bool(labels) and numeric < len(labels)


def _axis_shown(ax, which: str) -> bool:
    axis = ax.xaxis if which == "x" else ax.yaxis
    return axis.get_visible() and any(t.get_visible() and t.get_text()
                                      for t in axis.get_ticklabels())


def _style(handle):
    """(colour, line style, marker, hatch) of a legend handle: two entries must differ in one."""
    from matplotlib import colors

    def rgba(value):
        rows = colors.to_rgba_array(value)
        return tuple(np.round(rows[0], 3)) if len(rows) else None

    if hasattr(handle, "get_color") and hasattr(handle, "get_linestyle"):
        colour = handle.get_color()
        marker = handle.get_marker() if hasattr(handle, "get_marker") else None
        return rgba(colour), str(handle.get_linestyle()), str(marker), None
    if hasattr(handle, "patches") and handle.patches:  # a bar container
        handle = handle.patches[0]
    if hasattr(handle, "get_facecolor"):
        hatch = handle.get_hatch() if hasattr(handle, "get_hatch") else None
        return rgba(handle.get_facecolor()), None, None, hatch
    return None


def _tick_labels(axis):
    """The tick labels drawn on ``axis`` (not those of ticks outside the view)."""
    try:
        ticks = axis._update_ticks()
    except AttributeError:  # a matplotlib without the private helper: every major tick
        ticks = axis.get_major_ticks()
    return [label for tick in ticks for label in (tick.label1, tick.label2)]


def _texts(figure):
    """Every visible, non-empty text of the figure (titles, labels, tick labels, annotations,
    legend entries), each with a name for messages."""
    found = []
    if figure._suptitle is not None:
        found.append(("figure title", figure._suptitle))
    found += [(f"figure text {t.get_text()!r}", t) for t in figure.texts
              if t is not figure._suptitle]
    for index, ax in enumerate(figure.axes):
        if not ax.get_visible():
            continue
        where = f"axes {index}"
        for name, text in (("title", ax.title), ("left title", ax._left_title),
                           ("right title", ax._right_title),
                           ("x label", ax.xaxis.label), ("y label", ax.yaxis.label)):
            found.append((f"{where} {name}", text))
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_visible():
                    found += [(f"{where} tick label {t.get_text()!r}", t)
                              for t in _tick_labels(axis)]
        found += [(f"{where} text {t.get_text()!r}", t) for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            found += [(f"{where} legend entry {t.get_text()!r}", t) for t in legend.get_texts()]
    return [(name, text) for name, text in found if text.get_visible() and text.get_text().strip()]


def _overlaps(figure, renderer) -> list[str]:
    boxes = []
    for name, text in _texts(figure):
        try:
            box = text.get_window_extent(renderer)
        except (RuntimeError, ValueError):
            continue
        if box.width > 0 and box.height > 0 and np.isfinite(box.bounds).all():
            boxes.append((name, box))
    clashes = []
    for i, (name_a, a) in enumerate(boxes):
        for name_b, b in boxes[i + 1:]:
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            if width > _OVERLAP_PIXELS and height > _OVERLAP_PIXELS:
                clashes.append(f"{name_a} overlaps {name_b}")
    return clashes


def figure_problems(figure) -> list[str]:
    """What :func:`check_figure` finds wrong with ``figure`` (empty when nothing)."""
    figure.canvas.draw()  # lays out the texts (and applies tight_layout / constrained layout)
    renderer = figure.canvas.get_renderer()
    problems = []
    data_axes = [ax for ax in figure.axes
                 if ax.get_visible() and ax.axison and _has_data(ax) and not _is_colorbar(ax)]
    titled = (figure._suptitle is not None and figure._suptitle.get_text().strip()) or any(
        ax.get_title() or ax._left_title.get_text() for ax in figure.axes if ax.get_visible())
    if (data_axes or figure.axes) and not titled:
        problems.append("no title (set one with ax.set_title or figure.suptitle)")
    for index, ax in enumerate(figure.axes):
        if ax not in data_axes:
            continue
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            label = axis.get_label_text().strip()
            shared = [other for other in data_axes if other is not ax
                      and (ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes())
                      .joined(ax, other) and (other.xaxis if which == "x" else other.yaxis)
                      .get_label_text().strip()]
            if not label and not shared and _axis_shown(ax, which) and not _categorical(axis):
                problems.append(f"axes {index} ({ax.get_title()!r}): no {which}-axis label")
        legend = ax.get_legend()
        if legend is not None:
            styles = {}
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                style = _style(handle)
                if style is not None and style in styles:
                    problems.append(f"axes {index} ({ax.get_title()!r}): legend entries "
                                    f"{styles[style]!r} and {text.get_text()!r} share a colour")
                elif style is not None:
                    styles[style] = text.get_text()
    problems += _overlaps(figure, renderer)
    return problems


def check_figure(figure) -> None:
    """Raise ``ValueError`` naming what is wrong with ``figure``: a missing title, an axis
    without a label (category tick labels count as one), two legend entries drawn alike, or
    texts that overlap. Diagrams (axes turned off) need only a title."""
    problems = figure_problems(figure)
    if problems:
        title = figure._suptitle.get_text() if figure._suptitle is not None else next(
            (ax.get_title() for ax in figure.axes if ax.get_title()), "untitled")
        raise ValueError(f"figure {title!r}: " + "; ".join(problems))


def check_open_figures(checked=None) -> None:
    """:func:`check_figure` on every open matplotlib figure not in ``checked`` (a set of
    ``id(figure)``, updated)."""
    checked = set() if checked is None else checked
    from matplotlib._pylab_helpers import Gcf

    for manager in Gcf.get_all_fig_managers():  # without changing the current figure
        figure = manager.canvas.figure
        if id(figure) in checked:
            continue
        checked.add(id(figure))
        check_figure(figure)


def register_notebook_check(shell=None) -> bool:
    """In IPython, check every figure a cell leaves open after the cell runs (before the
    inline backend shows and closes it); a failing figure becomes an error in that cell, so
    nbval fails. ``import textrec`` calls this when ``TEXTREC_CHECK_FIGURES=1``. Returns
    whether a check was registered."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    callbacks = shell.events.callbacks["post_execute"]
    if any(getattr(f, "__name__", "") == "_textrec_check_figures" for f in callbacks):
        return True
    checked: set = set()

    def _textrec_check_figures():
        check_open_figures(checked)

    callbacks.insert(0, _textrec_check_figures)  # before matplotlib-inline's flush_figures
    return True
