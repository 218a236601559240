"""Errors and skip reports shared by the loaders."""

from __future__ import annotations

import collections
import dataclasses


class DataError(ValueError):
    """A data file cannot be read as asked; the message names the file and line."""


@dataclasses.dataclass
class LoadReport:
    """What a loader read, kept and skipped. Nothing is dropped without being counted here.

    ``skipped`` counts skipped lines by reason; ``examples`` keeps up to ``max_examples`` of
    them per reason as ``(line_number, detail)`` (line numbers are 1-based, as in an editor);
    ``notes`` counts things that were repaired rather than skipped (for example a missing
    review text read as empty), with up to ``max_examples`` ``(line_number, detail)`` per note
    in ``note_examples``. ``incomplete`` says why the file could not be read to its end (a
    truncated or corrupt gzip stream), else ``None``: what was read before is kept.
    """

    source: str
    lines: int = 0
    loaded: int = 0
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    notes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    examples: dict = dataclasses.field(default_factory=dict)
    note_examples: dict = dataclasses.field(default_factory=dict)
    incomplete: str | None = None
    max_examples: int = 5

    def skip(self, reason: str, line_number: int, detail: str) -> None:
        self.skipped[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < self.max_examples:
            kept.append((line_number, detail))

    def note(self, reason: str, line_number: int | None = None, detail: str = "") -> None:
        """Count a repair (the line is kept, changed as ``reason`` says)."""
        self.notes[reason] += 1
        if line_number is not None:
            kept = self.note_examples.setdefault(reason, [])
            if len(kept) < self.max_examples:
                kept.append((line_number, detail))

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """A few readable lines: counts, then examples of each skip reason with line numbers."""
        lines = [f"{self.source}: {self.lines:,} lines, {self.loaded:,} reviews loaded, "
                 f"{self.n_skipped:,} skipped"]
        for reason, count in sorted(self.skipped.items()):
            where = ", ".join(f"line {n}: {d}" for n, d in self.examples.get(reason, []))
            lines.append(f"  skipped {count:,} x {reason} ({where})")
        for note, count in sorted(self.notes.items()):
            where = ", ".join(f"line {n}" + (f": {d}" if d else "")
                              for n, d in self.note_examples.get(note, []))
            lines.append(f"  note: {count:,} x {note}" + (f" ({where})" if where else ""))
        if self.incomplete:
            lines.append(f"  INCOMPLETE: {self.incomplete}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "lines": self.lines,
            "loaded": self.loaded,
            "skipped": dict(self.skipped),
            "notes": dict(self.notes),
            "examples": {k: [list(e) for e in v] for k, v in self.examples.items()},
            "note_examples": {k: [list(e) for e in v] for k, v in self.note_examples.items()},
            "incomplete": self.incomplete,
        }

    def __str__(self) -> str:
        return self.summary()
