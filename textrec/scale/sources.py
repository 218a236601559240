"""Review files as a data-parallel job sees them: a folder (or pattern) of shards, each read on
its own with the course's loader.

A *shard* is one file of reviews:

* Amazon review lines, ``.json`` or ``.json.gz`` (read by :func:`textrec.data.amazon.
  iter_reviews`, which skips and counts bad lines);
* ``.parquet``, with the Amazon field names (``reviewerID``, ``asin``, ``overall``,
  ``reviewText``, ``summary``, ``unixReviewTime``) or the course's review columns
  (``user_id``, ``item_id``, ``rating``, ``text``, ``summary``, ``timestamp``: what
  ``PreparedData.save`` writes); every row is checked like a line of a review file
  (:func:`textrec.data.amazon.review_from_record`), its row number standing for the line.

Each review gets ``SOURCE``, its file's name, beside the schema's columns: ``(SOURCE, ORDER)``
names a review uniquely across shards (``ORDER`` is its 0-based line or row in its file).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from textrec.data import schema
from textrec.data.amazon import iter_reviews, review_from_record
from textrec.data.errors import DataError, LoadReport

SOURCE = "source"
JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
PARQUET_SUFFIXES = (".parquet",)
# The course's review columns -> the Amazon field names the loader checks.
_COURSE_TO_AMAZON = {schema.USER: "reviewerID", schema.ITEM: "asin", schema.RATING: "overall",
                     schema.TEXT: "reviewText", schema.SUMMARY: "summary",
                     schema.TIMESTAMP: "unixReviewTime"}


def is_review_file(path: str | Path) -> bool:
    name = Path(path).name.lower()
    return name.endswith(JSON_SUFFIXES + PARQUET_SUFFIXES) and not name.startswith(".")


def review_files(source: str | Path) -> list[Path]:
    """The review shards of ``source``: a file, a folder (its review files, not recursive) or
    a glob pattern (``reviews/part-*.json.gz``), sorted by name; a clear error when none."""
    source = Path(source).expanduser()
    if source.is_file():
        if not is_review_file(source):
            raise DataError(f"{source} is not a review file (expected {', '.join(JSON_SUFFIXES)} "
                            f"or {', '.join(PARQUET_SUFFIXES)})")
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and is_review_file(p))
        where = f"the folder {source}"
    else:
        files = sorted(p for p in source.parent.glob(source.name)
                       if p.is_file() and is_review_file(p))
        where = f"the pattern {source}"
    if not files:
        raise DataError(f"no review files in {where} (expected {', '.join(JSON_SUFFIXES)} or "
                        f"{', '.join(PARQUET_SUFFIXES)})")
    names = [p.name for p in files]
    if len(set(names)) != len(names):
        raise DataError(f"two review files in {where} have the same name; a review is named by "
                        "its file's name and line")
    return files


def iter_file_reviews(path: str | Path, report: LoadReport | None = None) -> Iterator[dict]:
    """Every valid review of one shard, with ``SOURCE`` (the file's name) added; bad lines or
    rows are skipped and counted in ``report``."""
    path = Path(path)
    report = report if report is not None else LoadReport(source=str(path))
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        reviews = _iter_parquet(path, report)
    else:
        reviews = iter_reviews(path, report=report)
    for review in reviews:
        review[SOURCE] = path.name
        yield review


def _iter_parquet(path: Path, report: LoadReport) -> Iterator[dict]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as error:  # noqa: BLE001  (pyarrow raises several kinds)
        raise DataError(f"{path}: not a readable Parquet file ({type(error).__name__}: "
                        f"{error})") from None
    columns = set(table.schema_arrow.names)
    renames = {}
    if not {"reviewerID", "asin", "overall"} <= columns:
        if not {schema.USER, schema.ITEM, schema.RATING} <= columns:
            raise DataError(f"{path}: a Parquet review file needs the Amazon fields (reviewerID, "
                            "asin, overall, ...) or the course's columns (user_id, item_id, "
                            f"rating, ...); it has {sorted(columns)}")
        renames = {name: _COURSE_TO_AMAZON[name] for name in _COURSE_TO_AMAZON if name in columns}
    row = 0
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            report.lines += 1
            if renames:
                record = {renames.get(key, key): value for key, value in record.items()}
            record = {key: _plain(value) for key, value in record.items()}
            review = review_from_record(record, row, report)   # ORDER: row - 1
            if review is not None:
                yield review


def _plain(value):
    """A Parquet cell as the JSON loader would see it: NaN is a missing value."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_review_shards(reviews, folder: str | Path, shards: int = 4,
                        prefix: str = "reviews") -> list[Path]:
    """Write a reviews frame (the schema's columns) as ``shards`` gzipped JSON-lines files in
    the Amazon format (``reviewerID``, ``asin``, ``overall``, ``reviewText``, ``summary``,
    ``unixReviewTime``), rows dealt in turn: sharded input for a job, from any data source."""
    import gzip
    import json

    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shards = max(1, min(int(shards), len(reviews) or 1))
    paths = [folder / f"{prefix}-{index:05d}-of-{shards:05d}.json.gz" for index in range(shards)]
    columns = {amazon: reviews[course].to_numpy() for course, amazon in _COURSE_TO_AMAZON.items()}
    for index, path in enumerate(paths):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            for row in np.arange(index, len(reviews), shards):
                record = {key: values[row] for key, values in columns.items()}
                record = {key: (value.item() if hasattr(value, "item") else value)
                          for key, value in record.items()}
                handle.write(json.dumps(record) + "\n")
    return paths
