"""Beyond one machine: the course's steps on engines that spread them over workers.

* :mod:`textrec.scale.sources`: review files as shards (JSON lines, ``.json.gz``, Parquet);
* :mod:`textrec.scale.embedding`: the per-worker steps (clean, scrub, embed) and the
  in-process reference; :mod:`textrec.scale.beam_job`: the same as an Apache Beam job
  (imports Apache Beam, an optional dependency: ``requirements/scale.txt``);
* :mod:`textrec.scale.vector_files`: the sharded vector files and their reader;
* :mod:`textrec.scale.multiworker`: the two-tower recipe trained by several worker processes
  with ``tf.distribute.MultiWorkerMirroredStrategy``;
* :mod:`textrec.scale.catalogue`: a synthetic catalogue of many items in the encoder's space,
  for approximate nearest-neighbour retrieval (:mod:`textrec.models.ann`);
* :mod:`textrec.scale.results`: the full-size measurements of ``benchmarks/scale_benchmark.py``.
"""
