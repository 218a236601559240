"""Lesson 09: explanations (why this item) and the feedback loop over time (replay, drift).

Above ``textrec.evaluation`` (it reads its metrics and models); only the pipeline, the export
and the grading import it.
"""

from textrec.feedback.drift import (
    interest_drift,
    item_mix_drift,
    js_divergence,
    js_noise_floor,
    retrain_value,
)
from textrec.feedback.explain import (
    CollaborativeExplainer,
    Explanation,
    ReviewIndex,
    TextExplainer,
    cited_review,
    contributions,
    history_contributions,
    phrase_counts,
    rank_shared,
    removal_drops,
    shared_phrases,
)
from textrec.feedback.faithfulness import (
    Faithfulness,
    collaborative_faithfulness,
    text_faithfulness,
)
from textrec.feedback.replay import (
    GROUPS,
    KINDS,
    Period,
    Replay,
    ReplayResult,
    Schedule,
    default_schedules,
    replay_periods,
)
from textrec.feedback.study import (
    FeedbackStudy,
    explanation_faithfulness,
    explanation_latency,
    pooled_means,
    run_study,
    summary_metrics,
)

__all__ = [
    "GROUPS",
    "KINDS",
    "CollaborativeExplainer",
    "Explanation",
    "Faithfulness",
    "FeedbackStudy",
    "Period",
    "Replay",
    "ReplayResult",
    "ReviewIndex",
    "Schedule",
    "TextExplainer",
    "cited_review",
    "collaborative_faithfulness",
    "contributions",
    "default_schedules",
    "explanation_faithfulness",
    "explanation_latency",
    "history_contributions",
    "interest_drift",
    "item_mix_drift",
    "js_divergence",
    "js_noise_floor",
    "phrase_counts",
    "pooled_means",
    "rank_shared",
    "removal_drops",
    "replay_periods",
    "retrain_value",
    "run_study",
    "shared_phrases",
    "summary_metrics",
    "text_faithfulness",
]
