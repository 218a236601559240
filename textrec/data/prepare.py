"""From a data source to clean, split data: the data stage every lesson starts from.

A *source* is one of:

* ``"synthetic"``: the embedded synthetic review world, sized by the profile;
* a registry name such as ``"amazon-2014-Musical_Instruments"`` or ``"movielens-100k"``
  (downloaded once when online, see :mod:`textrec.data.registry`);
* a path to an Amazon review file (``.json`` / ``.json.gz``) or a MovieLens zip.

``config.data_source()`` (env ``TEXTREC_DATA``) gives the default source.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from textrec import config
from textrec.data import schema, splits
from textrec.data.cleaning import CleaningReport, clean_reviews
from textrec.data.errors import LoadReport


@dataclasses.dataclass
class PreparedData:
    """Clean reviews, item metadata (when the source has any), the split and the reports."""

    name: str
    reviews: pd.DataFrame
    items: pd.DataFrame
    split: splits.Split
    load_report: LoadReport | None
    cleaning_report: CleaningReport

    def stats(self) -> dict:
        """The figures of the data report."""
        reviews = self.reviews
        words = reviews[schema.TEXT].str.split().str.len().fillna(0)
        per_user = reviews[schema.USER].value_counts()
        per_item = reviews[schema.ITEM].value_counts()
        ordered = reviews.sort_values([schema.USER, schema.TIMESTAMP, schema.ORDER])
        last_two = (ordered.groupby(schema.USER).tail(2)
                    .groupby(schema.USER)[schema.TIMESTAMP].nunique())
        n_users, n_items = len(per_user), len(per_item)
        ratings = reviews[schema.RATING].value_counts().sort_index()
        return {
            "source": self.name,
            "reviews": int(len(reviews)),
            "users": int(n_users),
            "items": int(n_items),
            "density": float(len(reviews) / max(n_users * n_items, 1)),
            "ratings": {f"{k:g}": int(v) for k, v in ratings.items()},
            "mean_rating": float(reviews[schema.RATING].mean()),
            "reviews_per_user_median": float(per_user.median()),
            "reviews_per_user_max": int(per_user.max()),
            "reviews_per_item_median": float(per_item.median()),
            "reviews_per_item_max": int(per_item.max()),
            "review_words_median": float(words.median()),
            "review_words_p95": float(np.percentile(words, 95)),
            "review_words_max": int(words.max()),
            "empty_texts": int((reviews[schema.TEXT] == "").sum()),
            "users_last_two_same_day": float((last_two == 1).mean()),
            "time_range": [str(pd.to_datetime(reviews[schema.TIMESTAMP].min(), unit="s").date()),
                           str(pd.to_datetime(reviews[schema.TIMESTAMP].max(), unit="s").date())],
            "split": {name: {k: int(v) for k, v in row.items()}
                      for name, row in self.split.summary().iterrows()},
            "split_protocol": self.split.protocol,
            "split_notes": self.split.notes,
            "load": self.load_report.to_dict() if self.load_report else None,
            "cleaning": self.cleaning_report.to_dict(),
        }

    def save(self, folder: str | Path | None = None) -> Path:
        """Write the clean reviews, items, split and report figures under ``folder``."""
        folder = Path(folder) if folder else config.data_dir() / "prepared" / _safe(self.name)
        self.split.save(folder / "split")
        self.reviews.to_parquet(folder / "reviews.parquet", index=False)
        self.items.to_parquet(folder / "items.parquet", index=False)
        self.cleaning_report.removed.to_csv(folder / "removed_rows.csv", index=False)
        (folder / "stats.json").write_text(json.dumps(self.stats(), indent=2))
        return folder


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)


def _items_from_reviews(reviews: pd.DataFrame) -> pd.DataFrame:
    """An items frame for sources without metadata: ids only, empty title, category and
    description."""
    ids = sorted(reviews[schema.ITEM].astype(str).unique())
    return pd.DataFrame({schema.ITEM: ids, schema.TITLE: "", schema.CATEGORY: "",
                         schema.DESCRIPTION: ""})


def load_source(source: str | None = None, profile: str | None = None, strict: bool = False,
                seed: int = config.SEED):
    """Load raw (reviews, items, load report, name) from a source (see the module docstring)."""
    from textrec.data import registry

    source = source or config.data_source()
    if source == "synthetic":
        from textrec.data.synthetic import generate_world

        world = generate_world(profile=profile, seed=seed)
        name = f"synthetic-{config.get_profile(profile).name}-seed{seed}"
        return world.reviews, world.items, None, name
    path = Path(source).expanduser()
    if not path.exists() and source in registry.REGISTRY:
        path = registry.fetch(source)
    if not path.exists():
        raise FileNotFoundError(
            f"data source {source!r} is neither 'synthetic', a registry name (e.g. "
            f"'amazon-2014-Musical_Instruments'), nor an existing file.")
    from textrec.data import movielens

    if movielens.is_movielens(path):   # the zip, the extracted folder, u.data or ratings.csv
        reviews, items = movielens.load_movielens(path)
        name = path.stem if path.suffix == ".zip" or path.is_dir() else path.parent.name
        # MovieLens files are read whole (a malformed line raises): every rating line is loaded.
        report = LoadReport(source=str(path), lines=len(reviews), loaded=len(reviews))
        return reviews, items, report, name
    from textrec.data.amazon import load_amazon_reviews

    reviews, report = load_amazon_reviews(path, strict=strict)
    if reviews.empty:
        raise ValueError(f"{path}: no valid review was read. textrec reads Amazon review files "
                         "(.json or .json.gz, one JSON object per line) and "
                         f"{movielens.EXPECTED}.\n{report.summary()}")
    return reviews, _items_from_reviews(reviews), report, path.name.split(".")[0]


def prepare_data(source: str | None = None, profile: str | None = None, k: int | None = None,
                 protocol: str = "leave-last-out", strict: bool = False,
                 seed: int = config.SEED) -> PreparedData:
    """Load, clean (k-core with the profile's ``k_core`` unless ``k`` is given), split and
    check the split for leakage."""
    reviews, items, load_report, name = load_source(source, profile=profile, strict=strict,
                                                    seed=seed)
    k = config.get_profile(profile).k_core if k is None else k
    clean, cleaning_report = clean_reviews(reviews, k=k)
    if protocol == "leave-last-out":
        split = splits.leave_last_out(clean)
    elif protocol == "ratio":
        split = splits.ratio_split(clean)
    else:
        raise ValueError(f"unknown protocol {protocol!r}; use 'leave-last-out' or 'ratio'")
    splits.assert_no_leakage(split)
    items = items[items[schema.ITEM].isin(clean[schema.ITEM])].reset_index(drop=True)
    return PreparedData(name, clean, items, split, load_report, cleaning_report)
