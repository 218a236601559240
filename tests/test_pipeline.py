"""The `textrec` command and the pipeline's data stage."""

import gzip
import json

import pytest

from textrec import cli, config
from textrec.data import schema
from textrec.data.splits import Split


def write_amazon_file(path, n_users=6, n_items=5):
    # Every user reviews every item once, one day apart: a tiny but complete 5-core file,
    # plus one malformed line that must be reported, not lost.
    lines = []
    for u in range(n_users):
        for i in range(n_items):
            lines.append(json.dumps({
                "reviewerID": f"U{u}", "asin": f"I{i}", "overall": float(1 + (u + i) % 5),
                "reviewText": f"user {u} on item {i}", "summary": "s",
                "unixReviewTime": 1_400_000_000 + 86_400 * (u + i)}))
    lines.insert(3, "{broken")
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines))
    return path


def test_pipeline_on_a_review_file_writes_the_report(tmp_path, capsys):
    source = write_amazon_file(tmp_path / "tiny.json.gz")
    assert cli.main(["pipeline", "--data", str(source), "--profile", "quick", "--stages", "data",
                     "--reports", str(tmp_path / "reports")]) == 0
    report = (tmp_path / "reports" / "report.md").read_text()
    assert "30 reviews by 6 users of 5 items" in report
    assert "1 skipped" in report and "malformed line" in report and "line 4" in report
    assert (tmp_path / "reports" / "figures" / "data_overview.png").stat().st_size > 10_000
    stats = json.loads((tmp_path / "reports" / "data_report.json").read_text())
    assert stats["split"]["test"]["reviews"] == 6
    prepared = config.data_dir() / "prepared" / "tiny"
    split = Split.load(prepared / "split")
    assert len(split.train) == 18 and set(split.test[schema.USER]) == {f"U{u}" for u in range(6)}


@pytest.mark.slow
def test_pipeline_on_the_synthetic_default_runs_every_stage_and_exports(tmp_path):
    """The main job end to end in the quick profile: about two minutes."""
    from textrec import export

    assert cli.main(["pipeline", "--reports", str(tmp_path / "r")]) == 0
    stats = json.loads((tmp_path / "r" / "data_report.json").read_text())
    assert stats["source"].startswith("synthetic-quick")
    assert stats["reviews"] > 1000 and stats["split"]["test"]["users"] == stats["users"]
    report = (tmp_path / "r" / "report.md").read_text()
    for section in ("## Summary", "## Data", "## Export"):
        assert section in report
    assert ("Stages: data, finetune, interests, joint, evaluation, privacy, feedback, export."
            in report)
    assert "0 found" in report  # the search for review text and raw ids in the export
    saved = tmp_path / "r" / "export" / "textrec" / "1"
    card = export.read_card(saved)
    assert {"validation ndcg@10", "test ndcg@10", "membership audit auc"} <= set(card["metrics"])
    loaded = export.load_export(saved.parent)
    answer = export.call_signature(loaded, "recommend_text", text=[["bright strings"]],
                                   user_id=[""], k=[5])
    assert answer["item_ids"].shape == (1, 5) and "" not in answer["item_ids"][0]
    figures = {p.name for p in (tmp_path / "r" / "figures").glob("*.png")}
    assert len(figures) >= 5, figures


def test_cli_errors_are_readable(tmp_path, capsys):
    assert cli.main(["pipeline", "--data", str(tmp_path / "missing.json")]) == 2
    assert "neither 'synthetic'" in capsys.readouterr().err
    assert cli.main(["pipeline", "--stages", "nope", "--reports", str(tmp_path)]) == 2


def test_cli_env_and_download_list(capsys):
    assert cli.main(["env"]) == 0
    out = capsys.readouterr().out
    assert "tensorflow" in out and "profile" in out
    assert cli.main(["download", "--list"]) == 0
    assert "movielens-100k" in capsys.readouterr().out
