"""Lesson 11 at full size: the Beam embedding job, training on two workers, and approximate
retrieval over a million items -> results/scale.md and results/scale.json.

    python benchmarks/scale_benchmark.py [--data PATH] [--parts beam,workers,ann]
        [--items 1000000] [--lists 1000] [--probes 1,2,4,...]

* **beam**: the same review file embedded three ways, one after the other: in this process
  (:func:`textrec.scale.embedding.embed_in_process`: model load, XLA compiles, embedding), then
  as the Beam job with 1 and with 2 worker processes (each worker imports TensorFlow, loads the
  encoder and compiles its own shapes: that overhead is counted). The outputs are compared
  (ids, vectors to 1e-5). Aims: Beam within 1.3 x the in-process time; 2 workers not slower
  than 1.
* **workers**: the two-tower recipe trained with 1 worker (2 TensorFlow threads) and with 2
  worker processes on loopback (1 thread each), validation NDCG@10 with its 95% interval.
  Aim: the 2-worker NDCG@10 inside the 1-worker interval; wall times reported.
* **ann**: a synthetic catalogue of ``--items`` unit vectors around the real reviews' vectors
  (:func:`textrec.scale.catalogue.synthetic_catalogue`), queried by the real users' interest
  vectors; faiss IVF-Flat (``--lists`` lists) over ``--probes``: recall@10 against the exact
  top 10, median single-query latency, against exact brute force (NumPy's product with the
  course's top-k, and faiss's flat index); build time and memory. Aim: recall@10 >= 0.95 at
  >= 10 x lower median latency than exact.

Timings are one run each on a shared machine: the load average is recorded beside each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np

from common import git_revision, machine, markdown_table, real_data_path

RESULTS = Path(__file__).resolve().parent / "results"


def two_digits(value) -> float:
    """``value`` to two significant digits (2.1e-07)."""
    return float(f"{float(value):.2g}")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def first_reviews(data: Path, n: int | None, work: Path) -> Path:
    """The first ``n`` lines of ``data`` as a file of their own (all of it when ``n`` is None)."""
    if not n:
        return data
    import gzip

    from textrec.data.amazon import open_text

    path = work / f"first-{n}.json.gz"
    with open_text(data) as source, gzip.open(path, "wt", encoding="utf-8") as target:
        for number, line in enumerate(source):
            if number >= n:
                break
            target.write(line)
    return path


def part_beam(data: Path, work: Path) -> dict:
    from textrec.scale import beam_job, embedding, vector_files

    rows = []
    start_load = load()
    start = time.perf_counter()
    reference = embedding.embed_in_process(data, out=work / "in-process")
    rows.append({"engine": "in-process TextEmbedder", "workers": 1,
                 "seconds": round(time.perf_counter() - start, 1),
                 "load before": start_load, "load after": load()})
    for workers in (1, 2):
        start_load = load()
        start = time.perf_counter()
        beam_job.run_embedding_job(data, work / f"beam-{workers}", workers=workers,
                                   progress=False)
        seconds = time.perf_counter() - start
        got = vector_files.read_embedded(work / f"beam-{workers}")
        same_ids = (got.reviews.frame[["source", "order"]].to_numpy().tolist()
                    == reference.reviews.frame[["source", "order"]].to_numpy().tolist()
                    and got.users.ids.tolist() == reference.users.ids.tolist())
        rows.append({"engine": "Beam job (FnApiRunner)", "workers": workers,
                     "seconds": round(seconds, 1), "load before": start_load,
                     "load after": load(), "same ids": bool(same_ids),
                     "max review vector diff": two_digits(
                         np.abs(got.reviews.vectors - reference.reviews.vectors).max()),
                     "max user vector diff": two_digits(
                         np.abs(got.users.vectors - reference.users.vectors).max())})
    base = rows[0]["seconds"]
    for row in rows:
        row["x in-process"] = round(row["seconds"] / base, 2)
    return {"reviews": len(reference.reviews), "users": len(reference.users),
            "source": data.name, "rows": rows,
            "aims": {"beam within 1.3 x in-process (2 workers)": rows[2]["x in-process"] <= 1.3,
                     "2 workers not slower than 1": rows[2]["seconds"] <= rows[1]["seconds"],
                     "output equal (ids, 1e-5)": all(
                         r["same ids"] and r["max review vector diff"] <= 1e-5
                         and r["max user vector diff"] <= 1e-5 for r in rows[1:])}}


def part_workers(data: Path, work: Path, epochs: int | None) -> dict:
    from textrec import interests
    from textrec.data.prepare import prepare_data
    from textrec.scale import multiworker
    from textrec.text import TextEmbedder

    prepared = prepare_data(str(data), profile="quick")
    train = prepared.split.train
    review_vectors, description_vectors = interests.embed_train_and_items(
        train, prepared.items, TextEmbedder())
    user_text = interests.interest_vectors(train, review_vectors)
    item_text = interests.item_text_vectors(prepared.items, train, review_vectors,
                                            description_vectors)
    runs = {}
    for workers, threads in ((1, os.cpu_count() or 1), (2, max(1, (os.cpu_count() or 1) // 2))):
        folder = multiworker.save_inputs(work / f"workers-{workers}", prepared.split, user_text,
                                         item_text, multiworker.WorkerJob(epochs=epochs,
                                                                          threads=threads))
        start_load = load()
        run = multiworker.train_on_workers(folder, workers=workers, timeout=3600)
        runs[workers] = {"workers": workers, "threads per worker": threads,
                         **{k: round(v, 4) for k, v in run.metrics.items()},
                         "fit seconds": round(run.fit_seconds, 1),
                         "wall seconds": round(run.wall_seconds, 1),
                         "epochs": len(run.history["retrieval_loss"]),
                         "load before": start_load, "load after": load()}
    one, two = runs[1], runs[2]
    return {"data": prepared.name, "rows": [one, two],
            "aims": {"2-worker NDCG@10 inside the 1-worker interval":
                     one["ndcg@10 low"] <= two["ndcg@10"] <= one["ndcg@10 high"]}}


def _median_ms(function, queries) -> float:
    times = []
    for query in queries:
        start = time.perf_counter()
        function(query[None, :])
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def part_ann(vectors: Path, n_items: int, n_lists: int | None, probes, timed: int) -> dict:
    import faiss

    from textrec import ranking
    from textrec.models import ann
    from textrec.scale import catalogue, vector_files

    embedded = vector_files.read_embedded(vectors)
    anchors = embedded.reviews.vectors[embedded.reviews.frame["has_text"].to_numpy(bool)]
    queries = embedded.users.vectors[~embedded.users.empty]
    start = time.perf_counter()
    items = catalogue.synthetic_catalogue(anchors, n_items)
    made = time.perf_counter() - start
    exact = np.concatenate([ranking.topk_items(queries[i:i + 64] @ items.T, 10)
                            for i in range(0, len(queries), 64)])
    rng = np.random.default_rng(0)
    timed_queries = queries[rng.choice(len(queries), min(timed, len(queries)), replace=False)]
    exact_ms = _median_ms(lambda q: ranking.topk_items(q @ items.T, 10), timed_queries)
    flat = faiss.IndexFlatIP(items.shape[1])
    flat.add(items)
    flat_ms = _median_ms(lambda q: flat.search(q, 10), timed_queries)
    flat.reset()   # free its copy of the vectors
    start_load = load()
    index = ann.AnnIndex(range(n_items), items, n_lists=n_lists, n_probe=1)
    build = {"seconds": round(index.build_seconds, 1), "n_lists": index.n_lists,
             "index MB": round(index.memory_bytes / 2**20, 1),
             "vectors MB": round(items.nbytes / 2**20, 1), "load before": start_load,
             "load after": load()}
    rows = []
    fastest_exact = min(exact_ms, flat_ms)
    for probe in [p for p in probes if p <= index.n_lists]:
        index.set_probe(probe)
        _, found = index.search(queries, 10)
        ms = _median_ms(lambda q: index.search(q, 10), timed_queries)
        rows.append({"n_probe": probe, "recall@10": round(ann.recall_at_k(found, exact), 4),
                     "median ms": round(ms, 3),
                     "x faster than exact": round(fastest_exact / ms, 1),
                     "items scored (mean)": int(round(n_items * probe / index.n_lists))})
    meets = [r for r in rows if r["recall@10"] >= 0.95 and r["x faster than exact"] >= 10]
    return {"items": n_items, "dim": int(items.shape[1]), "queries": len(queries),
            "anchors": len(anchors),
            "timed queries": len(timed_queries), "catalogue seconds": round(made, 1),
            "exact median ms (NumPy + course top-k)": round(exact_ms, 2),
            "exact median ms (faiss flat)": round(flat_ms, 2), "build": build, "rows": rows,
            "aims": {"recall@10 >= 0.95 at >= 10 x lower median latency": bool(meets),
                     "smallest n_probe meeting it": meets[0]["n_probe"] if meets else None}}


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def write_markdown(results: dict) -> str:
    def measured(part: dict) -> str:
        when = part.get("measured") or results
        return f"Measured {when['date']} on {when['machine']} (git {when['git']})."

    lines = ["# Lesson 11 at full size: Beam embedding, two workers, a million-item index", "",
             "Every time is one run on a machine that may be shared, with the 1-minute load "
             "average before and after it; each part names when and where it was measured. "
             "Written by `benchmarks/scale_benchmark.py` (`scale.json` beside this file holds the "
             "same numbers).", ""]
    beam = results.get("beam")
    if beam:
        lines += ["## Embedding as a Beam job", "", measured(beam), "",
                  f"{beam['reviews']:,} reviews and {beam['users']:,} users of the real data "
                  f"({beam['source']}), "
                  "cleaned, scrubbed and embedded in this process, then by the Beam job "
                  "(Beam's local FnApiRunner with worker processes; each worker imports "
                  "TensorFlow, loads the encoder once and compiles its own shapes, all counted).",
                  "", markdown_table(beam["rows"], list(beam["rows"][1])), ""]
        lines += [f"- {aim}: **{'met' if ok else 'not met'}**" for aim, ok in beam["aims"].items()]
        lines += [f"- not measured: {note}" for note in beam.get("not measured", [])]
        lines += [f"- note: {note}" for note in beam.get("notes", [])]
        lines.append("")
    workers = results.get("workers")
    if workers and not workers.get("rows"):
        lines += ["## Training on two workers", "", measured(workers), ""]
        lines += [f"- {kind}: {note}" for kind in ("not measured", "measured instead")
                  for note in workers.get(kind, [])]
        lines.append("")
    elif workers:
        lines += ["## Training on two workers", "", measured(workers), "",
                  f"Lesson 04's two-tower recipe on {workers['data']}, validation NDCG@10 "
                  "(full ranking) with its 95% bootstrap interval.", "",
                  markdown_table(workers["rows"], list(workers["rows"][0])), ""]
        lines += [f"- {aim}: **{'met' if ok else 'not met'}**"
                  for aim, ok in workers["aims"].items()]
        lines += [f"- note: {note}" for note in workers.get("notes", [])]
        lines.append("")
    found = results.get("ann")
    if found:
        build = found["build"]
        lines += ["## Approximate retrieval over a synthetic catalogue", "", measured(found), "",
                  f"{found['items']:,} items x {found['dim']} dims around real review vectors "
                  f"({found['anchors from']}); the users' interest vectors as queries "
                  f"(recall over all of them, latency the median of {found['timed queries']} "
                  "single queries). Exact brute force: "
                  f"{found['exact median ms (NumPy + course top-k)']} ms (NumPy product and "
                  f"the course's top-k), {found['exact median ms (faiss flat)']} ms (faiss's "
                  "flat index); the speed-ups below are against the faster of the two.", "",
                  f"faiss IVF-Flat, {build['n_lists']:,} lists: built in {build['seconds']} s "
                  f"(k-means and adding the items; load {build['load before']} -> "
                  f"{build['load after']}); index {build['index MB']} MB (the vectors alone: "
                  f"{build['vectors MB']} MB).", "",
                  markdown_table(found["rows"], list(found["rows"][0])), ""]
        lines += [f"- {aim}: **{ok if not isinstance(ok, bool) else ('met' if ok else 'not met')}**"
                  for aim, ok in found["aims"].items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--parts", default="beam,workers,ann")
    parser.add_argument("--work", default=None, help="scratch folder (default: "
                        "<TEXTREC_HOME>/reports/scale-benchmark)")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=None, help="IVF lists (default: sqrt(n))")
    parser.add_argument("--probes", default="1,2,4,8,16,32,64,128")
    parser.add_argument("--timed", type=int, default=200, help="single queries timed")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--vectors", help="ann: an embedding job's output folder whose review and "
                        "user vectors are the anchors and queries (default: the beam part's "
                        "in-process output, else every review embedded)")
    parser.add_argument("--reviews", type=int, default=None,
                        help="beam: the first N lines of the data only (default: all)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    from textrec import config

    data = real_data_path(args.data)
    work = Path(args.work) if args.work else config.reports_dir() / "scale-benchmark"
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    path = out / "scale.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.update({"date": dt.date.today().isoformat(), "machine": machine(),
                    "git": git_revision(), "data": data.name})
    parts = args.parts.split(",")
    # Each part keeps when, where and at which commit it was measured: a later run of other
    # parts leaves it as it was.
    stamp = {key: results[key] for key in ("date", "machine", "git")}
    if "beam" in parts:
        results["beam"] = {**part_beam(first_reviews(data, args.reviews, work), work),
                           "measured": stamp}
        path.write_text(json.dumps(results, indent=2))
    if "workers" in parts:
        results["workers"] = {**part_workers(data, work, args.epochs), "measured": stamp}
        path.write_text(json.dumps(results, indent=2))
    if "ann" in parts:
        vectors = Path(args.vectors) if args.vectors else work / "in-process"
        if not (vectors / "manifest.json").is_file():
            from textrec.scale import embedding
            from textrec.text import TextEmbedder

            # The anchors and the queries (not a timing): through the embedding cache.
            embedding.embed_in_process(data, out=vectors, embedder=TextEmbedder())
        probes = [int(p) for p in args.probes.split(",")]
        results["ann"] = part_ann(vectors, args.items, args.lists, probes, args.timed)
        results["ann"]["anchors from"] = (f"{results['ann'].pop('anchors')} review vectors and "
                                          f"{results['ann']['queries']} user interest vectors of "
                                          f"{', '.join(read_manifest(vectors)['files'])}")
        results["ann"]["measured"] = stamp
    path.write_text(json.dumps(results, indent=2))
    (out / "scale.md").write_text(write_markdown(results))
    print(write_markdown(results))


if __name__ == "__main__":
    main()
