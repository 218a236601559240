"""Scrubbing personal data out of review text before any model reads it.

:func:`scrub_text` replaces each match by a typed placeholder and counts it:

==========  ==================================================================  =============
type        what it matches                                                     placeholder
==========  ==================================================================  =============
EMAIL       ``name@example.com``                                                ``[EMAIL]``
URL         ``http(s)://...``, ``www....``, ``host.tld/path``                   ``[URL]``
IP          IPv4 ``192.168.0.12`` and full or ``::``-compressed IPv6            ``[IP]``
CARD        13-19 digits, spaces or dashes between, passing the Luhn check      ``[CARD]``
SSN         ``123-45-6789``                                                     ``[SSN]``
PHONE       ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``,             ``[PHONE]``
            ``+1 555 123 4567``, ``+44 20 7946 0958`` (separators required)
HANDLE      ``@some_user`` (not the ``@`` of an e-mail, at least one letter)    ``[HANDLE]``
ADDRESS     ``1234 Elm Street``, ``12 N. Main St. Apt 4B``, ``P.O. Box 123``    ``[ADDRESS]``
==========  ==================================================================  =============

They are applied in that order (an e-mail's domain is not a URL, a card is not a phone).
Ordinary review text is left alone: prices (``$19.99``), model numbers (``SM-58``, ``DD-3``,
``9V``), dates (``02/28/2014``), measurements (``1/4"``, ``6.35 mm``), versions (``v2.1``),
years and plain numbers, and a bare site name such as ``Amazon.com``.

**What it does not catch** (patterns cannot, and a reviewer should know): names of people
inside sentences ("my teacher John Smith"), nicknames and usernames without ``@``, city or
employer mentions ("the only music store in Bozeman"), phone numbers written as one run of
digits or in words, addresses without a street suffix, non-US national ids, and anything
identifying in combination (age + town + band name). Text can also identify by style. Scrub
to reduce what a model can memorise, then still treat the text as personal data.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import pandas as pd

from textrec.data import schema

_SUFFIXES = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|"
             r"Way|Place|Pl|Terrace|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_HEX = r"[0-9A-Fa-f]{1,4}"

PATTERNS: dict[str, re.Pattern] = {
    "EMAIL": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    "URL": re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]"
                      r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                      r"\.(?:com|net|org|io|co|uk|de|us|info|ly)"
                      r"/[^\s<>\"]*[^\s<>\".,;:!?)\]]", re.IGNORECASE),
    "IP": re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.]*\d)"
                     rf"|(?<![\w:])(?:{_HEX}:){{7}}{_HEX}(?![\w:])"
                     rf"|(?<![\w:])(?:{_HEX}:){{1,6}}:(?:{_HEX}(?::{_HEX}){{0,5}})?(?![\w:])"),
    "CARD": re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
    "SSN": re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    "PHONE": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
                        r"\d{3,4}[ .-]\d{4}(?![\d-])"
                        r"|(?<![\w+])\+\d{1,3}(?:[ .-]\d{2,4}){2,4}(?![\d-])"),
    "HANDLE": re.compile(r"(?<![\w@.])@(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{2,30}\b"),
    "ADDRESS": re.compile(rf"(?<![\w./-])\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+){{1,3}}"
                          rf"(?:{_SUFFIXES})\b\.?(?:,?\s+(?:Apt|Suite|Unit)\.?\s*#?\w+)?"
                          r"|(?i:\bP\.?\s?O\.?\s+Box\s+\d+\b)"),
}
PII_TYPES = tuple(PATTERNS)
_VERSION_BEFORE = re.compile(r"(?:version|firmware|\bv|\bver\.?)\s*$", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a card number (digits only): every second digit from the right
    doubled (minus 9 above 9), the total divisible by 10."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(match: re.Match) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1


@dataclasses.dataclass
class ScrubResult:
    """A scrubbed text and how many of each PII type were replaced."""

    text: str
    counts: collections.Counter


def scrub_text(text: str, types=PII_TYPES) -> ScrubResult:
    """Replace the PII of ``types`` in ``text`` with placeholders; see the module docstring."""
    counts = collections.Counter()
    if not isinstance(text, str) or not text:
        return ScrubResult("" if not isinstance(text, str) else text, counts)
    unknown = set(types) - set(PII_TYPES)
    if unknown:
        raise ValueError(f"unknown PII types {sorted(unknown)}; use some of {PII_TYPES}")
    for kind in PII_TYPES:
        if kind not in types:
            continue

        def replace(match, kind=kind):
            if kind == "CARD" and not _is_card(match):
                return match.group()
            before = text[max(0, match.start() - 12):match.start()]
            if kind == "IP" and _VERSION_BEFORE.search(before):
                return match.group()  # "version 1.0.0.1", "v1.2.3.4": a version, not an address
            counts[kind] += 1
            return f"[{kind}]"
        text = PATTERNS[kind].sub(replace, text)
    return ScrubResult(text, counts)


@dataclasses.dataclass
class ScrubReport:
    """What :func:`scrub_reviews` replaced: counts per type and per column, rows touched."""

    counts: dict
    by_column: dict
    rows_changed: int
    rows: int

    def summary(self) -> str:
        found = ", ".join(f"{n:,} {kind}" for kind, n in self.counts.items() if n) or "nothing"
        return f"{self.rows_changed:,} of {self.rows:,} reviews scrubbed: {found}"

    def __str__(self) -> str:
        return self.summary()


def scrub_reviews(reviews: pd.DataFrame, columns=(schema.TEXT, schema.SUMMARY),
                  types=PII_TYPES) -> tuple[pd.DataFrame, ScrubReport]:
    """Scrub the text ``columns`` of a reviews frame; returns (new frame, report)."""
    frame = reviews.copy()
    total = collections.Counter()
    by_column, changed = {}, pd.Series(False, index=frame.index)
    for column in columns:
        if column not in frame:
            continue
        results = [scrub_text(t, types) for t in frame[column].fillna("").astype(str)]
        column_counts = sum((r.counts for r in results), collections.Counter())
        by_column[column] = {kind: column_counts.get(kind, 0) for kind in types}
        total.update(column_counts)
        changed |= pd.Series([bool(r.counts) for r in results], index=frame.index)
        frame[column] = [r.text for r in results]
    counts = {kind: total.get(kind, 0) for kind in types}
    return frame, ScrubReport(counts, by_column, int(changed.sum()), len(frame))


def scrub_prepared(data, types=PII_TYPES):
    """A copy of ``data`` (``PreparedData``) with the reviews and the three splits scrubbed;
    returns (new data, the report on all reviews)."""
    reviews, report = scrub_reviews(data.reviews, types=types)
    split = dataclasses.replace(data.split, **{
        name: scrub_reviews(frame, types=types)[0] for name, frame in data.split.frames().items()})
    return dataclasses.replace(data, reviews=reviews, split=split), report
