"""Text diagrams render the same in JupyterLab, Colab and on GitHub.

A diagram drawn in text survives a browser only if it is narrow enough not to wrap and every
connector meets the one it points to. Every fenced block of a markdown cell that holds
box-drawing characters, and every code comment that does, is checked:

* at most 100 display columns a line;
* only characters every monospace font draws one column wide: printable ASCII, the light
  box-drawing set, letters (``θ``) and a few maths signs (``·``, ``²``). Arrowheads are ASCII
  (``─>``): ``►`` and ``▶`` fall back to another font, or to an emoji, in some browsers;
  combining marks (``x̄``) are refused: they take no column where a font has no glyph for them;
* every arm of a box-drawing character meets an arm of its neighbour: a ``┐`` has a ``│``,
  ``├``, ``┤``, ``┼`` or ``┘`` below it in the same column and a ``─`` (or another character
  with a right arm) on its left. A plain ``─`` may end at text or an ASCII arrowhead, a plain
  ``│`` may hang from a label or end at one; a corner or a junction must meet a line.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "exercises")
                   for p in (ROOT / folder).glob("*.ipynb"))
MAX_COLUMNS = 100
ARROWHEADS = set("<>^v")
MATHS = set("·×²³±≈≤≥∑√∞")
FENCED = re.compile(r"^\s*```[^\n]*\n(.*?)^\s*```", re.DOTALL | re.MULTILINE)


def _arms(character: str) -> set[str]:
    """The directions a box-drawing character's strokes go: up, down, left, right."""
    if not "\u2500" <= character <= "\u257f":
        return set()
    name = unicodedata.name(character, "")
    arms = set()
    for word, directions in (("HORIZONTAL", {"left", "right"}), ("VERTICAL", {"up", "down"}),
                             ("UP", {"up"}), ("DOWN", {"down"}), ("LEFT", {"left"}),
                             ("RIGHT", {"right"})):
        if re.search(rf"\b{word}\b", name):
            arms |= directions
    return arms


def _display(line: str) -> list[str]:
    """The line as display cells, one character per column (wide characters take two)."""
    cells = []
    for character in line:
        cells.append(character)
        if unicodedata.east_asian_width(character) in ("W", "F"):
            cells.append("")
    return cells


def _allowed(character: str) -> bool:
    if character == " " or 33 <= ord(character) < 127:
        return True
    if "\u2500" <= character <= "\u257f":
        return True
    if character in MATHS:
        return True
    return unicodedata.category(character).startswith("L") and unicodedata.east_asian_width(
        character) in ("N", "Na", "A", "H")


def _label(character: str) -> bool:
    """Text a plain line may touch: anything drawn that is not a box-drawing character."""
    return character.strip() != "" and not _arms(character)


def diagram_problems(text: str) -> list[str]:
    """What keeps a text diagram from rendering the same everywhere ([] when nothing does)."""
    problems = []
    rows = [_display(line) for line in text.split("\n")]

    def at(row: int, column: int) -> str:
        if 0 <= row < len(rows) and 0 <= column < len(rows[row]):
            return rows[row][column]
        return " "

    for number, (line, cells) in enumerate(zip(text.split("\n"), rows), start=1):
        if len(cells) > MAX_COLUMNS:
            problems.append(f"line {number} is {len(cells)} columns wide (at most {MAX_COLUMNS})")
        for character in sorted({c for c in line if not _allowed(c)}):
            name = unicodedata.name(character, hex(ord(character)))
            problems.append(f"line {number}: {character!r} ({name}) is not drawn one column wide "
                            "by every monospace font")
    for row, cells in enumerate(rows):
        for column, character in enumerate(cells):
            arms = _arms(character)
            where = f"line {row + 1}, column {column + 1} ({character!r})"
            # A plain vertical line may also hang from a label or point at one (v, ^).
            plain = arms == {"up", "down"}
            above, below = at(row - 1, column), at(row + 1, column)
            if "up" in arms and "down" not in _arms(above) and not (plain and _label(above)):
                problems.append(f"{where}: nothing above meets it")
            if "down" in arms and "up" not in _arms(below) and not (plain and _label(below)):
                problems.append(f"{where}: nothing below meets it")
            if arms in ({"left", "right"},):
                continue  # a plain line may end at text or an arrowhead
            left, right = at(row, column - 1), at(row, column + 1)
            if "left" in arms and "right" not in _arms(left):
                problems.append(f"{where}: nothing on its left meets it")
            if "right" in arms and "left" not in _arms(right) and right not in ARROWHEADS:
                problems.append(f"{where}: nothing on its right meets it")
    return problems


def diagrams(notebook) -> list[tuple[str, str]]:
    """(where, text) for each text diagram of a notebook: fenced blocks of markdown cells and
    runs of comment lines in code cells that hold box-drawing characters."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            blocks = FENCED.findall(cell.source)
            outside = FENCED.sub("", cell.source)
            if any(_arms(c) for c in outside):
                found.append((f"cell {index}, outside a fenced block (a proportional font "
                              "cannot line it up)", "\u2573"))
        else:
            blocks, run = [], []
            for line in cell.source.split("\n") + [""]:
                if line.lstrip().startswith("#"):
                    run.append(line)
                elif run:
                    blocks.append("\n".join(run))
                    run = []
        found += [(f"cell {index}", block.rstrip("\n")) for block in blocks
                  if any(_arms(c) for c in block)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_text_diagrams_render_everywhere(path):
    notebook = nbformat.read(path, as_version=4)
    problems = []
    for where, text in diagrams(notebook):
        if text == "\u2573":
            problems.append(f"{where}: box-drawing characters")
            continue
        problems += [f"{where}, {problem}" for problem in diagram_problems(text)]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the checker itself

GOOD = """\
user id ─> embedding ─┐
                      ├─ concat ─> q
text ─> vector ───────┘"""


def test_a_diagram_whose_connectors_meet_passes():
    assert diagram_problems(GOOD) == []


def test_a_corner_one_column_off_is_caught():
    shifted = GOOD.replace("───────┘", "────────┘")
    problems = diagram_problems(shifted)
    assert any("line 2, column 23" in p and "below" in p for p in problems), problems
    assert any("line 3, column 24" in p and "above" in p for p in problems), problems


def test_a_dangling_corner_and_arm_are_caught():
    problems = diagram_problems("a  ┐\n   │")
    assert any("on its left" in p for p in problems), problems
    assert diagram_problems("label\n  │\n  └─> b") == []
    assert any("above" in p for p in diagram_problems("a\n  \n  │\n  └─> b"))
    assert any("nothing below" in p for p in diagram_problems("a ─┬─> b"))


def test_width_and_glyphs_are_caught():
    assert any("101 columns" in p for p in diagram_problems("─" * 101))
    assert any("BLACK RIGHT-POINTING POINTER" in p for p in diagram_problems("a ─► b"))
    assert any("COMBINING" in p for p in diagram_problems("x\u0304 ─> b"))
    assert diagram_problems("u = norm(S_u) · θ² ─> q") == []


def test_diagrams_are_found_in_markdown_and_comments():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Text\n\n```\n" + GOOD + "\n```\n"),
        nbformat.v4.new_code_cell("# a ─┐\n#    │\nx = 1"),
        nbformat.v4.new_markdown_cell("a ─┐ outside a block"),
    ])
    found = diagrams(notebook)
    assert [where for where, _ in found][:2] == ["cell 0", "cell 1"]
    assert found[0][1] == GOOD and "outside" in found[2][0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_fenced_blocks_fit_without_wrapping(path):
    """Any fenced block (a command, a file layout) wraps or scrolls past 100 columns too."""
    notebook = nbformat.read(path, as_version=4)
    wide = [f"cell {index}: {len(_display(line))} columns: {line[:60]}..."
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"
            for block in FENCED.findall(cell.source)
            for line in block.split("\n") if len(_display(line)) > MAX_COLUMNS]
    assert not wide, "\n".join(wide)
