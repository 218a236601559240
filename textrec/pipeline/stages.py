"""The pipeline's stages, in the order they run, and what each needs to have run first.

To add a stage, append ``(name, function)`` to :data:`STAGES` and its
prerequisites to :data:`PREREQUISITES`. A stage is a function ``context -> Markdown section``.
"""

from __future__ import annotations

from collections.abc import Callable

from textrec.pipeline.data_stage import data_stage
from textrec.pipeline.evaluation_stage import evaluation_stage
from textrec.pipeline.export_stage import export_stage
from textrec.pipeline.finetune_stage import finetune_stage
from textrec.pipeline.interests_stage import interests_stage
from textrec.pipeline.joint_stage import joint_stage
from textrec.pipeline.privacy_stage import privacy_stage

STAGES: list[tuple[str, Callable[[dict], str]]] = [
    ("data", data_stage),
    ("finetune", finetune_stage),
    ("interests", interests_stage),
    ("joint", joint_stage),
    ("evaluation", evaluation_stage),
    ("privacy", privacy_stage),
    ("export", export_stage),
]

# Stage -> the stages whose context it reads directly (their own prerequisites follow).
# A stage missing from this dict is taken to need every stage listed before it in STAGES.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "data": (),
    "finetune": ("data",),
    "interests": ("data",),
    "joint": ("data", "interests"),
    "evaluation": ("data", "interests", "joint"),
    "privacy": ("data", "interests", "joint"),
    "export": ("data", "interests", "joint"),
}


def stage_names() -> list[str]:
    """The names of :data:`STAGES`, in order."""
    return [name for name, _ in STAGES]


def prerequisites(name: str) -> tuple[str, ...]:
    """The stages ``name`` reads from directly (every earlier stage when not declared)."""
    names = stage_names()
    if name in PREREQUISITES:
        return PREREQUISITES[name]
    return tuple(names[:names.index(name)])


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
