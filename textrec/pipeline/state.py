"""What the pipeline's stages hand each other: one typed object, :class:`PipelineState`.

Each product field names the stage that makes it (``product("joint")``), so this class is the
one description of the pipeline's state: :meth:`PipelineState.need` reads a product (or says
which stage to include), :meth:`PipelineState.put` lets a stage write only its own products,
and ``textrec.pipeline.stages`` derives each stage's prerequisites from the products it reads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textrec import config

if TYPE_CHECKING:  # types only: the stages import these lazily
    import numpy as np

    from textrec.data.prepare import PreparedData
    from textrec.evaluation import EvaluationResults
    from textrec.export import ExportInfo
    from textrec.feedback import FeedbackStudy
    from textrec.interests import TextVectors


class _Missing:
    def __repr__(self) -> str:
        return "<not produced yet>"


MISSING: Any = _Missing()


def product(stage: str, description: str) -> Any:
    """A field that stage ``stage`` fills in; unset until it has run."""
    return dataclasses.field(default=MISSING, repr=False,
                             metadata={"stage": stage, "description": description})


@dataclasses.dataclass
class PipelineState:
    """The pipeline's settings, its headline metrics, and every stage's products."""

    source: str
    profile: str
    seed: int
    reports: Path
    progress: bool = True
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    prepared: PreparedData = product("data", "reviews, items and the leave-last-out split")
    finetuned_folder: Path = product("finetune", "the saved fine-tuned sentiment model")
    sentiment_metrics: dict = product(
        "finetune", "model name -> validation accuracy and macro-F1")
    review_vectors: np.ndarray = product(
        "interests", "float [len(train), dim]: one vector per train review, in train order")
    description_vectors: np.ndarray | None = product(
        "interests", "[len(items), dim], or None without item descriptions")
    user_text: TextVectors = product("interests", "the users' interest vectors")
    item_text: TextVectors = product("interests", "the items' text vectors")
    joint_model: Any = product("joint", "the trained textrec.models.JointModel")
    joint_history: dict = product("joint", "per-epoch logs of the joint model")
    user_ids: np.ndarray = product("joint", "the query tower's user vocabulary")
    item_ids: np.ndarray = product("joint", "the candidate tower's item vocabulary")
    evaluation_results: EvaluationResults = product(
        "evaluation", "every model's per-user test metrics (also evaluation.json)")
    best_baseline: str = product("evaluation", "the baseline with the best test NDCG@10")
    feedback_study: FeedbackStudy = product(
        "feedback", "lesson 09: faithfulness, explanation cost, the time-ordered replay, drift")
    export: ExportInfo = product("export", "the SavedModel written under reports/export")

    # A shared resource, not a product: the base (not fine-tuned) TextEmbedder, loaded once by
    # whichever stage needs it first (base_embedder).
    embedder: Any = dataclasses.field(default=None, repr=False)

    @property
    def figures(self) -> Path:
        """The folder the stages save their figures in."""
        return self.reports / "figures"

    @property
    def settings(self) -> config.Profile:
        """The :class:`textrec.config.Profile` the pipeline runs with."""
        return config.get_profile(self.profile)

    @classmethod
    def producer(cls, name: str) -> str:
        """The stage that makes product ``name``."""
        for field in dataclasses.fields(cls):
            if field.name == name and "stage" in field.metadata:
                return field.metadata["stage"]
        raise KeyError(f"{name!r} is not a product of any stage; the products are "
                       f"{sorted(products())}")

    def has(self, name: str) -> bool:
        """Whether product ``name`` has been made."""
        self.producer(name)
        return getattr(self, name) is not MISSING

    def need(self, name: str, stage: str):
        """Product ``name``, or a ValueError saying which stage to include for ``stage``."""
        if not self.has(name):
            producer = self.producer(name)
            raise ValueError(
                f"stage {stage!r} needs {name!r}, which stage {producer!r} makes; include "
                f"{producer!r} in the stages (run_pipeline adds prerequisites itself)")
        return getattr(self, name)

    def put(self, stage: str, **values) -> None:
        """Store ``stage``'s products; naming another stage's product is a ValueError."""
        for name, value in values.items():
            producer = self.producer(name)
            if producer != stage:
                raise ValueError(f"stage {stage!r} cannot set {name!r}: that is stage "
                                 f"{producer!r}'s product")
            setattr(self, name, value)

    def base_embedder(self):
        """The base ``TextEmbedder`` sized by the profile, loaded once and shared."""
        if self.embedder is None:
            from textrec.text import TextEmbedder

            self.embedder = TextEmbedder(max_length=self.settings.max_seq_length,
                                         batch_size=self.settings.embedding_batch_size)
        return self.embedder


def products() -> dict[str, str]:
    """Product name -> the stage that makes it, in declaration order."""
    return {field.name: field.metadata["stage"] for field in dataclasses.fields(PipelineState)
            if "stage" in field.metadata}
