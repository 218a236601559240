"""``make gpu-check``: every lesson notebook and solution, in the ``full`` profile, on a GPU.

Each notebook runs in its own ``pytest --nbval-lax`` process, in course order (lesson 03 reads
the model lesson 02 saved, so they share one ``TEXTREC_HOME`` under the run folder). For each
it records the wall time, pass or fail, the peak GPU memory (``nvidia-smi`` sampled every
0.5 s from outside the kernel, and TensorFlow's own peak read inside it) and the lesson's
headline numbers (``benchmarks/nbval_headline.py``). Lessons with a ``DATA`` parameter read
``--data`` (default ``TEXTREC_DATA``: the real reviews); the others their own data. Then the
pipeline runs once in the full profile on the same data (``--no-pipeline`` skips it).

Results: ``<out>/full_profile.json`` (the schema is in ``full_profile.md``) and the measured
section of ``<out>/full_profile.md``, between its ``gpu-check`` markers.

    python benchmarks/full_profile.py --dry-run              # the plan; runs nothing
    python benchmarks/full_profile.py --data reviews.json.gz  # the real run (needs a GPU)
    python benchmarks/full_profile.py --only 02,05 --ab       # two lessons, and the A/B timings

Without a GPU it stops with exit status 2 and says why; ``--allow-cpu`` runs anyway (tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "textrec-full-profile/1"
BEGIN, END = "<!-- gpu-check:begin -->", "<!-- gpu-check:end -->"
NO_GPU = 2


def notebook_plan(only: list[str] | None, data: str) -> list[dict]:
    """The notebooks to run, in order: every lesson, then the solutions, filtered by ``only``
    (substrings of their paths, e.g. "02" or "solutions/05")."""
    paths = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted(
        (REPO / "solutions").glob("*.ipynb"))
    plan = []
    for path in paths:
        relative = str(path.relative_to(REPO))
        if only and not any(part in relative for part in only):
            continue
        reads_data = _has_data_parameter(path)
        plan.append({"notebook": relative, "kind": path.parent.name.rstrip("s"),
                     "data": data if reads_data else "its own (no DATA parameter)",
                     "reads_data": reads_data})
    if only and not plan:
        raise SystemExit(f"--only {','.join(only)} matches no notebook in notebooks/ or "
                         "solutions/")
    return plan


def _has_data_parameter(path: Path) -> bool:
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return re.search(r"^DATA\s*=", "".join(cell["source"]), re.MULTILINE) is not None
    return False


def run_environment(run_dir: Path, data: str, scale: str | None) -> dict:
    """The environment every notebook runs in (``TEXTREC_DATA`` is added per notebook)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("TEXTREC_DATA", "TEXTREC_CACHE", "TEXTREC_REPORTS")}
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update(TEXTREC_PROFILE="full", TEXTREC_HOME=str(run_dir / "home"), MPLBACKEND="Agg",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2",
               # Without it TensorFlow takes the whole GPU at start, and every peak is 100%.
               TF_FORCE_GPU_ALLOW_GROWTH="true", PYTHONPATH=pythonpath)
    if scale:
        env["TEXTREC_FULL_SCALE"] = scale
    return env


# ---------------------------------------------------------------- the GPU


def _nvidia_smi(*query: str) -> list[list[str]]:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(query)}",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [[field.strip() for field in line.split(",")] for line in out.stdout.splitlines()
            if line.strip()]


def detect_gpu(env: dict) -> tuple[dict | None, str]:
    """(the GPU as nvidia-smi and TensorFlow see it, or None; why not)."""
    rows = _nvidia_smi("name", "memory.total", "driver_version")
    if not rows:
        return None, "nvidia-smi lists no GPU (or is not installed)"
    code = ("import textrec, tensorflow as tf; "
            "print(len(tf.config.list_physical_devices('GPU')))")
    seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    count = int(seen.stdout.strip().splitlines()[-1]) if seen.returncode == 0 else 0
    gpu = {"name": rows[0][0], "memory_total_mib": int(float(rows[0][1])),
           "driver": rows[0][2], "count": len(rows), "tensorflow_gpus": count}
    if count == 0:
        return None, (f"nvidia-smi lists {rows[0][0]}, but TensorFlow sees no GPU (a CPU-only "
                      "TensorFlow, or CUDA libraries missing: pip install 'tensorflow[and-cuda]' "
                      "at the pinned version)")
    return gpu, ""


class MemorySampler:
    """The largest ``memory.used`` of GPU 0 that nvidia-smi reports while the block runs."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak, self.baseline = interval, None, None
        self._stop = threading.Event()

    def _used(self) -> int | None:
        rows = _nvidia_smi("memory.used")
        return int(float(rows[0][0])) if rows else None

    def _loop(self):
        while not self._stop.wait(self.interval):
            used = self._used()
            if used is not None:
                self.peak = used if self.peak is None else max(self.peak, used)

    def __enter__(self):
        self.baseline = self._used()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- running


def run_notebook(entry: dict, env: dict, run_dir: Path, timeout: int) -> dict:
    """Run one notebook under nbval; returns its row of the results."""
    stem = Path(entry["notebook"]).stem
    headline = run_dir / "headlines" / f"{entry['kind']}-{stem}.json"
    headline.parent.mkdir(parents=True, exist_ok=True)
    headline.unlink(missing_ok=True)
    env = dict(env, TEXTREC_HEADLINE_FILE=str(headline))
    if entry["reads_data"] and entry["data"] != "synthetic":
        env["TEXTREC_DATA"] = entry["data"]
    command = [sys.executable, "-m", "pytest", "--nbval-lax", f"--nbval-cell-timeout={timeout}",
               "-p", "no:cacheprovider", "-p", "benchmarks.nbval_headline", "-q", "--tb=short",
               entry["notebook"]]
    start = time.perf_counter()
    with MemorySampler() as memory:
        try:
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            status = "passed" if done.returncode == 0 else "failed"
            log = done.stdout + done.stderr
        except subprocess.TimeoutExpired as error:
            status, log = "timeout", _text(error.stdout) + _text(error.stderr)
    seconds = time.perf_counter() - start
    (run_dir / "logs").mkdir(exist_ok=True)
    (run_dir / "logs" / f"{entry['kind']}-{stem}.log").write_text(log)
    cells = {key: int(n) for n, key in re.findall(r"(\d+) (passed|failed|error)", log)}
    found = json.loads(headline.read_text()) if headline.is_file() else {}
    return {**{k: entry[k] for k in ("notebook", "kind", "data")}, "status": status,
            "seconds": round(seconds, 1), "cells_passed": cells.get("passed", 0),
            "cells_failed": cells.get("failed", 0) + cells.get("error", 0),
            "peak_gpu_mib": memory.peak, "baseline_gpu_mib": memory.baseline,
            "tf_peak_gpu_mib": found.get("tf_peak_gpu_mib"),
            "headline": found.get("values", {}),
            "headline_errors": found.get("errors", {} if found else {
                "all": "no headline written (the kernel died, or the run timed out)"}),
            "log_tail": log[-3000:] if status != "passed" else ""}


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


def run_pipeline(env: dict, run_dir: Path, data: str, timeout: int) -> dict:
    """``textrec pipeline`` in the full profile on ``data``; its Summary table is the headline."""
    reports = run_dir / "pipeline"
    command = [sys.executable, "-m", "textrec.cli", "pipeline", "--profile", "full",
               "--reports", str(reports)] + (["--data", data] if data != "synthetic" else [])
    start = time.perf_counter()
    with MemorySampler() as memory:
        try:
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            status, log = ("passed" if done.returncode == 0 else "failed"), done.stderr
        except subprocess.TimeoutExpired as error:
            status, log = "timeout", _text(error.stderr)
    report = reports / "report.md"
    summary = _summary(report.read_text()) if report.is_file() else ""
    return {"notebook": "textrec pipeline", "kind": "pipeline", "data": data, "status": status,
            "seconds": round(time.perf_counter() - start, 1), "peak_gpu_mib": memory.peak,
            "baseline_gpu_mib": memory.baseline, "tf_peak_gpu_mib": None,
            "headline": {"summary": summary}, "headline_errors": {},
            "log_tail": log[-3000:] if status != "passed" else ""}


def _summary(report: str) -> str:
    match = re.search(r"## Summary\n(.*?)\n\n", report, re.DOTALL)
    return match.group(1).strip() if match else ""


def run_ab(env: dict, timeout: int) -> list[dict]:
    """``benchmarks/acceleration_ab.py`` once per (workload, switches), each in its own process
    so that no policy or compiled function carries over."""
    rows = []
    for workload, variants in AB_VARIANTS.items():
        for variant in variants:
            command = [sys.executable, str(REPO / "benchmarks" / "acceleration_ab.py"), workload]
            variant_env = dict(env, TEXTREC_ACCELERATION=f"{workload}={variant}")
            try:
                done = subprocess.run(command, cwd=REPO, env=variant_env, capture_output=True,
                                      text=True, timeout=timeout)
                lines = done.stdout.strip().splitlines()
                row = json.loads(lines[-1]) if done.returncode == 0 and lines else {
                    "error": (done.stderr or done.stdout)[-1500:]}
            except subprocess.TimeoutExpired:
                row = {"error": f"over {timeout} s"}
            rows.append({"workload": workload, "switches": variant, **row})
            print(f"     A/B {workload} {variant}: {row.get('seconds_per_step', row)}", flush=True)
    return rows


AB_VARIANTS = {"finetune": ["none", "mixed_precision", "xla", "mixed_precision+xla"],
               "joint": ["none"],  # no switch applies to it yet: the baseline step time
               "dp_sgd": ["none", "xla"]}


# ---------------------------------------------------------------- writing


def write_results(results: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "full_profile.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    md_path = out / "full_profile.md"
    section = "\n".join([BEGIN, *measured_section(results), END])
    old = md_path.read_text() if md_path.is_file() else "# The full profile\n\n"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + section + old[old.index(END) + len(END):]
    else:
        new = old.rstrip() + "\n\n" + section + "\n"
    md_path.write_text(new)
    return json_path, md_path


def measured_section(results: dict) -> list[str]:
    gpu = results["gpu"]
    device = (f"{gpu['name']} ({gpu['memory_total_mib']:,} MiB, driver {gpu['driver']})" if gpu
              else "no GPU: a CPU run with --allow-cpu (not the full profile's measurement)")
    rows = results["notebooks"]
    passed = sum(row["status"] == "passed" for row in rows)
    lines = [
        f"Measured {results['finished'][:16]} UTC on {device}; profile `{results['profile']}`"
        + (f" scaled by {results['scale']}" if results["scale"] != 1 else "")
        + f", data `{results['data']}`.", "",
        f"{passed} of {len(rows)} passed; {results['total_seconds'] / 60:.1f} minutes in all.", "",
        "| notebook | status | wall time (s) | peak GPU memory, nvidia-smi (MiB) "
        "| TensorFlow peak (MiB) | headline |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        peak = ("-" if row["peak_gpu_mib"] is None else
                f"{row['peak_gpu_mib']:,} (idle {row['baseline_gpu_mib']:,})")
        tf_peak = "-" if row["tf_peak_gpu_mib"] is None else f"{row['tf_peak_gpu_mib']:,.0f}"
        headline = "see below" if row["headline"] else "; ".join(
            f"{k}: {v}" for k, v in row["headline_errors"].items()) or "-"
        lines.append(f"| `{row['notebook']}` | {row['status']} | {row['seconds']:.0f} | {peak} "
                     f"| {tf_peak} | {headline} |")
    lines.append("")
    for row in rows:
        if row["headline"]:
            lines += [f"`{row['notebook']}`:", "", "```",
                      *_compact(row["headline"]), "```", ""]
    if results.get("ab"):
        lines += ["A/B timings (median seconds per training step after 5 warm-up steps; the "
                  "training loss after them). *Applied* is what was in effect: without a GPU "
                  "no switch is, and the rows differ only by noise.", "",
                  "| workload | switches asked | applied | s per step | final loss | error |",
                  "|---|---|---|---:|---:|---|"]
        for row in results["ab"]:
            step, applied = row.get("seconds_per_step"), row.get("applied", {})
            applied = "+".join(name for name, on in applied.items() if on) or "none"
            lines.append(f"| {row['workload']} | {row['switches']} | {applied} | "
                         f"{'-' if step is None else f'{step:.4f}'} | {row.get('loss', '-')} | "
                         f"{row.get('error', '')[-120:]} |")
        lines.append("")
    return lines


def _compact(values: dict) -> list[str]:
    lines = []
    for label, value in values.items():
        if isinstance(value, str):
            lines += [f"{label}:", *value.splitlines()]
        elif isinstance(value, dict):
            lines.append(f"{label}:")
            lines += [f"  {key}: {json.dumps(item)}" for key, item in value.items()]
        else:
            lines.append(f"{label}: {json.dumps(value)}")
    return lines


# ---------------------------------------------------------------- the command


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (tests)")
    parser.add_argument("--only", help="comma-separated parts of notebook paths, e.g. 02,05")
    parser.add_argument("--data", default=os.environ.get("TEXTREC_DATA") or "synthetic",
                        help="review file for the lessons with a DATA parameter "
                             "(default: TEXTREC_DATA, else synthetic)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per notebook")
    parser.add_argument("--ab", action="store_true",
                        help="also time each workload with and without its switches")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the pipeline run")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="TEXTREC_HOME and logs (default: a new folder under /tmp)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    only = [part.strip() for part in args.only.split(",")] if args.only else None
    data = args.data
    if data != "synthetic" and not Path(data).expanduser().is_file():
        print(f"--data {data}: no such file (give a review .json or .json.gz, or synthetic)",
              file=sys.stderr)
        return 1
    data = data if data == "synthetic" else str(Path(data).expanduser().resolve())
    plan = notebook_plan(only, data)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = args.run_dir or Path("/tmp") / f"textrec-gpu-check-{stamp}"
    scale = os.environ.get("TEXTREC_FULL_SCALE", "").strip() or None
    env = run_environment(run_dir, data, scale)
    pipeline = not args.no_pipeline and not only
    if args.dry_run:
        print_plan(plan, env, data, args, pipeline)
        return 0
    gpu, why = detect_gpu(env)
    if gpu is None and not args.allow_cpu:
        print(f"gpu-check needs a GPU: {why}. Run it on a GPU machine (or Colab); "
              "--dry-run shows the plan, --allow-cpu runs anyway.", file=sys.stderr)
        return NO_GPU
    run_dir.mkdir(parents=True, exist_ok=True)
    started, start = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    rows = []
    for entry in plan:
        rows.append(run_notebook(entry, env, run_dir, args.timeout))
        print(f"{rows[-1]['status']:>7} {rows[-1]['seconds']:7.1f} s  {entry['notebook']}",
              flush=True)
    if pipeline:
        rows.append(run_pipeline(env, run_dir, data, 3 * args.timeout))
        print(f"{rows[-1]['status']:>7} {rows[-1]['seconds']:7.1f} s  textrec pipeline")
    results = {
        "schema": SCHEMA, "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "gpu": gpu, "profile": "full", "scale": float(scale or 1),
        "data": data, "command": " ".join(sys.argv), "run_dir": str(run_dir),
        "acceleration": acceleration_plan(env),
        "total_seconds": round(time.perf_counter() - start, 1), "notebooks": rows,
        "ab": run_ab(env, args.timeout) if args.ab else None,
    }
    json_path, md_path = write_results(results, args.out)
    print(f"wrote {json_path} and {md_path}")
    return 0 if all(row["status"] == "passed" for row in rows) else 1


def acceleration_plan(env: dict) -> dict:
    code = ("import json, dataclasses; from textrec import config; print(json.dumps("
            "{k: dataclasses.asdict(v) for k, v in config.acceleration_plan('full').items()}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_plan(plan: list[dict], env: dict, data: str, args, pipeline: bool) -> None:
    shown = ("TEXTREC_PROFILE", "TEXTREC_HOME", "TEXTREC_FULL_SCALE", "TEXTREC_ACCELERATION",
             "TF_FORCE_GPU_ALLOW_GROWTH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "MPLBACKEND")
    print("gpu-check plan (dry run: nothing is executed)")
    print(f"profile: full; data for the lessons with a DATA parameter: {data}")
    print(f"switches on a GPU: {json.dumps(acceleration_plan(env))}")
    print("environment: " + ", ".join(f"{k}={env[k]}" for k in shown if k in env))
    print(f"each notebook: python -m pytest --nbval-lax --nbval-cell-timeout={args.timeout} "
          f"-p benchmarks.nbval_headline <notebook>, at most {args.timeout} s")
    for n, entry in enumerate(plan, 1):
        print(f"{n:3d}. {entry['notebook']}  [{entry['kind']}; data: {entry['data']}]")
    if pipeline:
        print(f"{len(plan) + 1:3d}. textrec pipeline --profile full  [data: {data}]")
    if args.ab:
        print("then A/B timings: " + "; ".join(f"{w}: {', '.join(v)}"
                                               for w, v in AB_VARIANTS.items()))
    print(f"results: {args.out / 'full_profile.json'} and the measured section of "
          f"{args.out / 'full_profile.md'}")


if __name__ == "__main__":
    sys.exit(main())
