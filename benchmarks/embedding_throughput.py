"""Embedding throughput: textrec's TextEmbedder vs sentence-transformers, same texts, same model.

    python benchmarks/embedding_throughput.py [--data PATH] [--n 2000] [--max-length 128]

Both embed the same real reviews with all-MiniLM-L6-v2 (the offline package), at most
``--max-length`` tokens, batch 64, no cache, after one warm-up batch each. Reports texts per
second and the cosine between the two vectors of each text. sentence-transformers (and the
PyTorch it needs) is an optional extra, not part of the course environment: install it in a
separate environment (`pip install torch==2.13.0 sentence-transformers`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import textrec  # noqa: F401  (before TensorFlow)

import numpy as np

from common import machine, markdown_table, real_data_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--n", type=int, default=2000, help="number of reviews (0: all)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from textrec.data.amazon import load_amazon_reviews
    from textrec.data.cleaning import clean_text
    from textrec.data import schema
    from textrec.text import TextEmbedder, package_model_dir

    frame, _ = load_amazon_reviews(real_data_path(args.data))
    texts = [clean_text(t) for t in frame[schema.TEXT]]
    texts = texts[: args.n] if args.n else texts

    ours = TextEmbedder(max_length=args.max_length, batch_size=args.batch_size, use_cache=False)
    ours.embed(texts[: args.batch_size])  # warm-up: builds the graph
    rows, ours_vectors = [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours_vectors = ours.embed(texts, progress=False)
        seconds = time.perf_counter() - start
        rows.append({"implementation": "textrec TextEmbedder (TF)", "seconds": seconds})
    truncated = ours.last_stats.n_truncated

    theirs_vectors = None
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        print(f"sentence-transformers not installed ({error}); measuring textrec only")
    else:
        model = SentenceTransformer(str(package_model_dir()), device="cpu")
        model.max_seq_length = args.max_length
        model.encode(texts[: args.batch_size], batch_size=args.batch_size)
        for _ in range(args.repeats):
            start = time.perf_counter()
            theirs_vectors = model.encode(texts, batch_size=args.batch_size,
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)
            rows.append({"implementation": f"sentence-transformers (PyTorch {torch.__version__})",
                         "seconds": time.perf_counter() - start})

    best = {}
    for row in rows:
        name = row["implementation"]
        best[name] = min(best.get(name, float("inf")), row["seconds"])
    table = [{"implementation": name, "texts": len(texts), "best seconds": f"{s:.2f}",
              "texts/s": f"{len(texts) / s:.0f}"} for name, s in best.items()]
    print(f"\n{dt.date.today()} · {machine()} · {len(texts)} real reviews, "
          f"max {args.max_length} tokens ({truncated} truncated), batch {args.batch_size}, "
          f"best of {args.repeats}\n")
    print(markdown_table(table, ["implementation", "texts", "best seconds", "texts/s"]))
    if theirs_vectors is not None:
        cosine = np.sum(ours_vectors * theirs_vectors, axis=1)
        speeds = list(best.values())
        print(f"\nspeed ratio textrec / sentence-transformers: {speeds[1] / speeds[0]:.2f}")
        print(f"cosine between the two vectors of each text: min {cosine.min():.6f}, "
              f"median {np.median(cosine):.6f}")


if __name__ == "__main__":
    main()
