"""What marks a solution notebook's cells: the BEGIN/END SOLUTION regions and the
``check:task-N`` tags. Read by the exercise generator, the locked-cell manifest and the grader."""

from __future__ import annotations

import re

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_TAG = re.compile(r"^check:task-(\d+)$")


def check_task(cell) -> int | None:
    """The task a cell checks (its ``check:task-N`` tag), or None."""
    for tag in cell.get("metadata", {}).get("tags", []):
        match = CHECK_TAG.match(tag)
        if match:
            return int(match.group(1))
    return None


def solution_regions(source: str) -> list[tuple[str, list[str]]]:
    """The (indentation, code lines) of each BEGIN/END region of a cell's source."""
    regions, current, indent = [], None, ""
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if current is not None:
                raise ValueError(f"'{BEGIN}' inside another solution region")
            current, indent = [], line[: len(line) - len(line.lstrip())]
        elif marker == END:
            if current is None:
                raise ValueError(f"'{END}' without a '{BEGIN}' before it")
            regions.append((indent, current))
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise ValueError(f"'{BEGIN}' without an '{END}'")
    return regions
