"""Evaluation results: every model's per-user metrics, summarised with intervals, sliced,
compared, drawn, and saved.

A :class:`Run` is one model scored on one part ("validation" or "test") after one fit
("train", or "train+validation" for the refit): its per-user metrics (float arrays
[n users], NaN for users without a target), beyond-accuracy figures, hyper-parameters and
timings. :class:`EvaluationResults` holds the runs with what the slices need (each user's
number of train interactions and target popularity percentile), and renders:

* :meth:`EvaluationResults.summary`: a tidy frame, one row per (model, fit, slice, metric), with
  the mean and its bootstrap interval;
* :meth:`EvaluationResults.table`: models side by side, "mean [low, high]" strings, plus the
  beyond-accuracy figures and times (``_repr_html_`` shows it in a notebook,
  :meth:`to_markdown` for a report);
* :meth:`EvaluationResults.activity_curve` and :meth:`compare` (a paired test);
* :meth:`plot_bars` and :meth:`plot_activity_curve` (see :mod:`textrec.evaluation.report_plots`);
* :meth:`save` / :meth:`load`: JSON, per-user values included, so a saved run can be
  re-sliced and re-tested later.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from textrec.evaluation import slices as slices_module
from textrec.evaluation import uncertainty

SLICES = ("all",) + slices_module.ACTIVITY_SLICES + slices_module.POPULARITY_SLICES


@dataclasses.dataclass
class Run:
    """One model, one part, one fit."""

    model: str
    part: str
    fit: str
    per_user: dict
    beyond: dict = dataclasses.field(default_factory=dict)
    params: dict = dataclasses.field(default_factory=dict)
    fit_seconds: float | None = None
    evaluate_seconds: float | None = None

    def mean(self, metric: str) -> float:
        return float(np.nanmean(self.per_user[metric]))


def _encode(array) -> list:
    return [None if np.isnan(v) else round(float(v), 7) for v in np.asarray(array, dtype=float)]


def _decode(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _cell(mean: float, low: float, high: float, digits: int) -> str:
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


@dataclasses.dataclass
class EvaluationResults:
    """Runs of several models on the same users, with the facts the slices need."""

    user_ids: np.ndarray
    train_counts: np.ndarray
    target_percentile: dict
    runs: list = dataclasses.field(default_factory=list)
    protocol: str = ""
    notes: dict = dataclasses.field(default_factory=dict)
    cold_max: int = 3
    warm_max: int = 10
    tail_below: float = 50.0
    head_from: float = 80.0

    # -- access -----------------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        """Add ``run``, replacing an earlier run of the same model, part and fit."""
        self.runs = [r for r in self.runs
                     if (r.model, r.part, r.fit) != (run.model, run.part, run.fit)]
        self.runs.append(run)
        return run

    def models(self) -> list[str]:
        return list(dict.fromkeys(r.model for r in self.runs))

    def get(self, model: str, part: str = "test", fit: str = "train") -> Run:
        for run in self.runs:
            if (run.model, run.part, run.fit) == (model, part, fit):
                return run
        raise KeyError(f"no run of {model!r} on {part} fitted on {fit}; have "
                       f"{[(r.model, r.part, r.fit) for r in self.runs]}")

    def slice_mask(self, name: str, part: str = "test") -> np.ndarray:
        """Boolean [n users]: the users in slice ``name`` (one of ``SLICES``)."""
        if name == "all":
            return np.ones(len(self.user_ids), bool)
        if name in slices_module.ACTIVITY_SLICES:
            return slices_module.activity_slices(self.train_counts, self.cold_max,
                                                 self.warm_max)[name]
        if name in slices_module.POPULARITY_SLICES:
            return slices_module.popularity_slices(self.target_percentile[part], self.tail_below,
                                                   self.head_from)[name]
        raise ValueError(f"unknown slice {name!r}; use one of {SLICES}")

    def values(self, model: str, metric: str, part: str = "test", fit: str = "train",
               slice: str = "all") -> np.ndarray:
        """Per-user values of ``metric`` in ``slice`` (NaN: no target), float [n users]."""
        run = self.get(model, part, fit)
        if metric not in run.per_user:
            raise KeyError(f"{model} has no per-user {metric!r}; it has {sorted(run.per_user)}")
        return np.where(self.slice_mask(slice, part), run.per_user[metric], np.nan)

    # -- summaries --------------------------------------------------------------------------
    def summary(self, metrics=("ndcg@10", "hr@10"), part: str = "test", fits=None,
                slices=("all",), confidence: float = 0.95, n_resamples: int = 1000,
                seed: int = 0) -> pd.DataFrame:
        """Tidy frame: model, fit, slice, metric, mean, low, high, n_users."""
        rows = []
        for run in self.runs:
            if run.part != part or (fits is not None and run.fit not in fits):
                continue
            for name in slices:
                for metric in metrics:
                    values = self.values(run.model, metric, part, run.fit, name)
                    n = int((~np.isnan(values)).sum())
                    mean, low, high = (uncertainty.bootstrap_ci(values, confidence, n_resamples,
                                                                seed)
                                       if n else (np.nan, np.nan, np.nan))
                    rows.append({"model": run.model, "fit": run.fit, "slice": name,
                                 "metric": metric, "mean": mean, "low": low, "high": high,
                                 "n_users": n})
        return pd.DataFrame(rows)

    def table(self, metrics=("ndcg@10", "hr@10"), part: str = "test", fits=None,
              slices=("all",), beyond: bool = True, times: bool = True, digits: int = 4,
              **bootstrap) -> pd.DataFrame:
        """Models side by side: one row per (model, fit), one "mean [low, high]" column per
        (metric, slice), then beyond-accuracy figures and fit / evaluate seconds."""
        tidy = self.summary(metrics, part, fits, slices, **bootstrap)
        if tidy.empty:
            raise ValueError(f"no runs on {part!r}")
        tidy["column"] = [m if s == "all" else f"{m} ({s}, n={n})"
                          for m, s, n in zip(tidy["metric"], tidy["slice"], tidy["n_users"])]
        tidy["cell"] = [_cell(a, b, c, digits)
                        for a, b, c in zip(tidy["mean"], tidy["low"], tidy["high"])]
        order = list(dict.fromkeys(tidy["column"]))
        table = tidy.pivot_table(index=["model", "fit"], columns="column", values="cell",
                                 aggfunc="first", sort=False)[order]
        extra = {}
        for run in self.runs:
            if (run.model, run.fit) not in table.index or run.part != part:
                continue
            row = {k: round(v, 3) for k, v in run.beyond.items()} if beyond else {}
            if times:
                row["fit s"] = None if run.fit_seconds is None else round(run.fit_seconds, 2)
                row["evaluate s"] = (None if run.evaluate_seconds is None
                                     else round(run.evaluate_seconds, 2))
            extra[run.model, run.fit] = row
        extra = pd.DataFrame.from_dict(extra, orient="index")
        if not extra.empty:
            extra.index = pd.MultiIndex.from_tuples(extra.index, names=["model", "fit"])
            table = table.join(extra)
        table.columns.name = None
        return table

    def activity_curve(self, metric: str = "ndcg@10", part: str = "test", fit: str = "train",
                       edges=slices_module.DEFAULT_ACTIVITY_EDGES, confidence: float = 0.95,
                       n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
        """Mean ``metric`` and interval per bin of train interactions, for every model."""
        index, labels = slices_module.activity_bins(self.train_counts, edges)
        rows = []
        for model in self.models():
            values = self.get(model, part, fit).per_user[metric]
            for b, label in enumerate(labels):
                chosen = values[(index == b) & ~np.isnan(values)]
                if chosen.size:
                    mean, low, high = uncertainty.bootstrap_ci(chosen, confidence, n_resamples,
                                                               seed)
                    rows.append({"model": model, "bin": b, "train interactions": label,
                                 "mean": mean, "low": low, "high": high, "n_users": chosen.size})
        return pd.DataFrame(rows)

    def compare(self, model_a: str, model_b: str, metric: str = "ndcg@10", part: str = "test",
                fit: str = "train", slice: str = "all", **options) -> dict:
        """:func:`textrec.evaluation.uncertainty.paired_test` of a against b, user by user."""
        return uncertainty.paired_test(self.values(model_a, metric, part, fit, slice),
                                       self.values(model_b, metric, part, fit, slice), **options)

    # -- rendering --------------------------------------------------------------------------
    def chance_notes(self, metric: str = "ndcg@10", part: str = "test", fit: str = "train",
                     random_model: str = "random ranking (expected)",
                     small_catalogue_at: float = 0.05) -> list[str]:
        """Plain sentences a reader needs beside a table of ``metric``: the models at or below
        a random ranking's expected value, and a warning when that value is so high
        (``>= small_catalogue_at``) that the catalogue is too small to tell models apart."""
        try:
            chance = self.get(random_model, part, fit).mean(metric)
        except KeyError:
            return []
        notes = []
        if chance >= small_catalogue_at:
            notes.append(f"**Small catalogue:** a random ranking already reaches {metric} "
                         f"{chance:.4f} here, so the top of the list is nearly the whole "
                         "catalogue and differences between models are coarse; compare every "
                         "model with that row, not only with each other.")
        below = [run.model for run in self.runs
                 if (run.part, run.fit) == (part, fit) and run.model != random_model
                 and metric in run.per_user and run.mean(metric) <= chance]
        if below:
            notes.append(f"**At or below a random ranking** ({metric} {chance:.4f}): "
                         + ", ".join(below) + ".")
        return notes

    def to_markdown(self, **table_options) -> str:
        """:meth:`table` as a Markdown table (no extra package needed)."""
        table = self.table(**table_options).reset_index()
        for column in table.columns:
            if table[column].dtype.kind == "f":
                digits = 2 if column.endswith(" s") else 3
                table[column] = [f"{v:.{digits}f}" if v == v else "" for v in table[column]]
        table = table.astype(object).where(table.notna(), "")
        lines = ["| " + " | ".join(map(str, table.columns)) + " |",
                 "|" + "---|" * len(table.columns)]
        lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        try:
            return self.table().to_html()
        except (ValueError, KeyError):
            return f"<p>EvaluationResults: {len(self.runs)} runs</p>"

    def plot_bars(self, *args, **kwargs):
        from textrec.evaluation import report_plots

        return report_plots.plot_bars(self, *args, **kwargs)

    def plot_activity_curve(self, *args, **kwargs):
        from textrec.evaluation import report_plots

        return report_plots.plot_activity_curve(self, *args, **kwargs)

    # -- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        fields = ("protocol", "notes", "cold_max", "warm_max", "tail_below", "head_from")
        return {
            **{name: getattr(self, name) for name in fields},
            "user_ids": [str(u) for u in self.user_ids],
            "train_counts": [int(c) for c in self.train_counts],
            "target_percentile": {p: _encode(v) for p, v in self.target_percentile.items()},
            "runs": [{**{k: v for k, v in dataclasses.asdict(run).items() if k != "per_user"},
                      "per_user": {m: _encode(v) for m, v in run.per_user.items()}}
                     for run in self.runs],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "EvaluationResults":
        data = dict(data)
        runs = [Run(**{**run, "per_user": {m: _decode(v) for m, v in run["per_user"].items()}})
                for run in data.pop("runs")]
        return cls(user_ids=np.array(data.pop("user_ids"), dtype=object),
                   train_counts=np.array(data.pop("train_counts"), dtype=np.int64),
                   target_percentile={p: _decode(v)
                                      for p, v in data.pop("target_percentile").items()},
                   runs=runs, **data)

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), default=_json_default))
        return path

    @classmethod
    def load(cls, path) -> "EvaluationResults":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    raise TypeError(f"cannot save {type(value).__name__} as JSON")
