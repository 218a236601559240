"""Streaming loader for Amazon review files (McAuley et al.), 2014 and 2018 releases.

Both releases store one JSON object per line, optionally gzipped:

* 2014: ``reviewerID, asin, reviewerName, helpful [a, b], reviewText, overall, summary,
  unixReviewTime, reviewTime``; the full (non 5-core) 2014 files are Python dict literals
  rather than strict JSON, which is read too;
* 2018: the same keys with ``vote`` and ``verified``, ``style`` and ``image`` instead of ``helpful``.

Required per review: ``reviewerID``, ``asin``, ``overall`` (a rating in 1..5) and a time
(``unixReviewTime``, or ``reviewTime`` as "MM DD, YYYY"). A line that is not an object, lacks
a required field or has an impossible rating is skipped and counted in a
:class:`~textrec.data.errors.LoadReport` with its line number; ``strict=True`` raises
:class:`~textrec.data.errors.DataError` on the first instead. A missing review text or summary
is read as an empty string and counted as a note.
"""

from __future__ import annotations

import ast
import datetime as dt
import gzip
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from textrec.data import schema
from textrec.data.errors import DataError, LoadReport

REQUIRED_FIELDS = ("reviewerID", "asin", "overall")


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a ``.json`` or ``.json.gz`` file as UTF-8 text (gzip is detected by content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"review file not found: {path}")
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _parse_object(line: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        # The full 2014 files are Python literals: {'reviewerID': 'A2...', ...}
        record = ast.literal_eval(line)
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return record


def _parse_time(record: dict) -> int:
    if record.get("unixReviewTime") is not None:
        value = int(record["unixReviewTime"])
        if value < 0:
            raise ValueError(f"negative unixReviewTime {value}")
        return value
    if record.get("reviewTime"):
        date = dt.datetime.strptime(str(record["reviewTime"]).replace(",", ""), "%m %d %Y")
        return int(date.replace(tzinfo=dt.timezone.utc).timestamp())
    raise KeyError("unixReviewTime")


def _parse_rating(value) -> float:
    rating = float(value)
    if math.isnan(rating) or not schema.MIN_RATING <= rating <= schema.MAX_RATING:
        raise ValueError(f"rating {value!r} is outside {schema.MIN_RATING:g}..{schema.MAX_RATING:g}")
    return rating


def _text_field(record: dict, key: str, report: LoadReport) -> str:
    value = record.get(key)
    if value is None:
        report.notes[f"missing {key} read as empty"] += 1
        return ""
    return str(value)


def iter_reviews(
    path: str | Path, strict: bool = False, report: LoadReport | None = None,
    max_reviews: int | None = None,
) -> Iterator[dict]:
    """Yield one dict per valid review (keys: the schema's review columns), streaming."""
    report = report if report is not None else LoadReport(source=str(path))
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if max_reviews is not None and report.loaded >= max_reviews:
                break
            report.lines += 1
            line = line.strip()
            if not line:
                report.notes["blank lines"] += 1
                continue
            try:
                record = _parse_object(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
                reason, detail = "malformed line", f"{type(exc).__name__}: {str(exc)[:80]}"
            else:
                missing = [key for key in REQUIRED_FIELDS if record.get(key) in (None, "")]
                if missing:
                    reason, detail = "missing field", f"no {', '.join(missing)}"
                else:
                    try:
                        rating = _parse_rating(record["overall"])
                    except (TypeError, ValueError) as exc:
                        reason, detail = "impossible rating", str(exc)
                    else:
                        try:
                            timestamp = _parse_time(record)
                        except KeyError:
                            reason, detail = "missing field", "no unixReviewTime or reviewTime"
                        except (TypeError, ValueError) as exc:
                            reason, detail = "bad time", str(exc)[:80]
                        else:
                            report.loaded += 1
                            yield {
                                schema.USER: str(record["reviewerID"]),
                                schema.ITEM: str(record["asin"]),
                                schema.RATING: rating,
                                schema.TEXT: _text_field(record, "reviewText", report),
                                schema.SUMMARY: _text_field(record, "summary", report),
                                schema.TIMESTAMP: timestamp,
                                schema.ORDER: line_number - 1,
                            }
                            continue
            if strict:
                raise DataError(f"{path}:{line_number}: {reason}: {detail}")
            report.skip(reason, line_number, detail)


def load_amazon_reviews(
    path: str | Path, strict: bool = False, max_reviews: int | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Load an Amazon review file into a DataFrame with the schema's review columns.

    Returns the frame and the :class:`LoadReport` of what was skipped and why. ``ORDER`` is
    the review's 0-based line index in the file (it breaks ties in time, see ``splits``).
    """
    report = LoadReport(source=str(path))
    rows = list(iter_reviews(path, strict=strict, report=report, max_reviews=max_reviews))
    frame = pd.DataFrame(rows, columns=list(schema.REVIEW_COLUMNS))
    return frame.astype({schema.RATING: "float32", schema.TIMESTAMP: "int64",
                         schema.ORDER: "int64"}), report
