"""Text augmentation for a small labelled set: EDA (Wei & Zou, 2019), offline.

"EDA: Easy Data Augmentation Techniques for Boosting Performance on Text Classification"
makes new training texts with four cheap edits; three are here:

* **synonym**: replace a few words with a synonym;
* **deletion**: drop each word with a small probability (at least one word is kept);
* **swap**: swap the positions of two words, a few times.

(EDA's fourth edit, random insertion, is synonym replacement's cousin and adds little.)

EDA takes synonyms from WordNet, which would have to be downloaded (``nltk.download``); this
course runs offline, so synonyms come from :data:`REVIEW_SYNONYMS`, a small built-in lexicon of
product-review vocabulary. Its synonyms keep the *polarity* of the word ("great" never becomes
"okay"), and negations ("not", "never") are never touched, so a text keeps its label.

**Back-translation** (translate a review into another language and back, e.g. English ->
German -> English) paraphrases far better than word edits, but it needs two translation models
(e.g. MarianMT ``Helsinki-NLP/opus-mt-en-de`` and ``opus-mt-de-en``), which cannot be
downloaded here. With them, it is one ``generate`` call per direction over the texts.

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import re

import numpy as np

from textrec import config

METHODS = ("synonym", "deletion", "swap")

# Each group holds words that can stand in for one another in a review without changing its
# sentiment. Multi-word phrases are left out: the edits work on single words.
_SYNONYM_GROUPS = (
    ("great", "excellent", "superb", "terrific", "fantastic", "wonderful"),
    ("good", "nice", "solid", "decent", "fine"),
    ("love", "adore", "enjoy"),
    ("loves", "adores", "enjoys"),
    ("happy", "pleased", "satisfied", "delighted"),
    ("recommend", "endorse"),
    ("perfect", "ideal", "flawless"),
    ("sturdy", "solid", "durable", "robust"),
    ("easy", "simple", "effortless"),
    ("clear", "crisp", "clean"),
    ("beautiful", "gorgeous", "lovely"),
    ("bad", "poor", "lousy", "awful"),
    ("terrible", "horrible", "dreadful", "awful"),
    ("broke", "snapped", "failed"),
    ("broken", "defective", "faulty"),
    ("flimsy", "fragile", "weak"),
    ("disappointed", "dissatisfied", "unhappy"),
    ("disappointing", "underwhelming", "unsatisfying"),
    ("noisy", "buzzy", "hissy"),
    ("cheap", "inexpensive", "budget"),
    ("expensive", "pricey", "costly"),
    ("price", "cost"),
    ("product", "item"),
    ("bought", "purchased"),
    ("buy", "purchase"),
    ("sound", "tone"),
    ("quality", "craftsmanship", "workmanship"),
    ("works", "functions", "performs"),
    ("guitar", "instrument"),
    ("really", "truly", "very"),
    ("amazing", "incredible", "awesome", "stunning"),
    ("useless", "worthless", "pointless"),
)
REVIEW_SYNONYMS: dict[str, tuple[str, ...]] = {}
for _group in _SYNONYM_GROUPS:
    for _word in _group:
        others = tuple(word for word in _group if word != _word)
        REVIEW_SYNONYMS[_word] = tuple(dict.fromkeys(REVIEW_SYNONYMS.get(_word, ()) + others))

# Never replaced, deleted or moved: they carry the polarity of what follows.
PROTECTED = frozenset(
    {"not", "no", "never", "nothing", "nor", "don't", "doesn't", "didn't", "isn't", "wasn't",
     "won't", "can't", "couldn't", "wouldn't", "shouldn't", "aren't", "without", "but"}
)
_CORE = re.compile(r"^(\W*)([\w'-]+?)(\W*)$")


def _core(word: str) -> tuple[str, str, str]:
    """Split ``word`` into (leading punctuation, the word, trailing punctuation)."""
    match = _CORE.match(word)
    return match.groups() if match else ("", word, "")


def _protected(word: str) -> bool:
    return _core(word)[1].lower() in PROTECTED


def synonym_replacement(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Replace up to ``n`` lexicon words with a random synonym, keeping case and punctuation."""
    words = list(words)
    candidates = [i for i, word in enumerate(words) if _core(word)[1].lower() in REVIEW_SYNONYMS]
    for i in rng.permutation(candidates)[:n]:
        lead, core, trail = _core(words[i])
        synonym = str(rng.choice(REVIEW_SYNONYMS[core.lower()]))
        if core[:1].isupper():
            synonym = synonym[:1].upper() + synonym[1:]
        words[i] = f"{lead}{synonym}{trail}"
    return words


def random_deletion(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    """Drop each (unprotected) word with probability ``p``; never returns an empty list."""
    if len(words) <= 1:
        return list(words)
    kept = [w for w in words if _protected(w) or rng.random() >= p]
    return kept or [words[int(rng.integers(len(words)))]]


def random_swap(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Swap two random (unprotected) words, ``n`` times."""
    words = list(words)
    movable = [i for i, word in enumerate(words) if not _protected(word)]
    if len(movable) < 2:
        return words
    for _ in range(n):
        i, j = rng.choice(movable, size=2, replace=False)
        words[i], words[j] = words[j], words[i]
    return words


def augment_text(text: str, rng: np.random.Generator, methods=METHODS, alpha: float = 0.1) -> str:
    """One augmented copy of ``text``: one of ``methods``, chosen at random, edits about
    ``alpha`` of its words (at least one). When that edit changes nothing (no lexicon word, a
    single word), the other methods are tried in turn; a text no method can change comes back
    unchanged. A non-empty text never becomes empty."""
    words = text.split()
    if not words:
        return text
    n = max(1, int(round(alpha * len(words))))
    first = int(rng.integers(len(methods)))
    for method in methods[first:] + methods[:first]:
        if method == "synonym":
            edited = synonym_replacement(words, n, rng)
        elif method == "deletion":
            edited = random_deletion(words, alpha, rng)
        else:
            edited = random_swap(words, n, rng)
        if edited != words:
            return " ".join(edited)
    return text


def augment_texts(texts, labels, n_per_text: int = 1, seed: int = config.SEED,
                  methods=METHODS, alpha: float = 0.1) -> tuple[list[str], np.ndarray]:
    """``n_per_text`` augmented copies of each text, with the label of the text it came from.

    Returns only the new examples (``n_per_text * len(texts)`` of them, copies of text 0
    first); add the originals yourself. The same ``seed`` gives the same copies.
    """
    texts, labels = list(texts), np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if n_per_text < 0:
        raise ValueError(f"n_per_text must be >= 0, got {n_per_text}")
    methods = tuple(methods)
    unknown = set(methods) - set(METHODS)
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods}")
    rng = np.random.default_rng(seed)
    new_texts = [augment_text(text, rng, methods, alpha)
                 for text in texts for _ in range(n_per_text)]
    return new_texts, np.repeat(labels, n_per_text)
