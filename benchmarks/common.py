"""Shared helpers for the benchmark scripts: where the real data is, machine facts, tables."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path

REAL_DATA = Path(os.environ.get(
    "TEXTREC_REAL_DATA",
    Path(__file__).resolve().parents[2] / "shared" / "data"
    / "amazon-2014-musical-instruments-5core"
    / "reviews_Musical_Instruments_5.json.gz",
))


def real_data_path(given: str | None) -> Path:
    path = Path(given) if given else REAL_DATA
    if not path.is_file():
        raise SystemExit(f"real data not found at {path}: "
                         "pass --data PATH or set TEXTREC_REAL_DATA")
    return path


def machine() -> str:
    """One line about the machine: CPU model, cores, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return "unknown"


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


# --- files that several benchmarks write -------------------------------------------------------
# models.md and models.json are shared: each benchmark owns a part. A benchmark that writes
# a section keeps it between its own marker comments; one that owns rows marks them with its
# name under "benchmark". A rewrite of the rest keeps both (kept_sections, rows_of_others).

_SECTION = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)


def write_section(path: Path, begin: str, end: str, body: str) -> None:
    """Put ``body`` between the markers ``begin`` and ``end`` in ``path``, replacing what was
    there (or appending it at the end); the rest of the file is left as it is."""
    text = path.read_text() if path.exists() else "# Models benchmark\n"
    section = f"{begin}\n{body.strip()}\n{end}"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def kept_sections(path: Path) -> str:
    """The marked sections of the file at ``path`` (empty when none), to append after
    rewriting the rest of it."""
    if not path.exists():
        return ""
    sections = [match.group(0) for match in _SECTION.finditer(path.read_text())]
    return "".join(f"\n\n{section}\n" for section in sections)


def rows_of_others(path: Path, benchmark: str | None = None) -> list[dict]:
    """The rows of the JSON list at ``path`` that another benchmark owns (their
    ``"benchmark"`` is set and is not ``benchmark``)."""
    if not path.exists():
        return []
    return [row for row in json.loads(path.read_text())
            if row.get("benchmark") not in (None, benchmark)]


def write_rows(path: Path, rows: list[dict]) -> None:
    """Replace the rows with the same (model, fit) as ``rows`` in the JSON list at ``path``
    (and add the new ones); every other row is left as it is."""
    existing = json.loads(path.read_text()) if path.exists() else []
    mine = {(row["model"], row["fit"]) for row in rows}
    kept = [row for row in existing if (row.get("model"), row.get("fit")) not in mine]
    path.write_text(json.dumps(kept + rows, indent=1, default=json_default) + "\n")


def json_default(value):
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
