"""The main job: run the course's stages end to end and write ``reports/``.

``run_pipeline`` runs the stages of :data:`STAGES` in order. Each is a function
``PipelineState -> Markdown section``: it reads what earlier stages made
(``state.need("user_text", "joint")``), stores its own products (``state.put``), adds its
headline numbers to ``state.metrics``, saves figures under ``reports/figures/`` and returns
its part of ``reports/report.md``, which opens with the metrics and the stage times.

:class:`textrec.pipeline.state.PipelineState` is the one description of what the stages hand
each other: a field per product, each naming the stage that makes it. Each :class:`Stage` in
``stages.py`` lists the products it reads; its prerequisites follow from those, so choosing
stages (``textrec pipeline --stages evaluation``) also runs the stages that make what they
read (data, interests, joint), in order, and the report names the stages added that way.

Reproducibility: ``config.set_seeds(config.SEED)`` runs before every stage, so a stage's
numbers are the same whether it runs in the whole pipeline or with only its prerequisites.
"""

from textrec.pipeline.runner import run_pipeline
from textrec.pipeline.stages import STAGES, Stage, get_stage, plan, prerequisites, stage_names
from textrec.pipeline.state import PipelineState, products

__all__ = ["STAGES", "PipelineState", "Stage", "get_stage", "plan", "prerequisites",
           "products", "run_pipeline", "stage_names"]
