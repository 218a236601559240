"""Progress of a local Beam job: its workers write how many reviews each has embedded to small
files in a shared folder (``EmbedBatch``), and the launcher sums them into a bar while the
pipeline runs in a thread. A cluster's runner shows its own progress (the ``textrec``
counters)."""

from __future__ import annotations

import contextlib
import gzip
import sys
import threading
from pathlib import Path


def count_lines(files) -> int:
    """Lines (or Parquet rows) of local review files: the progress bar's total."""
    total = 0
    for path in files:
        path = Path(path)
        if path.name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            total += pq.ParquetFile(path).metadata.num_rows
            continue
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with contextlib.suppress(OSError, EOFError), opener(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                total += block.count(b"\n")
    return total



def run_with_progress(pipeline, progress_dir, files):
    """Run the pipeline in a thread; meanwhile sum the workers' progress files (``progress_dir``,
    None: no bar) into a bar whose total is the lines of ``files``. Returns (the result, how many
    worker processes embedded something)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = pipeline.run()
            outcome["result"].wait_until_finish()
        except BaseException as error:   # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="textrec-beam-job", daemon=True)
    thread.start()
    bar = None
    if progress_dir is not None:
        from textrec._logging import progress_bar

        total = count_lines(files) if files else None
        bar = progress_bar(total=total, desc="Beam job: reviews embedded", unit="review",
                           file=sys.stdout, mininterval=2.0)
    while thread.is_alive():
        thread.join(0.5)
        if bar is not None:
            done = sum(int(p.read_text() or 0) for p in Path(progress_dir).glob("*.count"))
            if done > bar.n:
                bar.update(done - bar.n)
    if bar is not None:
        bar.close()
    if "error" in outcome:
        raise outcome["error"]
    processes = None
    if progress_dir is not None:
        processes = len({path.name.split("-")[0] for path in Path(progress_dir).glob("*.count")})
    return outcome["result"], processes
