"""The pipeline's stages, in the order they run, and what each reads.

A stage is a function ``PipelineState -> Markdown section`` that reads products of earlier
stages (``state.need``) and stores its own (``state.put``). Its prerequisites are the stages
that make what it reads (:func:`prerequisites`), so adding a stage is one :class:`Stage` line
here and its product fields in :class:`textrec.pipeline.state.PipelineState`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textrec.pipeline.data_stage import data_stage
from textrec.pipeline.evaluation_stage import evaluation_stage
from textrec.pipeline.export_stage import export_stage
from textrec.pipeline.feedback_stage import feedback_stage
from textrec.pipeline.finetune_stage import finetune_stage
from textrec.pipeline.interests_stage import interests_stage
from textrec.pipeline.joint_stage import joint_stage
from textrec.pipeline.privacy_stage import privacy_stage
from textrec.pipeline.state import PipelineState


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: its name, its function, and the products it reads."""

    name: str
    run: Callable[[PipelineState], str]
    reads: tuple[str, ...] = ()


STAGES: list[Stage] = [
    Stage("data", data_stage),
    Stage("finetune", finetune_stage, reads=("prepared",)),
    Stage("interests", interests_stage, reads=("prepared",)),
    Stage("joint", joint_stage, reads=("prepared", "user_text", "item_text", "review_vectors")),
    Stage("evaluation", evaluation_stage,
          reads=("prepared", "review_vectors", "description_vectors", "joint_model")),
    Stage("privacy", privacy_stage,
          reads=("prepared", "joint_model", "user_ids", "item_ids", "user_text", "item_text")),
    Stage("feedback", feedback_stage,
          reads=("prepared", "review_vectors", "description_vectors")),
    Stage("export", export_stage,
          reads=("prepared", "joint_model", "user_text", "item_text", "review_vectors")),
]


def stage_names() -> list[str]:
    """The names of :data:`STAGES`, in order."""
    return [stage.name for stage in STAGES]


def get_stage(name: str) -> Stage:
    """The :class:`Stage` called ``name``."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise ValueError(f"unknown stage {name!r}; the stages are {stage_names()}")


def prerequisites(name: str) -> tuple[str, ...]:
    """The stages that make what stage ``name`` reads, in :data:`STAGES` order."""
    makers = {PipelineState.producer(product) for product in get_stage(name).reads}
    return tuple(stage for stage in stage_names() if stage in makers)


def plan(chosen: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(the stages to run, in STAGES order; those added as prerequisites of ``chosen``).

    ``chosen`` None or empty: every stage. Unknown names raise a ValueError listing the stages.
    """
    names = stage_names()
    chosen = [name.strip() for name in (chosen or names) if name.strip()] or names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; the stages are {names}")
    needed, waiting = set(), list(chosen)
    while waiting:
        name = waiting.pop()
        if name not in needed:
            needed.add(name)
            waiting.extend(prerequisites(name))
    ordered = [name for name in names if name in needed]
    return ordered, [name for name in ordered if name not in chosen]
