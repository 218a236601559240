"""The pipeline's stage plan, runner and report helpers; nothing here trains a model."""

import types

import numpy as np
import pandas as pd
import pytest

from textrec import pipeline
from textrec.data import schema
from textrec.pipeline import evaluation_stage, privacy_stage, report, stages

COURSE_STAGES = ["data", "finetune", "interests", "joint", "evaluation", "privacy", "feedback",
                 "export"]


def _state(tmp_path=None):
    from pathlib import Path

    return pipeline.PipelineState(source="synthetic", profile="quick", seed=0,
                                  reports=Path(tmp_path or "."), progress=False)


def test_the_stages_run_in_course_order_and_end_with_export():
    assert pipeline.stage_names() == COURSE_STAGES
    assert [stage.name for stage in pipeline.STAGES] == COURSE_STAGES
    for name in COURSE_STAGES:  # prerequisites always come earlier
        assert all(COURSE_STAGES.index(p) < COURSE_STAGES.index(name)
                   for p in pipeline.prerequisites(name))


def test_prerequisites_follow_from_what_each_stage_reads():
    # evaluation reads the data, the review vectors (interests) and the joint model
    assert pipeline.prerequisites("evaluation") == ("data", "interests", "joint")
    assert pipeline.prerequisites("finetune") == ("data",) and pipeline.prerequisites("data") == ()
    # every product a stage reads is made by some stage, and every stage's products are fields
    for stage in pipeline.STAGES:
        for name in stage.reads:
            assert pipeline.PipelineState.producer(name) in COURSE_STAGES
    assert set(pipeline.products().values()) == set(COURSE_STAGES) - {"privacy"}


def test_plan_adds_prerequisites_and_keeps_the_stage_order():
    assert pipeline.plan(None) == (COURSE_STAGES, [])
    assert pipeline.plan(["data", "interests"]) == (["data", "interests"], [])
    assert pipeline.plan(["interests", "data"]) == (["data", "interests"], [])
    # privacy reads the joint model, which reads the interest vectors, which read the data;
    # fine-tuning is nobody's prerequisite.
    assert pipeline.plan(["privacy"]) == (["data", "interests", "joint", "privacy"],
                                          ["data", "interests", "joint"])
    assert pipeline.plan([" joint ", ""]) == (["data", "interests", "joint"], ["data", "interests"])


def test_unknown_stage_names_raise_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"unknown stages \['nope'\]; the stages are \['data'"):
        pipeline.run_pipeline(stages=["data", "nope"], reports=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_run_pipeline_runs_prerequisites_and_opens_with_the_metrics(monkeypatch, tmp_path):
    def data(state):
        state.put("data", prepared="the data")
        return "## Data"

    def joint(state):
        state.metrics["validation ndcg@10"] = 0.25
        state.metrics["validation rmse"] = 1
        return f"## Joint on {state.need('prepared', 'joint')}"

    def unused(state):
        raise AssertionError("a stage that was not asked for must not run")

    monkeypatch.setattr(stages, "STAGES", [stages.Stage("data", data),
                                           stages.Stage("finetune", unused, ("prepared",)),
                                           stages.Stage("joint", joint, ("prepared",))])
    path = pipeline.run_pipeline(stages=["joint"], reports=tmp_path, progress=False)
    text = path.read_text()
    assert "Stages: data, joint (data added as prerequisites of the chosen stages)." in text
    assert "| validation ndcg@10 | 0.2500 |" in text and "| validation rmse | 1 |" in text
    assert text.index("## Summary") < text.index("Stage times: data") < text.index("## Data")
    assert text.index("## Data") < text.index("## Joint on the data")
    assert (tmp_path / "figures").is_dir()


def test_every_stage_starts_from_freshly_seeded_generators(monkeypatch, tmp_path):
    draws = []

    def draw(state):
        draws.append(np.random.rand())
        np.random.rand()  # a stage using randomness must not shift the next stage's draws
        return ""

    monkeypatch.setattr(stages, "STAGES", [stages.Stage("data", draw),
                                           stages.Stage("joint", draw, ("prepared",))])
    pipeline.run_pipeline(reports=tmp_path, progress=False)
    assert len(draws) == 2 and draws[0] == draws[1]


def test_the_data_stage_alone_writes_a_report_without_metrics(tmp_path):
    path = pipeline.run_pipeline(stages=["data"], reports=tmp_path, progress=False)
    text = path.read_text()
    assert "Stages: data." in text and "No headline metrics" in text and "## Data" in text
    assert "## The joint model" not in text
    assert (tmp_path / "figures" / "data_overview.png").stat().st_size > 10_000


def test_a_stage_missing_its_input_names_the_stage_to_include():
    with pytest.raises(ValueError, match="stage 'joint' needs 'user_text', which stage "
                                         "'interests' makes"):
        _state().need("user_text", "joint")
    with pytest.raises(ValueError, match="include 'data'"):
        evaluation_stage.evaluation_stage(_state())


def test_a_stage_can_only_store_its_own_products():
    state = _state()
    state.put("interests", description_vectors=None)  # None is a product, not "missing"
    assert state.has("description_vectors") and not state.has("user_text")
    with pytest.raises(ValueError, match="stage 'joint' cannot set 'user_text'"):
        state.put("joint", user_text="x")
    with pytest.raises(KeyError, match="not a product"):
        state.put("joint", nonsense=1)


def test_markdown_tables():
    table = report.markdown_table({"a": {"n": 1234, "x": 0.5}, "b": {"n": 2, "x": float("nan")}},
                                  ["n", "x"], first_column="model", digits=2)
    assert table.splitlines() == ["| model | n | x |", "|---|---|---|",
                                  "| a | 1,234 | 0.50 |", "| b | 2 | n/a |"]
    assert report.metrics_table({}).startswith("No headline metrics")
    assert report.metrics_table({"test ndcg@10": 0.12345}).splitlines()[-1] == (
        "| test ndcg@10 | 0.1235 |")


def test_pii_counts_reviews_per_type_over_text_and_summary():
    frame = pd.DataFrame({
        schema.TEXT: ["mail jo@example.com or call (555) 123-4567", "a@b.com and c@d.org",
                      "Nice pedal.", "Just fine"],
        schema.SUMMARY: ["", "great", "see www.example.com/pedal", ""],
    })
    counts = privacy_stage.pii_review_counts(frame)
    # EMAIL: 1 in the first review, 2 in the second; PHONE: the first; URL: the third's summary.
    assert counts["EMAIL"] == {"reviews": 2, "found": 3}
    assert counts["PHONE"] == {"reviews": 1, "found": 1}
    assert counts["URL"] == {"reviews": 1, "found": 1}
    assert counts["CARD"] == {"reviews": 0, "found": 0}
    assert counts["any type"] == {"reviews": 3, "found": 5}


def test_membership_audit_tells_members_apart_when_the_model_memorised_them():
    # Two users, three items. Scores: 5 on the two train pairs, 0 elsewhere, so a member's
    # loss is log(e^5 + 2) - 5 = 0.013 and a held-out pair's log(e^5 + 2) = 5.013: AUC 1.
    split = types.SimpleNamespace(
        train=pd.DataFrame({schema.USER: ["u0", "u1"], schema.ITEM: ["i0", "i1"]}),
        validation=pd.DataFrame({schema.USER: ["u0", "u1"], schema.ITEM: ["i1", "i2"]}),
        test=pd.DataFrame({schema.USER: ["u0", "u1"], schema.ITEM: ["i2", "i0"]}))
    scores = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    audit = privacy_stage.membership_audit(scores, split, ["u0", "u1"], ["i0", "i1", "i2"], seed=0)
    assert audit["auc"] == 1.0 and audit["advantage"] == 1.0 and audit["members"] == 2
    assert (audit["low"], audit["high"]) == (1.0, 1.0)
    assert np.allclose(audit["member_losses"], np.log(np.exp(5) + 2) - 5)


def test_audit_auc_is_read_against_its_interval():
    assert "better than a coin flip" in privacy_stage.meaning(0.67, 0.64, 0.70)
    assert "not distinguishable from a coin flip" in privacy_stage.meaning(0.53, 0.49, 0.57)


def test_the_verdict_says_plainly_when_the_joint_model_loses():
    def comparison(low, high):
        return {"mean_a": 0.2, "mean_b": 0.3, "difference": (low + high) / 2, "low": low,
                "high": high, "p_value": 0.01}

    assert evaluation_stage.verdict(comparison(-0.15, -0.05), "EASE").startswith(
        "**The joint model loses to EASE**")
    assert evaluation_stage.verdict(comparison(0.05, 0.15), "EASE").startswith(
        "**The joint model beats EASE**")
    assert "below EASE, but within noise" in evaluation_stage.verdict(comparison(-0.1, 0.02),
                                                                       "EASE")
    assert evaluation_stage.verdict(comparison(0.0, 0.0), "EASE").startswith(
        "**The joint model ties with EASE**")
