"""Stage ``evaluation``: the trained models against strong baselines on the TEST split, with the
harness of notebook 06 (full ranking, seen items masked, bootstrap intervals over users).

Everything is fitted on train only, like the joint model: baselines are tuned on validation
(``Evaluator.run`` with each baseline's grid) and not refitted on train + validation.
"""

from __future__ import annotations

from textrec.pipeline.report import save_figure
from textrec.pipeline.state import PipelineState

K = 10
METRICS = (f"ndcg@{K}", f"hr@{K}")
CONFIDENCE = 0.95
N_BOOTSTRAP = 1000
JOINT, TEXT_ONLY = "joint model", "text-only"


def baseline_factories() -> dict:
    """Baseline name -> (factory, validation grid)."""
    from textrec import models

    return {"most popular": (models.MostPopular, None),
            "item-kNN": (models.ItemKNN, models.ItemKNN.GRID),
            "EASE": (models.EASE, models.EASE.GRID)}


def evaluation_stage(state: PipelineState) -> str:
    """Evaluate on test; puts ``evaluation_results`` (``EvaluationResults``) and
    ``best_baseline`` (its name), and the joint model's and the best baseline's test
    NDCG@10 in ``state.metrics``."""
    from textrec import evaluation

    prepared = state.need("prepared", "evaluation")
    interactions = evaluation.InteractionData.from_split(prepared.split)
    course_scores, item_vectors = course_model_scores(state, interactions)
    evaluator = evaluation.Evaluator(interactions, ks=(K,), item_vectors=item_vectors)
    for name, (factory, grid) in baseline_factories().items():
        evaluator.run(name, factory, grid=grid, metric=f"ndcg@{K}", refit=False)
    for name, scores in course_scores.items():
        evaluator.add(name, scores, "test", "train")
    results = evaluator.results
    best = max(baseline_factories(), key=lambda name: results.get(name).mean(f"ndcg@{K}"))
    comparison = results.compare(JOINT, best, f"ndcg@{K}", seed=state.seed)
    state.put("evaluation", evaluation_results=results, best_baseline=best)
    state.metrics["test ndcg@10"] = comparison["mean_a"]
    state.metrics["test ndcg@10 best baseline"] = comparison["mean_b"]
    state.metrics["test ndcg@10 random ranking (expected)"] = results.get(
        evaluation.RANDOM).mean(f"ndcg@{K}")
    results.save(state.reports / "evaluation.json")
    figure = results.plot_bars(f"ndcg@{K}", part="test", fit="train", slices=("all", "cold"),
                               confidence=CONFIDENCE, n_resamples=N_BOOTSTRAP,
                               seed=state.seed).figure
    image = save_figure(figure, state, "evaluation_test_ndcg",
                        "test NDCG@10 with bootstrap intervals")
    return "\n".join(_section(results, interactions, evaluator, best, comparison, state)
                     + ["", image])


def course_model_scores(state: PipelineState, interactions) -> tuple[dict, object]:
    """Test score matrices [users, items] of the text-only recommender and the joint model
    over ``interactions``' user and item ids, and the item text vectors in that item order."""
    from textrec import interests, models
    from textrec.pipeline import course_models

    split, items = interactions.split, state.need("prepared", "evaluation").items
    text_model = interests.fit_text_recommender(
        split.train, items, state.need("review_vectors", "evaluation"),
        state.need("description_vectors", "evaluation"),
        user_ids=interactions.user_ids, item_ids=interactions.item_ids)
    joint = state.need("joint_model", "evaluation")
    scores = {
        TEXT_ONLY: course_models.text_only_scores(text_model, interactions),
        JOINT: models.score_matrix(joint.query_model, joint.candidate_model,
                                   interactions.user_ids, interactions.item_ids),
    }
    return scores, text_model.items.vectors


def verdict(comparison: dict, best: str) -> str:
    """One plain sentence on the joint model against the best baseline, from a paired test
    (``EvaluationResults.compare``: difference a - b with its interval)."""
    numbers = (f"test NDCG@{K} {comparison['mean_a']:.4f} against {comparison['mean_b']:.4f}, "
               f"difference {comparison['difference']:+.4f} "
               f"[{comparison['low']:+.4f}, {comparison['high']:+.4f}], "
               + (f"p = {comparison['p_value']:.3f}" if comparison["p_value"] >= 0.001
                  else "p < 0.001"))
    if comparison["high"] < 0:
        return f"**The joint model loses to {best}** ({numbers}): the baseline is better here."
    if comparison["low"] > 0:
        return f"**The joint model beats {best}** ({numbers})."
    if comparison["difference"] == 0:
        return f"**The joint model ties with {best}** ({numbers})."
    side = "below" if comparison["difference"] < 0 else "above"
    return (f"**The joint model is {side} {best}, but within noise** ({numbers}): the interval "
            "includes 0, so this data cannot tell them apart.")


def _section(results, interactions, evaluator, best: str, comparison: dict,
             state: PipelineState) -> list[str]:
    table = results.to_markdown(metrics=METRICS, part="test", fits=("train",), slices=("all",),
                                beyond=False, confidence=CONFIDENCE, n_resamples=N_BOOTSTRAP,
                                seed=state.seed)
    tuned = "; ".join(f"{name}: {_chosen_params(results, name)}" for name in evaluator.tuning)
    return [
        "## Evaluation on the test split",
        f"{interactions.n_users:,} users x {interactions.n_items:,} items, protocol "
        f"`{interactions.protocol}`: each user's test item is ranked against the whole "
        "catalogue, with their train and validation items masked. Every model is fitted on "
        f"train only; baselines' hyper-parameters chosen on validation NDCG@{K} ({tuned}). "
        f"Cells: mean over users [{CONFIDENCE:.0%} bootstrap interval, {N_BOOTSTRAP:,} "
        "resamples of the users]. Per-user results are saved in `evaluation.json`.",
        "",
        table,
        "",
        *[note + "\n" for note in results.chance_notes(f"ndcg@{K}", "test", "train")],
        verdict(comparison, best),
    ]


def _chosen_params(results, name: str) -> str:
    params = results.get(name).params
    return ", ".join(f"{key}={value}" for key, value in params.items()) or "none"
