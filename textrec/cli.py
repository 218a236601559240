"""The ``textrec`` command.

    textrec pipeline [--data SOURCE] [--profile quick|full] [--reports DIR] [--stages a,b]
    textrec env                 versions, profile and paths
    textrec download NAME       fetch a registry data set (online); `textrec download --list`
    textrec exercises [--check] write exercises/ from solutions/ (--check: fail if stale)
    textrec colab [--repo OWNER/NAME] [--branch main] [--check]
                                point every Colab badge and set-up cell at the repository
    textrec grade FOLDER        run and grade submitted exercise notebooks -> scores.csv/.md
    textrec serve EXPORT_DIR [--host 127.0.0.1] [--port 8501] [--model-name NAME]
                                serve an export with TF Serving's REST API (:predict, status,
                                metadata) until Ctrl-C
    textrec beam-embed SOURCE --out DIR [--workers 2] [--runner R] [-- RUNNER FLAGS...]
                                embed a folder of review files with an Apache Beam job ->
                                sharded review and user vectors (lesson 11)
    textrec train-workers [--data SOURCE] [--workers 2] [--timeout 900]
                                train the two-tower recipe on worker processes on loopback
                                (MultiWorkerMirroredStrategy; lesson 11)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def _pipeline(args) -> int:
    from textrec.pipeline import run_pipeline

    stages = args.stages.split(",") if args.stages else None
    path = run_pipeline(source=args.data, profile=args.profile, reports=args.reports, stages=stages)
    print(f"report written to {path}")
    return 0


def _env(args) -> int:
    from textrec import _environment, config

    for name, version in _environment.versions().items():
        print(f"{name:26s} {version}")
    print(f"{'profile':26s} {config.profile_name()}")
    for name in ("home", "data_dir", "cache_dir", "reports_dir"):
        print(f"{name:26s} {getattr(config, name)()}")
    print(f"{'data source':26s} {config.data_source()}")
    return 0


def _download(args) -> int:
    from textrec.data import registry

    if args.list or not args.name:
        for name, entry in registry.REGISTRY.items():
            print(f"{name:50s} {entry.description}")
        return 0
    print(registry.fetch(args.name))
    return 0


def _exercises(args) -> int:
    from textrec.grading import exercises, locked

    root = exercises.repository_root()
    solutions = Path(args.solutions) if args.solutions else root / "solutions"
    target = Path(args.exercises) if args.exercises else root / "exercises"
    manifest = args.manifest or (None if args.solutions else locked.MANIFEST)
    if args.check:
        stale = exercises.stale_exercises(solutions, target, manifest)
        for line in stale:
            print(f"stale: {line}", file=sys.stderr)
        if stale:
            print(f"exercises are out of date with {solutions}: run `textrec exercises`",
                  file=sys.stderr)
            return 1
        print(f"exercises up to date ({len(list(solutions.glob('*.ipynb')))} notebooks)")
        return 0
    changed = exercises.write_exercises(solutions, target, manifest)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} exercise notebook(s) written, the others were up to date")
    return 0


def _colab(args) -> int:
    from textrec import _colab as colab
    from textrec.grading import exercises

    root = exercises.repository_root()
    repository, branch = args.repo or colab.REPOSITORY, args.branch or colab.BRANCH
    if args.check:
        found = colab.problems(root, repository, branch)
        for line in found:
            print(f"stale: {line}", file=sys.stderr)
        if found:
            print("run `textrec colab` to rewrite them", file=sys.stderr)
            return 1
        print(f"every badge and set-up cell points at {repository}@{branch}")
        return 0
    if (repository, branch) != (colab.REPOSITORY, colab.BRANCH):
        colab.write_setting(repository, branch)
        print(f"setting: {repository}@{branch} (textrec/_colab.py)")
    changed = colab.rewrite_notebooks(root, repository, branch)
    changed += exercises.write_exercises(root / "solutions", root / "exercises")
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} notebook(s) rewritten for {repository}@{branch}")
    return 0


def _grade(args) -> int:
    from textrec.grading import grader

    limits = {}
    for item in args.lesson_cell_timeout or []:
        lesson, _, seconds = item.partition("=")
        try:
            limits[lesson] = float(seconds)
        except ValueError:
            print(f"--lesson-cell-timeout {item!r}: expected LESSON=SECONDS", file=sys.stderr)
            return 2
    grader.grade_folder(args.folder, out=args.out, cell_timeout=args.cell_timeout,
                        timeout=args.timeout, lesson=args.lesson, jobs=args.jobs,
                        lesson_cell_timeouts=limits)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _serve(args) -> int:
    from textrec.export import server

    try:
        server.serve_forever(args.export_dir, args.host, args.port, model_name=args.model_name,
                             quiet=args.quiet, max_body_bytes=args.max_body_bytes,
                             read_timeout=args.read_timeout, max_concurrent=args.max_concurrent,
                             queue_timeout=args.queue_timeout, poll_seconds=args.poll_seconds,
                             batch_window_ms=args.batch_window_ms,
                             max_batch_rows=args.max_batch_rows,
                             warm_up=not args.no_warm_up)
    except FileNotFoundError:
        raise
    except OSError as error:   # the port is taken, the host is not this machine's...
        print(f"textrec serve: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    return 0


def _beam_embed(args) -> int:
    from textrec.scale import beam_job, embedding

    settings = embedding.EmbeddingSettings(encoder=args.encoder, max_length=args.max_length,
                                           batch_size=args.batch_size)
    manifest = beam_job.run_embedding_job(args.source, args.out, workers=args.workers,
                                          runner=args.runner, pipeline_args=args.runner_flags,
                                          settings=settings, shards=args.shards,
                                          progress=not args.no_progress)
    counters = manifest["counters"]
    skipped = sum(v for k, v in counters.items() if k.startswith("skipped: "))
    removed = sum(v for k, v in counters.items() if k.startswith("removed: "))
    print(f"{counters.get('reviews read', 0):,} reviews read ({skipped:,} lines skipped), "
          f"{removed:,} removed in cleaning, {counters.get('reviews embedded', 0):,} embedded, "
          f"{manifest.get('users', '?')} users, in {manifest['seconds']:.1f} s on "
          f"{manifest['engine']} with {manifest['workers']} worker(s) -> {args.out}")
    return 0


def _train_workers(args) -> int:
    from textrec import interests
    from textrec.data.prepare import prepare_data
    from textrec.scale import multiworker
    from textrec.text import TextEmbedder

    data = prepare_data(args.data, profile=args.profile)
    train = data.split.train
    embedder = TextEmbedder()
    review_vectors, description_vectors = interests.embed_train_and_items(
        train, data.items, embedder)
    user_text = interests.interest_vectors(train, review_vectors)
    item_text = interests.item_text_vectors(data.items, train, review_vectors,
                                            description_vectors)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="textrec-workers-"))
    job = multiworker.WorkerJob(epochs=args.epochs, seed=args.seed,
                                threads=args.threads)
    multiworker.save_inputs(out, data.split, user_text, item_text, job)
    run = multiworker.train_on_workers(out, workers=args.workers, timeout=args.timeout)
    metrics = run.metrics
    print(f"{args.workers} worker(s) on loopback, {data.name}: validation NDCG@10 "
          f"{metrics['ndcg@10']:.4f} [{metrics['ndcg@10 low']:.4f}, "
          f"{metrics['ndcg@10 high']:.4f}], HR@10 {metrics['hr@10']:.4f}; fit "
          f"{run.fit_seconds:.1f} s, wall {run.wall_seconds:.1f} s (logs in {out})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textrec", description="textrec course tools")
    commands = parser.add_subparsers(dest="command", required=True)
    pipeline = commands.add_parser("pipeline", help="run the course end to end and write reports/")
    pipeline.add_argument("--data", help="'synthetic' (default), a registry name or a review file")
    pipeline.add_argument("--profile", choices=["quick", "full"],
                          help="default: TEXTREC_PROFILE or auto")
    pipeline.add_argument("--reports",
                          help="report folder (default: TEXTREC_REPORTS or <home>/reports)")
    pipeline.add_argument("--stages", help="comma-separated stage names (default: all)")
    pipeline.set_defaults(func=_pipeline)
    env = commands.add_parser("env", help="show versions, profile and paths")
    env.set_defaults(func=_env)
    download = commands.add_parser("download", help="fetch a data set from the registry")
    download.add_argument("name", nargs="?")
    download.add_argument("--list", action="store_true")
    download.set_defaults(func=_download)
    exercises = commands.add_parser("exercises", help="generate exercises/ from solutions/")
    exercises.add_argument("--check", action="store_true",
                           help="write nothing; exit 1 listing the stale files if exercises/ "
                                "is out of date")
    exercises.add_argument("--solutions", help="solutions folder (default: <checkout>/solutions)")
    exercises.add_argument("--exercises", help="exercises folder (default: <checkout>/exercises)")
    exercises.add_argument("--manifest", help="locked-cell manifest to write or check (default: "
                                              "textrec/grading/locked_cells.json, unless "
                                              "--solutions is given)")
    exercises.set_defaults(func=_exercises)
    colab = commands.add_parser("colab", help="point Colab badges and set-up cells at a repository")
    colab.add_argument("--repo", help="OWNER/NAME on GitHub (default: the current setting)")
    colab.add_argument("--branch", help="branch (default: the current setting)")
    colab.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 listing the notebooks that do not match")
    colab.set_defaults(func=_colab)
    grade = commands.add_parser(
        "grade", help="run and grade a folder of submitted exercise notebooks",
        description="Runs every .ipynb under FOLDER in its own kernel and writes scores.csv, "
                    "scores.md and feedback/. WARNING: this executes the students' code with your "
                    "permissions; for untrusted submissions run it in a container without network.")
    grade.add_argument("folder", help="folder of submitted notebooks (one per student)")
    grade.add_argument("--out",
                       help="where to write the scores (default: FOLDER-grades next to FOLDER)")
    grade.add_argument("--timeout", type=float, default=600,
                       help="seconds per notebook (default 600)")
    grade.add_argument("--cell-timeout", type=float, default=120,
                       help="seconds per cell, and per task when the grader checks it "
                            "(default 120)")
    grade.add_argument("--lesson", help="lesson of every submission, e.g. 01_data_preparation "
                                        "(default: from each notebook)")
    grade.add_argument("--jobs", type=int, default=1,
                       help="submissions graded at the same time, one kernel each (default 1)")
    grade.add_argument("--lesson-cell-timeout", action="append", metavar="LESSON=SECONDS",
                       help="the cell limit of one lesson, e.g. 02_bert_finetuning=600 "
                            "(repeatable; other lessons get --cell-timeout)")
    grade.set_defaults(func=_grade)
    serve = commands.add_parser(
        "serve", help="serve an export over HTTP with TensorFlow Serving's REST API",
        description="Serves EXPORT_DIR (<folder>/<name>, newest version, or a version folder) at "
                    "/v1/models/<name>[:predict|/metadata], as TF Serving does. There is no "
                    "authentication: keep the default loopback host unless the network is trusted.")
    serve.add_argument("export_dir", help="the export, e.g. reports/export/textrec")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8501,
                       help="port (default 8501, TF Serving's REST port)")
    serve.add_argument("--model-name", help="name in the URLs (default: the export folder's name)")
    serve.add_argument("--max-body-bytes", type=int, default=1 << 20,
                       help="larger request bodies get 413 (default 1 MiB)")
    serve.add_argument("--read-timeout", type=float, default=30.0,
                       help="seconds a client may take to send its request before a 408 "
                            "(default 30)")
    serve.add_argument("--max-concurrent", type=_positive_int, default=2,
                       help="model calls run at once; other requests wait (default 2)")
    serve.add_argument("--queue-timeout", type=float, default=30.0,
                       help="seconds a request waits for a free model slot before a 503 "
                            "(default 30)")
    serve.add_argument("--poll-seconds", type=float, default=2.0,
                       help="how often to look for a newer version of the export and serve it "
                            "without a restart (default 2; 0: never)")
    serve.add_argument("--batch-window-ms", type=_non_negative_float, default=2.0,
                       help="requests of one signature that arrive within this many milliseconds "
                            "of the first are computed together in one model call (the encoder "
                            "runs a batch of texts more efficiently than one text at a time) "
                            "(default 2; 0: no batching, one call per request)")
    serve.add_argument("--max-batch-rows", type=_positive_int, default=64,
                       help="the most rows one batched call gathers; a bigger request runs "
                            "alone (default 64)")
    serve.add_argument("--no-warm-up", action="store_true",
                       help="serve at once, without compiling the XLA encoder on every bucket "
                            "shape first (each shape then compiles, about a second, on the "
                            "first request that needs it)")
    serve.add_argument("--quiet", action="store_true", help="no log line per request")
    serve.set_defaults(func=_serve)
    beam = commands.add_parser(
        "beam-embed", help="embed review files with an Apache Beam job (lesson 11)",
        description="Reads SOURCE (a review file, a folder of them or a glob: .json, .json.gz, "
                    ".parquet), cleans and scrubs each user's reviews with the course's "
                    "functions, embeds them with the course's encoder (loaded once per worker) "
                    "and writes review and user interest vectors as sharded Parquet files with a "
                    "manifest (read them with textrec.scale.vector_files.read_embedded). Flags "
                    "after -- go to the runner, e.g. `--runner DataflowRunner -- --project=P "
                    "--region=R --temp_location=gs://B/tmp`.")
    beam.add_argument("source", help="a review file, a folder of review files or a glob")
    beam.add_argument("--out", required=True, help="output folder (or a gs:// path on a cluster)")
    beam.add_argument("--workers", type=_positive_int, default=2,
                      help="worker processes of the local runner (default 2)")
    beam.add_argument("--runner", help="DirectRunner (default: Beam's local FnApiRunner), "
                                       "DataflowRunner, FlinkRunner, SparkRunner...")
    beam.add_argument("--shards", type=_positive_int,
                      help="files per output table (default: --workers)")
    beam.add_argument("--encoder", help="encoder folder or Hub id (default: the offline one)")
    beam.add_argument("--max-length", type=_positive_int, help="tokens per text (default: the "
                                                               "profile's)")
    beam.add_argument("--batch-size", type=_positive_int, help="texts per batch (default: the "
                                                               "profile's)")
    beam.add_argument("--no-progress", action="store_true", help="no progress bar")
    beam.set_defaults(func=_beam_embed)
    workers = commands.add_parser(
        "train-workers", help="train the two-tower recipe on several local worker processes",
        description="Embeds the data's train reviews (cached), then trains lesson 04's two-tower "
                    "recipe with MultiWorkerMirroredStrategy on WORKERS processes that talk on "
                    "loopback ports (TF_CONFIG), and prints the chief's validation NDCG@10. Every "
                    "process is stopped at the end, on an error or after --timeout seconds.")
    workers.add_argument("--data", help="'synthetic' (default), a registry name or a review file")
    workers.add_argument("--profile", choices=["quick", "full"])
    workers.add_argument("--workers", type=_positive_int, default=2)
    workers.add_argument("--epochs", type=_positive_int, help="default: the recipe's")
    workers.add_argument("--threads", type=_positive_int,
                         help="TensorFlow threads per worker (default: TensorFlow's choice)")
    workers.add_argument("--seed", type=int, default=42)
    workers.add_argument("--timeout", type=float, default=900.0,
                         help="seconds before every worker is stopped (default 900)")
    workers.add_argument("--out", help="job folder: inputs, worker logs, result.json "
                                       "(default: a new temporary folder)")
    workers.set_defaults(func=_train_workers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    runner_flags = []
    if argv and argv[0] == "beam-embed" and "--" in argv:   # the runner's own flags
        runner_flags, argv = argv[argv.index("--") + 1:], argv[:argv.index("--")]
    args = build_parser().parse_args(argv)
    if args.command == "beam-embed":
        args.runner_flags = runner_flags
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError, TimeoutError,
            ImportError) as exc:
        print(f"textrec {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
