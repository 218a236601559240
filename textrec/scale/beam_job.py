"""Embedding review files as a data-parallel Apache Beam job.

The job, stage by stage (:func:`build_pipeline`)::

    files ──► ReadShard ──► GroupByKey(user) ──► CleanUserReviews ──► KeyByLength
              (the course's   (cleaning rules      (prepare_reviews:     (token-length bucket,
               loader)         are per user)        clean + scrub)        shard)
      ──► GroupByKey ──► Batch ──► Reshuffle ──► EmbedBatch ──┬──► reviews-*.parquet
          (texts of one length,   (to every      (compiled   └──► CombinePerKey(user: sum)
           in batches)             worker)        encoder)         ──► users-*.parquet

* **ReadShard** reads one file with :func:`textrec.scale.sources.iter_file_reviews`; skipped
  lines are Beam counters (``textrec`` / ``skipped: <reason>``) and each file's load report is
  kept in the manifest: nothing is lost silently.
* **CleanUserReviews**: :func:`textrec.scale.embedding.prepare_reviews` on one user's reviews.
* **KeyByLength** / **GroupByKey** / **Batch**: the in-process embedder sorts all texts by
  length so that a batch pads little. A job cannot sort globally for free, so it keys each review
  by its token-length bucket (and a shard, so that no group grows without bound), groups, and
  cuts each group into batches. ``Reshuffle`` then deals the batches out to every worker: the
  expensive step must not stay with the worker that grouped a key (Beam's
  ``GroupIntoBatches`` would batch the same way, but as a stateful step the local runner runs it,
  and what is fused with it, on one worker only).
* **EmbedBatch**: the course's :class:`textrec.text.TextEmbedder`, loaded once per worker
  process in ``DoFn.setup`` (:func:`textrec.scale.embedding.shared_embedder`).

:func:`run_embedding_job` runs it. Here it runs on Beam's local portable runner (the
``FnApiRunner`` that the ``DirectRunner`` runs batch jobs on) with ``workers`` worker
processes. The same pipeline runs on a cluster by flags only, e.g. ``runner="DataflowRunner"``
with ``pipeline_args=["--project=P", "--region=R", "--temp_location=gs://B/tmp",
"--requirements_file=requirements/scale-workers.txt"]``, or ``"FlinkRunner"`` /
``"SparkRunner"`` with their master's address (not run here: no cluster).

The DirectRunner would first try Beam's Prism runner, a Go binary downloaded from GitHub on
first use; this module goes to the FnApiRunner directly, so no download is tried.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from textrec.scale._beam import beam  # noqa: I001  (first: Apache Beam without its warnings)
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from textrec._logging import quiet
from textrec.data import schema
from textrec.data.errors import LoadReport
from textrec.scale import embedding, vector_files
from textrec.scale.progress import run_with_progress
from textrec.scale.sources import SOURCE, iter_file_reviews, review_files

COUNTERS = "textrec"
LOCAL_RUNNERS = (None, "", "DirectRunner", "direct", "FnApiRunner")


class ReadShard(beam.DoFn):
    """A review file's path -> its valid reviews (dicts), and its load report (tagged
    ``reports``)."""

    def process(self, path):
        report = LoadReport(source=Path(path).name)
        with _local_copy(path) as local:
            for review in iter_file_reviews(local, report):
                review[SOURCE] = Path(path).name
                yield review
        Metrics.counter(COUNTERS, "lines read").inc(report.lines)
        Metrics.counter(COUNTERS, "reviews read").inc(report.loaded)
        for reason, count in report.skipped.items():
            Metrics.counter(COUNTERS, f"skipped: {reason}").inc(count)
        yield beam.pvalue.TaggedOutput("reports", json.dumps(report.to_dict()))


class CleanUserReviews(beam.DoFn):
    """(user, their reviews) -> their reviews, cleaned and scrubbed."""

    def process(self, element):
        _, reviews = element
        clean, cleaning, scrubbing = embedding.prepare_reviews(embedding.review_frame(reviews))
        for reason, count in cleaning.counts().items():
            Metrics.counter(COUNTERS, f"removed: {reason}").inc(count)
        Metrics.counter(COUNTERS, "scrubbed reviews").inc(scrubbing.rows_changed)
        for row in clean.to_dict("records"):
            yield {key: (value.item() if hasattr(value, "item") else value)
                   for key, value in row.items()}


class KeyByLength(beam.DoFn):
    """A review -> ((its token-length bucket, a shard), the review)."""

    def __init__(self, settings: embedding.EmbeddingSettings, shards: int):
        self.settings, self.shards = settings, max(1, int(shards))

    def setup(self):
        self.embedder = embedding.shared_embedder(self.settings)

    def process(self, review):
        length = embedding.length_bucket(self.embedder, review[schema.TEXT])
        name = f"{review[SOURCE]}:{review[schema.ORDER]}".encode()
        yield (length, zlib.crc32(name) % self.shards), review


class EmbedBatch(beam.DoFn):
    """(key, a batch of reviews) -> each review's row with its vector; the model is loaded once
    per worker, in ``setup``."""

    def __init__(self, settings: embedding.EmbeddingSettings, progress_dir: str | None = None):
        self.settings, self.progress_dir = settings, progress_dir

    def setup(self):
        self.embedder = embedding.shared_embedder(self.settings)
        self.done = 0
        self.progress_file = None
        if self.progress_dir:
            self.progress_file = Path(self.progress_dir) / f"{os.getpid()}-{id(self)}.count"

    def process(self, element):
        _, reviews = element
        rows, vectors = embedding.embed_rows(self.embedder, list(reviews))
        Metrics.counter(COUNTERS, "reviews embedded").inc(
            sum(row[vector_files.HAS_TEXT] for row in rows))
        Metrics.counter(COUNTERS, "texts truncated").inc(self.embedder.last_stats.n_truncated)
        for row, vector in zip(rows, vectors):
            row[vector_files.VECTOR] = vector
            yield row
        self.done += len(rows)
        if self.progress_file is not None:   # read by run_embedding_job's progress bar
            temporary = self.progress_file.with_suffix(".tmp")
            temporary.write_text(str(self.done))
            temporary.replace(self.progress_file)


class SumVectors(beam.CombineFn):
    """Per user: the sum of their review vectors (float64) and how many had text."""

    def create_accumulator(self):
        return None, 0

    def add_input(self, accumulator, row):
        if not row[vector_files.HAS_TEXT]:
            return accumulator
        total, count = accumulator
        vector = np.asarray(row[vector_files.VECTOR], np.float64)
        return (vector if total is None else total + vector), count + 1

    def merge_accumulators(self, accumulators):
        total, count = None, 0
        for part, n in accumulators:
            if part is not None:
                total = part if total is None else total + part
            count += n
        return total, count

    def extract_output(self, accumulator):
        return accumulator


class _LocalCopy:
    """A local file is read in place; a remote one (``gs://``, ``s3://``: a worker on a cluster)
    is copied to the worker's temporary folder first, so that the course's loader reads it."""

    def __init__(self, path: str):
        self.path, self.temporary = str(path), None

    def __enter__(self) -> Path:
        if "://" not in self.path:
            return Path(self.path)
        from apache_beam.io.filesystems import FileSystems

        handle, self.temporary = tempfile.mkstemp(suffix="-" + Path(self.path).name)
        with os.fdopen(handle, "wb") as target, FileSystems.open(self.path) as remote:
            shutil.copyfileobj(remote, target)
        return Path(self.temporary)

    def __exit__(self, *exc):
        if self.temporary:
            os.unlink(self.temporary)


def _local_copy(path) -> _LocalCopy:
    return _LocalCopy(path)


def _batches(element, size: int):
    """(length key, its reviews) -> (length key, a batch of at most ``size`` of them)."""
    key, reviews = element
    batch = []
    for review in reviews:
        batch.append(review)
        if len(batch) == size:
            yield key, batch
            batch = []
    if batch:
        yield key, batch


def _key_by_user(review):
    return review[schema.USER], review


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if "://" in folder else str(Path(folder) / name)


def build_pipeline(pipeline, files, out, settings: embedding.EmbeddingSettings, dim: int, *,
                   shards: int = 1, progress_dir: str | None = None):
    """Add the job's transforms to ``pipeline``: read ``files`` (paths or URLs), write
    ``shards`` files per table under ``out``. Returns the PCollection of the files' load
    reports (JSON strings)."""
    write = dict(file_name_suffix=".parquet", num_shards=shards,
                 shard_name_template="-SSSSS-of-NNNNN")
    read = (pipeline
            | "Files" >> beam.Create([str(f) for f in files])
            | "ReadShard" >> beam.ParDo(ReadShard()).with_outputs("reports", main="reviews"))
    embedded = (read.reviews
                | "ByUser" >> beam.Map(_key_by_user)
                | "GroupByUser" >> beam.GroupByKey()
                | "Clean" >> beam.ParDo(CleanUserReviews())
                | "KeyByLength" >> beam.ParDo(KeyByLength(settings, shards))
                | "GroupByLength" >> beam.GroupByKey()
                | "Batch" >> beam.FlatMap(_batches, embedding.batch_size(settings))
                | "Spread" >> beam.Reshuffle()
                | "Embed" >> beam.ParDo(EmbedBatch(settings, progress_dir)))
    embedded | "WriteReviews" >> beam.io.WriteToParquet(
        _join(str(out), vector_files.REVIEW_PREFIX), vector_files.review_schema(dim), **write)
    (embedded
     | "ReviewByUser" >> beam.Map(_key_by_user)
     | "SumByUser" >> beam.CombinePerKey(SumVectors())
     | "UserRow" >> beam.Map(embedding.user_row, dim)
     | "WriteUsers" >> beam.io.WriteToParquet(
         _join(str(out), vector_files.USER_PREFIX), vector_files.user_schema(dim), **write))
    (read.reports
     | "WriteReports" >> beam.io.WriteToText(_join(str(out), "load-reports"),
                                             file_name_suffix=".jsonl", num_shards=1))
    return read.reports


def pipeline_options(runner: str | None, workers: int, pipeline_args=()) -> PipelineOptions:
    """The job's options: on the local runner, ``workers`` worker processes; elsewhere the
    runner's own flags in ``pipeline_args`` (project, region, temp_location, ...)."""
    args = list(pipeline_args)
    if runner in LOCAL_RUNNERS:
        args += [f"--direct_num_workers={int(workers)}", "--direct_running_mode=multi_processing"]
    else:
        args += [f"--runner={runner}"]
    args += ["--default_sdk_harness_log_level=ERROR"]
    return PipelineOptions(args)


def local_runner(options: PipelineOptions):
    """Beam's portable local runner, set up as the DirectRunner sets it up for a batch job (its
    workers receive the pipeline's options), without the DirectRunner's first try of Prism."""
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


def _new_pipeline(runner, options):
    if runner in LOCAL_RUNNERS:
        return beam.Pipeline(runner=local_runner(options), options=options)
    return beam.Pipeline(options=options)


def _clear_outputs(out: Path) -> None:
    for pattern in (f"{vector_files.REVIEW_PREFIX}-*.parquet",
                    f"{vector_files.USER_PREFIX}-*.parquet", "load-reports-*.jsonl",
                    vector_files.MANIFEST):
        for path in out.glob(pattern):
            path.unlink()


def _counters(result) -> dict:
    found = {}
    for counter in result.metrics().query()["counters"]:
        if counter.key.metric.namespace == COUNTERS:
            name = counter.key.metric.name
            found[name] = found.get(name, 0) + int(counter.committed or counter.attempted or 0)
    return dict(sorted(found.items()))


def run_embedding_job(source, out, *, workers: int = 2, runner: str | None = None,
                      pipeline_args=(), settings: embedding.EmbeddingSettings | None = None,
                      shards: int | None = None, progress: bool = True) -> dict:
    """Embed the review files of ``source`` (a file, a folder or a glob pattern) into ``out``
    with Beam; returns the manifest (also written to ``out/manifest.json``).

    ``workers``: worker processes of the local runner (each loads the encoder once);
    ``runner``/``pipeline_args``: another runner and its flags (see the module docstring);
    ``shards``: files per output table (default: ``workers``); ``progress``: a bar of the
    reviews embedded so far (local runner only: a cluster's runner shows its own, with the
    ``textrec`` counters).
    """
    settings = settings or embedding.EmbeddingSettings()
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    local = runner in LOCAL_RUNNERS
    if local and settings.threads_per_worker is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
        settings = dataclasses.replace(settings, threads_per_worker=threads)
    files = review_files(source) if "://" not in str(source) else [str(source)]
    shards = int(shards or workers)
    dim = embedding.encoder_dim(settings)
    out_path = Path(out)
    if "://" not in str(out):
        out_path.mkdir(parents=True, exist_ok=True)
        _clear_outputs(out_path)
    progress_dir = tempfile.mkdtemp(prefix="textrec-beam-") if local and progress else None
    start = time.perf_counter()
    options = pipeline_options(runner, workers, pipeline_args)
    pipeline = _new_pipeline(runner, options)
    build_pipeline(pipeline, files, out, settings, dim, shards=shards, progress_dir=progress_dir)
    try:
        with quiet(logging.getLogger("apache_beam")):
            result, processes = run_with_progress(pipeline, progress_dir,
                                                  files if local else None)
    finally:
        if progress_dir:
            shutil.rmtree(progress_dir, ignore_errors=True)
    seconds = time.perf_counter() - start
    counters = _counters(result)
    reports = []
    if "://" not in str(out):
        for path in sorted(out_path.glob("load-reports-*.jsonl")):
            reports += [json.loads(line) for line in path.read_text().splitlines() if line]
            path.unlink()
    manifest = {"encoder": embedding.encoder_name(settings), "dim": dim,
                "max_length": embedding.max_length(settings),
                "batch_size": embedding.batch_size(settings),
                "engine": f"Apache Beam {beam.__version__}, "
                          + ("FnApiRunner (local)" if local else str(runner)),
                "workers": workers, "threads_per_worker": settings.threads_per_worker,
                "embedding processes": processes,
                "seconds": round(seconds, 3), "files": [Path(str(f)).name for f in files],
                "reviews": counters.get("reviews read", 0) - sum(
                    v for k, v in counters.items() if k.startswith("removed: ")),
                "counters": counters,
                "load_reports": sorted(reports, key=lambda report: report["source"])}
    if "://" not in str(out):
        users = sum(1 for _ in _user_rows(out_path))
        manifest["users"] = users
        (out_path / vector_files.MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _user_rows(folder: Path):
    import pyarrow.parquet as pq

    for path in sorted(folder.glob(f"{vector_files.USER_PREFIX}-*.parquet")):
        yield from range(pq.ParquetFile(path).metadata.num_rows)
