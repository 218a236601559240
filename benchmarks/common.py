"""Shared helpers for the benchmark scripts: where the real data is, machine facts, tables."""

from __future__ import annotations

import os
import platform
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
