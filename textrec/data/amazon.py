"""Streaming loader for Amazon review files (McAuley et al.), 2014 and 2018 releases.

Both releases store one JSON object per line, optionally gzipped:

* 2014: ``reviewerID, asin, reviewerName, helpful [a, b], reviewText, overall, summary,
  unixReviewTime, reviewTime``; the full (non 5-core) 2014 files are Python dict literals
  rather than strict JSON, which is read too;
* 2018: the same keys with ``vote`` and ``verified``, ``style`` and ``image`` instead of
  ``helpful``.

Required per review: ``reviewerID``, ``asin`` (strings, or whole numbers read as text),
``overall`` (a number in 1..5, not a boolean) and a time (``unixReviewTime``, whole seconds
from 1970 to 2262, the range pandas dates hold, or ``reviewTime`` as "MM DD, YYYY"). A line
that is not an object, lacks a required field, has a field of the wrong type or an impossible
rating or time is skipped and counted in a :class:`~textrec.data.errors.LoadReport` with its
line number; ``strict=True`` raises :class:`~textrec.data.errors.DataError` on the first
instead. Nothing is changed silently: every repair is a counted note with its line numbers
(a missing review text or summary read as empty, bytes that are not UTF-8 replaced by U+FFFD,
raw control characters such as a carriage return kept inside a string, a number given as
text or text as a number, a fractional time rounded down).

Lines end at ``\\n`` only (a stray carriage return does not split a line, so line numbers are
an editor's). A ``.json.gz`` that is cut short or corrupt keeps the reviews read before the
damage: the report's ``incomplete`` says after which line reading stopped; ``strict=True``
raises a :class:`DataError` naming the file and the last complete line.
"""

from __future__ import annotations

import ast
import datetime as dt
import gzip
import io
import json
import math
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from textrec.data import schema
from textrec.data.errors import DataError, LoadReport

REQUIRED_FIELDS = ("reviewerID", "asin", "overall")
# The last second a pandas timestamp (nanoseconds in an int64) holds: 2262-04-11.
MAX_UNIX_TIME = int(pd.Timestamp.max.timestamp())
_GZIP_MAGIC = b"\x1f\x8b"


class _Skip(Exception):
    """A line that cannot be read as a review: ``reason`` (counted) and ``detail``."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the review file inside it (an Amazon "
                        "reviews .json or .json.gz; MovieLens: the ml-100k or ml-latest-small "
                        "zip, folder, u.data or ratings.csv)")
    if not path.is_file():
        raise FileNotFoundError(f"review file not found: {path}")


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a ``.json`` or ``.json.gz`` file as UTF-8 text (gzip is detected by content).
    :func:`iter_reviews` reads bytes instead, to note every repair."""
    path = Path(path)
    _check_file(path)
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


class _Incomplete(Exception):
    """The file could not be read past ``last_line``; ``detail`` says why."""

    def __init__(self, last_line: int, detail: str):
        super().__init__(detail)
        self.last_line, self.detail = last_line, detail


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of each line, split at ``\\n`` only; a truncated or corrupt
    gzip stream raises :class:`_Incomplete` after the last complete line."""
    _check_file(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        line_number = 0
        try:
            for line in stream:
                line_number += 1
                yield line_number, line
        except (EOFError, OSError, zlib.error) as exc:
            size = path.stat().st_size
            where = f"{raw.tell():,} of {size:,} compressed bytes read" if gzipped else ""
            raise _Incomplete(line_number, f"{type(exc).__name__}: {exc}"
                                           + (f" ({where})" if where else "")) from exc


def _decode(raw: bytes, line_number: int, report: LoadReport) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.note("bytes that are not UTF-8 replaced by U+FFFD", line_number,
                    f"byte 0x{exc.object[exc.start]:02x} at byte {exc.start + 1}")
        return raw.decode("utf-8", errors="replace")


def _parse_object(line: str, line_number: int | None = None,
                  report: LoadReport | None = None) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        try:
            # A raw control character (tab, carriage return) inside a string: JSON forbids it,
            # the text is plain; kept, and noted.
            record = json.loads(line, strict=False)
        except json.JSONDecodeError:
            # The full 2014 files are Python literals: {'reviewerID': 'A2...', ...}
            record = ast.literal_eval(line)
        else:
            if report is not None:
                report.note("raw control characters (e.g. a carriage return) kept inside a "
                            "string", line_number)
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return record


def _id_field(record: dict, key: str, line_number: int, report: LoadReport) -> str:
    value = record[key]
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        report.note(f"{key} given as a number, read as text", line_number)
        return str(value)
    raise _Skip("bad field", f"{key} is {type(value).__name__} {json.dumps(value)[:40]}, not "
                             "a string")


def _parse_time(record: dict, line_number: int | None = None,
                report: LoadReport | None = None) -> int:
    value = record.get("unixReviewTime")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"unixReviewTime {json.dumps(value)[:40]} is not a number")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"unixReviewTime {value} is not a finite number")
            if not value.is_integer() and report is not None:
                report.note("fractional unixReviewTime rounded down", line_number, f"{value}")
        elif isinstance(value, str) and report is not None:
            report.note("unixReviewTime given as text, read as a number", line_number)
        seconds = math.floor(value) if isinstance(value, float) else int(value)
        if not 0 <= seconds <= MAX_UNIX_TIME:
            raise ValueError(f"unixReviewTime {value!r:.40} is outside 0..{MAX_UNIX_TIME} (1970 "
                             "to 2262)")
        return seconds
    if record.get("reviewTime"):
        date = dt.datetime.strptime(str(record["reviewTime"]).replace(",", ""), "%m %d %Y")
        seconds = int(date.replace(tzinfo=dt.timezone.utc).timestamp())
        if not 0 <= seconds <= MAX_UNIX_TIME:
            raise ValueError(f"reviewTime {record['reviewTime']!r} is before 1970 or after 2262")
        return seconds
    raise KeyError("unixReviewTime")


def _parse_rating(value, line_number: int | None = None,
                  report: LoadReport | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"rating {json.dumps(value)[:40]} is not a number")
    rating = float(value)
    if math.isnan(rating) or not schema.MIN_RATING <= rating <= schema.MAX_RATING:
        raise ValueError(f"rating {value!r} is outside "
                         f"{schema.MIN_RATING:g}..{schema.MAX_RATING:g}")
    if isinstance(value, str) and report is not None:
        report.note("rating given as text, read as a number", line_number)
    return rating


def _text_field(record: dict, key: str, report: LoadReport, line_number: int | None = None) -> str:
    value = record.get(key)
    if value is None:
        report.note(f"missing {key} read as empty", line_number)
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        report.note(f"{key} given as a number, read as text", line_number)
        return str(value)
    raise _Skip("bad field", f"{key} is {type(value).__name__} {json.dumps(value)[:40]}, not "
                             "text")


def _review(line: str, line_number: int, report: LoadReport) -> dict:
    """One line -> one review (raises :class:`_Skip`)."""
    try:
        record = _parse_object(line, line_number, report)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise _Skip("malformed line", f"{type(exc).__name__}: {str(exc)[:80]}") from None
    return _review_from_object(record, line_number, report)


def review_from_record(record: dict, line_number: int, report: LoadReport) -> dict | None:
    """One review from an already parsed record with the Amazon field names (a row of a
    Parquet file, say), checked like a line of a review file: the review's dict, or None when
    it is skipped (counted in ``report`` under ``line_number``, its row)."""
    try:
        review = _review_from_object(record, line_number, report)
    except _Skip as skip:
        report.skip(skip.reason, line_number, skip.detail)
        return None
    report.loaded += 1
    return review


def _review_from_object(record: dict, line_number: int, report: LoadReport) -> dict:
    missing = [key for key in REQUIRED_FIELDS if record.get(key) is None
               or (isinstance(record.get(key), str) and record.get(key) == "")]
    if missing:
        raise _Skip("missing field", f"no {', '.join(missing)}")
    try:
        rating = _parse_rating(record["overall"], line_number, report)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Skip("impossible rating", str(exc)) from None
    try:
        timestamp = _parse_time(record, line_number, report)
    except KeyError:
        raise _Skip("missing field", "no unixReviewTime or reviewTime") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Skip("bad time", str(exc)[:80]) from None
    return {
        schema.USER: _id_field(record, "reviewerID", line_number, report),
        schema.ITEM: _id_field(record, "asin", line_number, report),
        schema.RATING: rating,
        schema.TEXT: _text_field(record, "reviewText", report, line_number),
        schema.SUMMARY: _text_field(record, "summary", report, line_number),
        schema.TIMESTAMP: timestamp,
        schema.ORDER: line_number - 1,
    }


def iter_reviews(
    path: str | Path, strict: bool = False, report: LoadReport | None = None,
    max_reviews: int | None = None,
) -> Iterator[dict]:
    """Yield one dict per valid review (keys: the schema's review columns), streaming."""
    report = report if report is not None else LoadReport(source=str(path))
    path = Path(path)
    lines = _raw_lines(path)
    try:
        for line_number, raw in lines:
            if max_reviews is not None and report.loaded >= max_reviews:
                break
            report.lines += 1
            line = _decode(raw, line_number, report).strip()
            if not line:
                report.notes["blank lines"] += 1
                continue
            try:
                review = _review(line, line_number, report)
            except _Skip as skip:
                if strict:
                    raise DataError(f"{path}:{line_number}: {skip.reason}: {skip.detail}") from None
                report.skip(skip.reason, line_number, skip.detail)
                continue
            report.loaded += 1
            yield review
    except _Incomplete as cut:
        message = (f"{path}: cannot read past line {cut.last_line:,} (the last complete line): "
                   f"the file is truncated or corrupt ({cut.detail})")
        if strict:
            raise DataError(message) from None
        report.incomplete = (f"reading stopped after line {cut.last_line:,}: truncated or "
                             f"corrupt ({cut.detail}); the reviews before it are kept")
        report.skip("unreadable rest of the file", cut.last_line + 1, cut.detail)
    finally:
        lines.close()


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
