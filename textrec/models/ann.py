"""Approximate nearest-neighbour retrieval with faiss, keeping the course's guarantees.

Exact retrieval scores every item: ``q · v`` for all n items, then the top k
(:func:`textrec.ranking.topk_items`). At a million items that is a million dot products per
query. An *inverted-file* index (IVF, faiss's ``IndexIVFFlat``) first splits the catalogue
into ``n_lists`` clusters by k-means; a query then scores the ``n_lists`` centroids, opens the
``n_probe`` lists whose centroids score highest, and scores only their items, exactly. The
knob ``n_probe`` trades recall for speed: ``n_probe = n_lists`` scores everything (exact), a
few percent of the lists usually find nearly all of the true top 10.

:class:`AnnIndex` wraps such an index and keeps the promises of the course's exact top-k:

* **no seen item**: each query over-fetches ``k`` plus the number of items it must exclude,
  then drops them;
* **exactly k** (when the catalogue has k items the user has not seen): a query whose probed
  lists hold fewer than k unseen items falls back to the exact top-k for that query (counted
  in ``last_fallbacks``);
* scores are the exact dot products of the returned items, best first, ties by item order.

Why faiss: ScaNN 1.4 does not import beside TensorFlow 2.21 (``import scann`` loads its
TensorFlow ops, built for TensorFlow 2.20, and fails); hnswlib's last release (0.8.0, 2023)
ships no wheel and builds from source. faiss-cpu installs as a wheel that needs only NumPy.

The export (``textrec.export``, ``ExportSettings(ann=...)``) stores the index's centroids and
lists and probes them inside the serving graph, the same way (:meth:`AnnIndex.ivf_arrays`).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from textrec import config, ranking


@dataclasses.dataclass(frozen=True)
class AnnSettings:
    """How to build an :class:`AnnIndex` where it is built for someone else (the export):
    ``n_lists`` (None: :func:`default_lists`), ``n_probe`` and the k-means ``seed``."""

    n_lists: int | None = None
    n_probe: int = 8
    seed: int = config.SEED


def library_version() -> str:
    return f"faiss {_faiss().__version__}"


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("approximate retrieval needs faiss: pip install faiss-cpu "
                          "(requirements/scale.txt; `make install` installs it)") from None
    return faiss


def default_lists(n_items: int) -> int:
    """About ``sqrt(n)`` lists (1,000 for a million items), at least 1 and at most n / 39
    (k-means wants about 39 training points per centroid). faiss's guidelines go up to
    ``16 sqrt(n)``: more lists make a query at the same recall cheaper and the k-means
    training dearer."""
    return int(max(1, min(round(np.sqrt(n_items)), n_items // 39 or 1)))


class AnnIndex:
    """An IVF index over ``vectors`` (float32 [n items, dim], row i for ``item_ids[i]``),
    scored by dot product.

    Args:
      item_ids: the catalogue's ids [n items].
      vectors: the items' vectors.
      n_lists: the k-means clusters (default :func:`default_lists`).
      n_probe: lists opened per query (1 to ``n_lists``; change it later with
        :meth:`set_probe`).
      train_size: items k-means is trained on (a random sample; default all, at most 256 per
        list).
      seed: seeds the sample and k-means.
      threads: faiss's OpenMP threads (None: faiss's default, all cores).

    ``build_seconds`` is the time to train the clusters and add the items; ``memory_bytes``
    the index's size (its serialised form: vectors, ids, centroids).
    """

    def __init__(self, item_ids, vectors, n_lists: int | None = None, n_probe: int = 8,
                 train_size: int | None = None, seed: int = config.SEED,
                 threads: int | None = None):
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, np.float32)
        self.item_ids = np.asarray([str(i) for i in item_ids], object)
        if vectors.ndim != 2 or len(vectors) != len(self.item_ids) or not len(vectors):
            raise ValueError(f"{len(self.item_ids)} item ids but vectors of shape "
                             f"{vectors.shape}; expected one row per item")
        if not np.isfinite(vectors).all():
            raise ValueError("the item vectors contain NaN or infinite values")
        if threads:
            faiss.omp_set_num_threads(int(threads))
        self.vectors = vectors
        self.n_lists = int(n_lists or default_lists(len(vectors)))
        if not 1 <= self.n_lists <= len(vectors):
            raise ValueError(f"n_lists must be between 1 and the {len(vectors)} items, got "
                             f"{self.n_lists}")
        start = time.perf_counter()
        quantizer = faiss.IndexFlatIP(vectors.shape[1])
        self.index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], self.n_lists,
                                        faiss.METRIC_INNER_PRODUCT)
        self.index.cp.seed = int(seed)
        size = min(len(vectors), train_size or 256 * self.n_lists)
        sample = vectors
        if size < len(vectors):
            rows = np.random.default_rng(seed).choice(len(vectors), size, replace=False)
            sample = vectors[np.sort(rows)]
        self.index.train(sample)
        self.index.add(vectors)
        self.build_seconds = time.perf_counter() - start
        self._quantizer = quantizer   # the IVF index does not own it in Python
        self.set_probe(n_probe)
        self.last_fallbacks = 0

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def memory_bytes(self) -> int:
        return int(_faiss().serialize_index(self.index).nbytes)

    def set_probe(self, n_probe: int) -> "AnnIndex":
        n_probe = int(n_probe)
        if not 1 <= n_probe <= self.n_lists:
            raise ValueError(f"n_probe must be between 1 and n_lists={self.n_lists}, got "
                             f"{n_probe}")
        self.n_probe = self.index.nprobe = n_probe
        return self

    def search(self, queries, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The index's raw answer: (scores float32 [n queries, n], rows int64 [n queries, n]),
        best first; slots the probed lists could not fill hold row -1 and score ``-inf``."""
        queries = np.ascontiguousarray(queries, np.float32)
        scores, rows = self.index.search(queries, int(min(n, len(self))))
        return np.where(rows >= 0, scores, -np.inf).astype(np.float32), rows.astype(np.int64)

    def exact(self, queries, k: int, exclude=None) -> np.ndarray:
        """The exact top-k rows (the course's one top-k over every item), -1 where fewer."""
        scores = np.asarray(queries, np.float32) @ self.vectors.T
        return ranking.topk_items(scores, k, exclude=exclude)

    def recommend(self, queries, k: int = 10, exclude=None) -> tuple[np.ndarray, np.ndarray]:
        """The top k items of each query that it must not see again, through the index.

        Args:
          queries: float [n queries, dim].
          k: items per query.
          exclude: per query, the item rows never to return: a list of int arrays, or a binary
            CSR [n queries, n items] (e.g. ``ranking.SeenItems.rows_for(users, item_ids)``).

        Returns (scores float32 [n queries, k], item ids object [n queries, k]), best first;
        where a query has fewer than k unseen items the tail holds ``-inf`` and ``""``.
        ``last_fallbacks`` counts the queries answered by the exact top-k.
        """
        k = ranking.check_k(k)
        queries = np.ascontiguousarray(queries, np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"queries must be [n, {self.vectors.shape[1]}], got "
                             f"{queries.shape}")
        excluded = _excluded(exclude, len(queries), len(self))
        top = np.full((len(queries), k), -1, np.int64)
        fetch = k + max((len(rows) for rows in excluded), default=0)
        _, found = self.search(queries, fetch)
        short = []
        for row, candidates in enumerate(found):
            keep = candidates[candidates >= 0]
            if len(excluded[row]):
                keep = keep[~np.isin(keep, excluded[row])]
            wanted = min(k, len(self) - len(excluded[row]))
            if len(keep) >= wanted:
                top[row, :wanted] = keep[:wanted]
            else:
                short.append(row)
        if short:   # the probed lists held too few unseen items: the exact top-k
            rows = np.asarray(short)
            exact = self.exact(queries[rows], k, exclude=[excluded[r] for r in rows])
            top[rows] = exact
        self.last_fallbacks = len(short)
        top = _tie_order(queries, self.vectors, top)
        found_any = top >= 0
        safe = np.maximum(top, 0)
        scores = np.einsum("qd,qkd->qk", queries, self.vectors[safe])
        return (np.where(found_any, scores, -np.inf).astype(np.float32),
                np.where(found_any, self.item_ids[safe], "").astype(object))

    def ivf_arrays(self) -> dict:
        """The index's structure, for a serving graph that probes it itself: ``centroids``
        float32 [n_lists, dim], ``list_items`` int64 [n items] (the rows of list 0, then list
        1, ...) and ``list_splits`` int64 [n_lists + 1] (where each list starts)."""
        faiss = _faiss()
        lists = self.index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 if lists.list_size(i) else np.zeros(0, np.int64) for i in range(self.n_lists)]
        sizes = np.array([len(part) for part in parts], np.int64)
        return {"centroids": self._quantizer.reconstruct_n(0, self.n_lists).astype(np.float32),
                "list_items": np.concatenate(parts).astype(np.int64),
                "list_splits": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)}


def _excluded(exclude, n_queries: int, n_items: int) -> list[np.ndarray]:
    if exclude is None:
        return [np.zeros(0, np.int64)] * n_queries
    matrix = ranking.as_item_sets(exclude, n_queries, n_items, what="exclude")
    return [matrix.indices[matrix.indptr[r]:matrix.indptr[r + 1]].astype(np.int64)
            for r in range(n_queries)]


def _tie_order(queries, vectors, top) -> np.ndarray:
    """Order each row best first, equal scores by item row (the exact top-k's order)."""
    safe = np.maximum(top, 0)
    scores = np.einsum("qd,qkd->qk", queries, vectors[safe])
    scores = np.where(top >= 0, scores, -np.inf)
    order = np.lexsort((np.where(top >= 0, top, np.iinfo(np.int64).max), -scores), axis=1)
    return np.take_along_axis(top, order, axis=1)


def recall_at_k(found, exact) -> float:
    """The mean share of each query's exact top-k (rows, -1 padding ignored) that ``found``
    holds: recall@k of an approximate search against the exact one."""
    found, exact = np.asarray(found), np.asarray(exact)
    shares = []
    for got, want in zip(found, exact):
        want = want[want >= 0]
        if len(want):
            shares.append(len(np.intersect1d(got[got >= 0], want)) / len(want))
    return float(np.mean(shares)) if shares else float("nan")
