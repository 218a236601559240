"""The main job: run the course's stages end to end and write ``reports/``.

``run_pipeline`` runs the stages of :data:`STAGES` in order. Each is a function
``context -> Markdown section``: it reads what earlier stages left in the ``context`` dict,
adds its own objects, saves figures under ``reports/figures/`` and returns its part of
``reports/report.md``. The report opens with a summary table of ``context["metrics"]`` (filled
by the stages; numbers only) and the stage times.

What each stage puts in ``context`` (``run_pipeline`` starts it with ``source``, ``profile``
(the profile's name), ``seed``, ``reports``, ``figures`` (folders), ``progress`` and an empty
``metrics`` dict):

* ``data``: ``prepared`` (``textrec.data.prepare.PreparedData``: reviews, items, split).
  Writes ``data_report.json``.
* ``finetune``: ``finetuned_folder`` (the saved fine-tuned sentiment model, under
  ``reports/models/finetuned-sentiment``), ``sentiment_metrics`` (model -> accuracy and
  macro-F1 on the validation reviews), ``embedder`` (the base ``TextEmbedder``, reused by
  ``interests``); metric ``sentiment macro-f1 (fine-tuned, validation)``.
* ``interests``: ``embedder`` (the base ``TextEmbedder``, never the fine-tuned encoder),
  ``review_vectors`` (float [len(train), dim], one row per train row, in train order),
  ``description_vectors`` ([len(items), dim], or None without descriptions), ``user_text`` and
  ``item_text`` (``textrec.interests.TextVectors``); metric ``text-only validation ndcg@10``.
* ``joint``: ``joint_model`` (the trained ``textrec.models.JointModel``), ``joint_history``
  (per-epoch logs), ``user_ids`` and ``item_ids`` (the towers' vocabularies, the ids of
  ``user_text`` and ``item_text``); metrics ``validation ndcg@10``, ``validation hr@10``,
  ``validation rmse``.
* ``evaluation``: ``evaluation_results`` (``textrec.evaluation.EvaluationResults``, also saved
  as ``evaluation.json``), ``best_baseline`` (the name of the baseline with the best test
  NDCG@10); metrics ``test ndcg@10`` (joint model) and ``test ndcg@10 best baseline``.
* ``privacy``: metric ``membership audit auc``.
* ``export``: ``export`` (the ``textrec.export.ExportInfo`` of ``<reports>/export/textrec/1``);
  metrics ``export size (MB)`` and ``recommend_text median latency (ms)``.

Choosing stages (``stages=["data", "interests"]``, ``textrec pipeline --stages ...``) also runs
their prerequisites (:data:`PREREQUISITES`, resolved by :func:`plan`), so a stage always finds
what it reads; ``--stages evaluation`` runs data, interests, joint and evaluation (not
finetune, which nothing else needs). The report names the stages added that way. A stage that
still misses a context key raises a ValueError naming the stage to include.

Reproducibility: ``config.set_seeds(config.SEED)`` runs before every stage, so a stage's
numbers are the same whether it runs in the whole pipeline or with only its prerequisites.
"""

from textrec.pipeline.runner import run_pipeline
from textrec.pipeline.stages import PREREQUISITES, STAGES, plan, prerequisites, stage_names

__all__ = ["PREREQUISITES", "STAGES", "plan", "prerequisites", "run_pipeline", "stage_names"]
