"""Lesson 11's packages: its Colab cell installs Beam without its pins and holds Colab's own;
the `textrec beam-embed` command passes the runner's flags through."""

import ast
from pathlib import Path

from textrec import _colab, cli

ROOT = Path(__file__).resolve().parents[1]


def test_only_lesson_11s_setup_cell_installs_beam_and_faiss():
    plain = _colab.setup_cell(ROOT, notebook="notebooks/04_two_tower_retrieval.ipynb")
    assert plain == _colab.setup_cell(ROOT) and "apache-beam" not in plain
    for path in ("notebooks/11_beyond_one_machine.ipynb", "solutions/11_beyond_one_machine.ipynb"):
        cell = _colab.setup_cell(ROOT, notebook=path)
        ast.parse(cell)
        pinned = next(line for line in (ROOT / "requirements/scale.txt").read_text().splitlines()
                      if line.startswith("apache-beam=="))
        assert f'pip_install("--no-deps", "{pinned}")' in cell
        assert '"protobuf", "numpy"' in cell and '"faiss-cpu"' in cell
        assert cell.index("import textrec") > cell.index("apache-beam")


def test_beam_embed_passes_the_runners_flags_through(monkeypatch):
    seen = {}

    def fake(args):
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(cli, "_beam_embed", fake)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with(parser(), fake))
    assert cli.main(["beam-embed", "reviews/", "--out", "vectors", "--runner", "DataflowRunner",
                     "--", "--project=p", "--region=r"]) == 0
    assert seen["runner_flags"] == ["--project=p", "--region=r"] and seen["workers"] == 2
    assert seen["source"] == "reviews/" and seen["runner"] == "DataflowRunner"


def _with(parser, function):
    """``parser`` with ``beam-embed`` calling ``function``."""
    for action in parser._subparsers._group_actions:
        action.choices["beam-embed"].set_defaults(func=function)
    return parser
