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
PHONE       international ``+44 7911 123456``, ``+49 (0)89 1234567``,           ``[PHONE]``
            ``+33 1 23 45 67 89`` (8-15 digits); North American
            ``(555) 123-4567``, ``1-800-555-0199``; national with a leading 0
            ``020 7946 0958``, ``030 12345678`` (separators required)
HANDLE      ``@some_user``, ``@name.part.92`` (not an e-mail's ``@``; starts    ``[HANDLE]``
            with a letter or ``_``)
ADDRESS     ``1234 Elm Street``, ``221B Baker Street``, ``55 W 42nd St``,       ``[ADDRESS]``
            ``Apt 4B``, ``P.O. Box 123``, ``Hauptstraße 5``,
            ``12 rue de la Paix``; then the city, state and postcode after a
            comma (``, London NW1 6XE``, ``, Springfield, IL 62704``,
            ``, 10115 Berlin``)
==========  ==================================================================  =============

They are applied in that order (an e-mail's domain is not a URL, a card is not a phone).
Ordinary review text is left alone: prices (``$19.99``), model numbers (``SM-58``, ``DD-3``,
``9V``), dates (``02/28/2014``), measurements (``1/4"``, ``6.35 mm``), versions (``v2.1``),
years and plain numbers, a bare site name such as ``Amazon.com``, and numbers labelled as a
product's, however they are written (``serial 555-123-4567``, ``part # 555-12-3456``,
``SKU: 400-123-4567``; also part numbers such as Fender's ``099-0818-300``). Measured on a
held-out-style set of 43 PII and 43 clean look-alike snippets (``tests/pii_snippets.py``):
every PII snippet scrubbed, no clean one changed; on the 10,261 real reviews of the course data
it changes nothing more than the previous version did.

**What it does not catch** (patterns cannot, and a reviewer should know): names of people
inside sentences ("my teacher John Smith"), nicknames and usernames without ``@``, city or
employer mentions ("the only music store in Bozeman"), phone numbers written as one run of
digits without a ``+`` or in words, addresses without a street suffix (or with one not listed),
a city or postcode not right after a street, non-US national ids, and anything identifying in
combination (age + town + band name). A number labelled like a product's (``order``,
``serial``, ``model``...) is kept even when it is in fact a phone number. Text can also
identify by style. Scrub to reduce what a model can memorise, then still treat the text as
personal data.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import pandas as pd

from textrec.data import schema

_SUFFIXES = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|"
             r"Way|Place|Pl|Terrace|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Crescent|"
             r"Cres|Alley|Trail|Mews|Grove|Gardens")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_HEX = r"[0-9A-Fa-f]{1,4}"
# A street address: house number (221, 221B, 12-B), an optional direction, one to four name
# words (Baker, Martin Luther King Jr., 42nd), a suffix, an optional quadrant and flat, then
# optionally, after a comma, the city, state and postcode (US ZIP, UK postcode, or a European
# postcode before the city).
_HOUSE = r"\d{1,6}(?:-?[A-Z](?![A-Za-z]))?"
_NAME_WORD = r"(?:[A-Z][a-z]+\.?|\d+(?:st|nd|rd|th))"
_CITY = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:[ -][A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+){0,2}"
_POSTCODE = r"(?:\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})"
_PLACE = (rf"(?:(?:,\s*{_CITY}){{1,2}}(?:,?\s+[A-Z]{{2}}\b)?(?:,?\s+{_POSTCODE}\b)?"
          rf"|,?\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?\b"
          rf"|,\s*\d{{4,5}}\s+{_CITY})?")
_FLAT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?\s*#?\w+)?"
_GERMAN_STREET = (r"\b(?:[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|"
                  r"damm)|[A-ZÄÖÜ][\wäöüß-]+\s+(?:Straße|Strasse|Str\.|Weg|Gasse|Platz|"
                  r"Allee|Damm))\s+\d{1,4}\s?[a-z]?\b")
_ROMANCE_STREET = (r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|chemin|allée|"
                   r"impasse|quai|via|viale|piazza|corso|calle|avenida|paseo|rua)\s+"
                   r"(?:(?i:de|du|des|la|le|les|l'|d'|del|della|di|da|do|dos)\s+)*[A-Z][\w'-]+")
_ROMANCE_NUMBER_AFTER = (r"\b(?:Calle|Avenida|Via|Viale|Piazza|Corso|Rua|Paseo|Plaza)\s+"
                         r"(?:(?:de|del|della|di|da|do)\s+)*[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?"
                         r",?\s+\d{1,4}\b")

PATTERNS: dict[str, re.Pattern] = {
    # The look-behinds start a match only where a run of name characters starts: a long run of
    # them ("1.1.1.1...", 20,000 characters) costs linear time, not quadratic.
    "EMAIL": re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+"
                        r"(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    "URL": re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]"
                      r"|(?<![A-Za-z0-9.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                      r"\.(?:com|net|org|io|co|uk|de|us|info|ly)"
                      r"/[^\s<>\"]*[^\s<>\".,;:!?)\]]", re.IGNORECASE),
    "IP": re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.]*\d)"
                     rf"|(?<![\w:])(?:{_HEX}:){{7}}{_HEX}(?![\w:])"
                     rf"|(?<![\w:])(?:{_HEX}:){{1,6}}:(?:{_HEX}(?::{_HEX}){{0,5}})?(?![\w:])"),
    "CARD": re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])"),
    "SSN": re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    # International (+country code, then groups of digits; 8 to 15 digits in all, E.164),
    # North American ((555) 123-4567, 1-800-555-0199) and national numbers with a leading 0
    # (020 7946 0958, 07911 123456, 030 12345678, 01 23 45 67 89); separators required
    # outside the international form (a bare run of digits is too often something else).
    "PHONE": re.compile(r"(?<![\w+])\+\d{1,4}(?:[ .-]?\(0\))?(?:[ .-]?\(?\d{1,6}\)?){1,6}"
                        r"(?![\w-])"
                        r"|(?<![\w+-])(?:1[ .-])?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
                        r"\d{3,4}[ .-]\d{4}(?![\d-])"
                        r"|(?<![\w+./-])0\d{1,4}(?:[ /.-]\d{2,8}){1,4}(?![\w/.-]*\d)"),
    "HANDLE": re.compile(r"(?<![\w@.])@(?=[A-Za-z_])[A-Za-z0-9_]{1,30}(?:\.[A-Za-z0-9_]+)*\b"),
    "ADDRESS": re.compile(rf"(?<![\w./-]){_HOUSE}\s+(?:[NSEW]\.?\s+)?(?:{_NAME_WORD}\s+){{1,4}}"
                          rf"(?:{_SUFFIXES})\b\.?(?:\s+(?:NW|NE|SW|SE)\b)?{_FLAT}{_PLACE}"
                          rf"|(?i:\bP\.?\s?O\.?\s+Box\s+\d+\b){_PLACE}"
                          rf"|(?:{_GERMAN_STREET}|{_ROMANCE_STREET}|{_ROMANCE_NUMBER_AFTER})"
                          rf"{_PLACE}"),
}
PII_TYPES = tuple(PATTERNS)
_VERSION_BEFORE = re.compile(r"(?:version|firmware|\bv|\bver\.?)\s*$", re.IGNORECASE)
# Numbers labelled as a product's (serial, part, model, order...) are not a person's phone,
# SSN or card, however they are written.
_PRODUCT_NUMBER_BEFORE = re.compile(
    r"\b(?:serial|s/?n|part|p/?n|model|sku|upc|ean|isbn|asin|catalog(?:ue)?|cat\.|item|lot|"
    r"batch|order|tracking|invoice|ticket|confirmation|product|code|ref(?:erence)?|version|"
    r"firmware)\b(?:\s*(?:no\.?|nr\.?|num(?:ber)?\.?|#|:|code|id))*\s*[:#]?\s*$",
    re.IGNORECASE)
_PHONE_DIGITS = (8, 15)       # E.164 allows at most 15 digits; fewer than 8 is no phone


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


def _is_phone(match: re.Match) -> bool:
    """8 to 15 digits, not all the same. A national number with a leading 0 has 9 or more (a
    date such as 02/28/2014 has 8) and ends in a group of 4 or more digits, or is written in
    pairs (01 23 45 67 89); part numbers such as Fender's 099-0818-300 do neither."""
    text = match.group()
    digits = re.sub(r"\D", "", text)
    if not (_PHONE_DIGITS[0] <= len(digits) <= _PHONE_DIGITS[1] and len(set(digits)) > 1):
        return False
    if text.startswith("0"):
        groups = re.findall(r"\d+", text)
        return len(digits) >= 9 and (len(groups[-1]) >= 4
                                     or all(len(group) == 2 for group in groups))
    return True


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
            if kind == "CARD" and not _is_card(match) or kind == "PHONE" and not _is_phone(match):
                return match.group()
            before = text[max(0, match.start() - 12):match.start()]
            if kind == "IP" and _VERSION_BEFORE.search(before):
                return match.group()  # "version 1.0.0.1", "v1.2.3.4": a version, not an address
            if kind in ("PHONE", "SSN", "CARD") and _PRODUCT_NUMBER_BEFORE.search(
                    text[max(0, match.start() - 40):match.start()]):
                return match.group()  # "serial 555-123-4567", "part # 555-12-3456"
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
