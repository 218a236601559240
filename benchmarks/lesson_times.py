"""How long each lesson takes a learner: the quick profile on this CPU, from a cold and a warm
cache, on the synthetic default and on the real reviews.

Each notebook runs in its own process (this script's ``--execute-one``: nbclient, one kernel,
the inline figures a learner sees in JupyterLab), in a fresh ``TEXTREC_HOME`` of its own:
**cold** is that first run, with nothing cached (no review embeddings, no fine-tuned model, no
prepared data: a learner who opens this lesson first, e.g. on Colab); **warm** runs it again in
the same home, as a learner who reruns it does. Lessons 03 and 05 pick up lesson 02's fine-tuned
encoder only when it was tuned on the same reviews; in a fresh home there is none, and they say
which encoder they read. ``--chain`` runs the chosen lessons in course order in one home per
data set instead (a learner who follows the course; a later lesson then finds what an earlier
one cached).

Real data: lessons with a ``DATA`` parameter read ``TEXTREC_DATA`` set to ``--real PATH``
(default ``TEXTREC_REAL_DATA``, else ``TEXTREC_DATA`` when it names a file, else the shared
Amazon Musical Instruments file of ``benchmarks/common.py``); lesson 00 and the solutions read
their own data and run on the synthetic side only.

Each run records the wall time of the process (kernel start included), each code cell's time
(nbclient's execution timestamps), the slowest cells, the load average before and after, and
pass or fail. Results are merged into ``benchmarks/results/lesson_times.json`` by (notebook,
data, cache), so a subset can be rerun without losing the others, and the table
``lesson_times.md`` is rewritten from the whole JSON.

    python benchmarks/lesson_times.py                          # every lesson, both data, cold+warm
    python benchmarks/lesson_times.py --only 03,09 --data synthetic
    python benchmarks/lesson_times.py --only 06 --cache cold --keep /tmp/executed
    python benchmarks/lesson_times.py --solutions --only 05   # solutions/05 (and notebooks/05)
    python benchmarks/lesson_times.py --home ~/textrec --cache warm   # warm runs in a used home
    python benchmarks/lesson_times.py --dry-run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import git_revision, machine, markdown_table, real_data_path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SCHEMA = "textrec-lesson-times/1"
SLOWEST = 3


def plan(only: list[str] | None, solutions: bool) -> list[Path]:
    """The notebooks to time, in course order: lessons, then (``solutions``) the solutions;
    ``only`` keeps those whose path contains one of its parts ("03", "solutions/05")."""
    paths = sorted((REPO / "notebooks").glob("*.ipynb"))
    if solutions:
        paths += sorted((REPO / "solutions").glob("*.ipynb"))
    chosen = [p for p in paths
              if not only or any(part in str(p.relative_to(REPO)) for part in only)]
    if not chosen:
        raise SystemExit(f"--only {','.join(only or [])} matches no notebook")
    return chosen


def reads_data(path: Path) -> bool:
    """Whether the notebook has a ``DATA`` parameter (so ``TEXTREC_DATA`` reaches it)."""
    for cell in json.loads(path.read_text())["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return re.search(r"^DATA\s*=", "".join(cell["source"]), re.MULTILINE) is not None
    return False


def environment(home: Path, data: str | None) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("TEXTREC_DATA", "TEXTREC_CACHE", "TEXTREC_REPORTS", "MPLBACKEND",
                          "TEXTREC_CHECK_FIGURES", "TEXTREC_PROFILE")}
    env.update(TEXTREC_PROFILE="quick", TEXTREC_HOME=str(home), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    if data:
        env["TEXTREC_DATA"] = data
    return env


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def cell_times(executed: dict) -> list[dict]:
    """Each code cell's seconds from nbclient.s execution timestamps, with its first line."""
    rows = []
    for index, cell in enumerate(executed["cells"]):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell["cell_type"] != "code" or not (start and end):
            continue
        seconds = (dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
                   - dt.datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
        source = "".join(cell["source"]).strip().splitlines() or [""]
        rows.append({"cell": index, "seconds": round(seconds, 2), "first_line": source[0][:80]})
    return rows


def run_one(path: Path, home: Path, data: str | None, timeout: int, keep: Path | None,
            label: str) -> dict:
    """Execute one notebook in its own process; its row of the results."""
    out_dir = Path(tempfile.mkdtemp(prefix="lesson-times-"))
    command = [sys.executable, str(Path(__file__).resolve()), "--execute-one", str(path),
               str(out_dir / path.name), "--timeout", str(timeout)]
    load_before = _load()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=path.parent, env=environment(home, data),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    executed_path = out_dir / path.name
    cells = []
    if executed_path.is_file():
        cells = cell_times(json.loads(executed_path.read_text()))
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(executed_path, keep / f"{path.parent.name}-{path.stem}-{label}.ipynb")
    shutil.rmtree(out_dir, ignore_errors=True)
    slowest = sorted(cells, key=lambda row: -row["seconds"])[:SLOWEST]
    return {"status": "passed" if done.returncode == 0 else "failed",
            "seconds": round(seconds, 1),
            "cells_seconds": round(sum(row["seconds"] for row in cells), 1),
            "slowest_cells": slowest, "cells": cells,
            "load_before": load_before, "load_after": _load(),
            "error_tail": "" if done.returncode == 0 else done.stderr[-2000:]}


def execute_one(source: Path, target: Path, timeout: int) -> int:
    """Run one notebook in a kernel (its folder as the working directory, inline figures) and
    write it with its outputs and timings to ``target``, also when a cell fails: 0 or 1."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    status = 0
    try:
        client.execute()
    except CellExecutionError as error:
        print(str(error)[-3000:], file=sys.stderr)
        status = 1
    finally:
        nbformat.write(notebook, target)
    return status


def key(row: dict) -> tuple:
    return row["notebook"], row["data"], row["cache"]


def merge(previous: list[dict], new: list[dict]) -> list[dict]:
    """The previous rows, replaced by new ones with the same (notebook, data, cache)."""
    fresh = {key(row) for row in new}
    rows = [row for row in previous if key(row) not in fresh] + new
    order = {"synthetic": 0, "real": 1, "cold": 0, "warm": 1}
    return sorted(rows, key=lambda r: (r["notebook"].startswith("solutions"), r["notebook"],
                                       order.get(r["data"], 2), order.get(r["cache"], 2)))


def markdown(results: dict) -> str:
    rows = []
    for row in results["rows"]:
        slow = "; ".join(f"cell {c['cell']} {c['seconds']:.0f} s (`{c['first_line'][:40]}`)"
                         for c in row["slowest_cells"])
        rows.append({"notebook": row["notebook"], "data": row["data"], "cache": row["cache"],
                     "status": row["status"], "wall s": f"{row['seconds']:.0f}",
                     "cells s": f"{row['cells_seconds']:.0f}",
                     "load (1 min) before/after": "{:.1f} / {:.1f}".format(
                         row["load_before"][0], row["load_after"][0]),
                     "measured": row["measured"], "slowest cells": slow})
    columns = ["notebook", "data", "cache", "status", "wall s", "cells s",
               "load (1 min) before/after", "measured", "slowest cells"]
    return "\n".join([
        "# Lesson times (quick profile)",
        "",
        "Written by `benchmarks/lesson_times.py` (read its docstring for the protocol). Each",
        "notebook runs in its own process (one Jupyter kernel, inline figures) in a",
        "fresh `TEXTREC_HOME`: **cold** is that first run with nothing cached, **warm** the same",
        "notebook again in the same home. `wall s` is the whole process (kernel start included),",
        "`cells s` the sum of its code cells. **real** is the Amazon 2014 Musical Instruments",
        "5-core file through `TEXTREC_DATA`. The machine may be shared: the load average (1",
        "minute, before and after each run) says how busy it was; compare times measured under",
        "similar loads only.",
        "",
        f"Host: {results['host']}. Rows are merged across runs; `measured` is each row's date",
        "and git revision.",
        "",
        markdown_table(rows, columns),
        "",
    ])


def _real_default() -> str | None:
    given = os.environ.get("TEXTREC_REAL_DATA") or os.environ.get("TEXTREC_DATA")
    return given if given and Path(given).is_file() else None


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--execute-one":
        timeout = int(sys.argv[5]) if len(sys.argv) > 5 else 1800
        return execute_one(Path(sys.argv[2]), Path(sys.argv[3]), timeout)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated parts of notebook paths")
    parser.add_argument("--solutions", action="store_true", help="time the solutions too")
    parser.add_argument("--data", choices=["synthetic", "real", "both"], default="both")
    parser.add_argument("--real", default=_real_default(),
                        help="the real review file (default: TEXTREC_REAL_DATA, else "
                             "TEXTREC_DATA when it names a file, else benchmarks/common.py's)")
    parser.add_argument("--cache", choices=["cold", "warm", "both"], default="both")
    parser.add_argument("--chain", action="store_true",
                        help="one home per data set, lessons in course order")
    parser.add_argument("--home", type=Path,
                        help="run in this TEXTREC_HOME (kept) instead of fresh ones; with "
                             "--cache warm, a home where the lessons already ran: one run each")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--keep", type=Path, help="keep the executed notebooks in this folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    notebooks = plan([p for p in args.only.split(",") if p], args.solutions)
    data_sets = ["synthetic", "real"] if args.data == "both" else [args.data]
    real = str(real_data_path(args.real)) if "real" in data_sets else None
    caches = ["cold", "warm"] if args.cache == "both" else [args.cache]
    if args.cache == "warm" and not args.home:
        caches = ["cold", "warm"]  # warm needs its cold run first; only warm is recorded
    jobs = [(path, data) for data in data_sets for path in notebooks
            if data == "synthetic" or reads_data(path)]
    if args.dry_run:
        for path, data in jobs:
            print(f"{path.relative_to(REPO)}  {data}  {'+'.join(caches)}")
        return 0

    measured = f"{dt.date.today().isoformat()} {git_revision()}"
    rows, homes = [], {}
    with tempfile.TemporaryDirectory(prefix="lesson-times-home-") as root:
        for path, data in jobs:
            relative = str(path.relative_to(REPO))
            home_key = data if args.chain else (relative, data)
            if args.home:
                homes[home_key] = args.home
                args.home.mkdir(parents=True, exist_ok=True)
            elif home_key not in homes:
                homes[home_key] = Path(root) / f"home-{len(homes)}"
                homes[home_key].mkdir()
            for cache in caches:
                label = f"{data}-{cache}"
                row = run_one(path, homes[home_key], real if data == "real" else None,
                              args.timeout, args.keep, label)
                row = {"notebook": relative, "data": data, "cache": cache,
                       "measured": measured, **row}
                print(f"{relative:55s} {data:9s} {cache:4s} {row['status']:6s} "
                      f"{row['seconds']:7.1f} s  load {row['load_before'][0]:.1f}", flush=True)
                if args.cache != "warm" or cache == "warm":
                    rows.append(row)
            if args.chain or args.home:
                continue
            shutil.rmtree(homes[home_key], ignore_errors=True)

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "lesson_times.json"
    previous = json.loads(json_path.read_text())["rows"] if json_path.is_file() else []
    results = {"schema": SCHEMA, "host": machine(), "profile": "quick",
               "real_data": real or "", "rows": merge(previous, rows)}
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "lesson_times.md").write_text(markdown(results))
    print(f"wrote {json_path} and lesson_times.md")
    return 0 if all(row["status"] == "passed" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
