"""Key phrases and aspects: what a review (or a user) talks about, read with the encoder.

KeyBERT's idea (Grootendorst, 2020), in a few lines and no new dependency:

1. candidates: the word n-grams of the text (1 to ``max_words`` words, inside one clause) that
   neither start nor end with a stop word or a generic review word ("really", "great");
2. embed the text and every candidate with the same encoder;
3. rank candidates by cosine similarity to the text's vector; optionally trade some similarity
   for diversity (maximal marginal relevance) so the top phrases are not five variants of one.

A fixed vocabulary works the same way: :func:`aspect_scores` ranks a list of aspects such as
"sound quality" or "price and value" against any vectors (a review, a user's interest vector).
"""

from __future__ import annotations

import re

import numpy as np

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
# Words that say little about what a user cares about: they may sit inside a phrase
# ("price for the money") but do not start or end one.
REVIEW_FILLER = frozenset("""
really very just quite pretty also still even much lot lots bit little thing things stuff way
great good nice fine excellent amazing awesome fantastic superb decent solid best better love
loved like liked happy thrilled bought buy buying got get getting use used using product item
recommend recommended highly star stars five four three two one time times day days week weeks
month months year years don't didn't doesn't isn't it's i'm i've i'd can't won't wasn't
want wants need needs feel feels plenty right overall pleasantly surprised complaints
""".split())
DEFAULT_ASPECTS = (
    "sound quality and tone", "build quality and durability", "price and value for money",
    "low noise for quiet practice", "portability and weight", "easy to set up for beginners",
    "looks and finish", "comfort and feel", "shipping and packaging", "customer service",
)


def _stop_words() -> frozenset:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | REVIEW_FILLER


def candidate_phrases(text: str, max_words: int = 3, min_chars: int = 3) -> list[str]:
    """Lower-case n-grams (1 to ``max_words`` words) of ``text``, each a substring of
    ``text.lower()``, in order of first appearance, without duplicates.

    Words are adjacent only when separated by whitespace (punctuation ends a phrase); a phrase
    neither starts nor ends with a stop word or a word of :data:`REVIEW_FILLER`.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")
    stop = _stop_words()
    lowered = text.lower()
    matches = list(_WORD.finditer(lowered))
    runs, run = [], []
    for match in matches:
        if run and not lowered[run[-1].end():match.start()].isspace():
            runs.append(run)
            run = []
        run.append(match)
    runs.append(run)
    seen, phrases = set(), []
    for run in runs:
        for start in range(len(run)):
            for stop_at in range(start, min(start + max_words, len(run))):
                first, last = run[start].group(), run[stop_at].group()
                if first in stop or last in stop:
                    continue
                phrase = lowered[run[start].start():run[stop_at].end()]
                if len(phrase) >= min_chars and phrase not in seen:
                    seen.add(phrase)
                    phrases.append(phrase)
    return phrases


def rank_phrases(target: np.ndarray, phrases: list[str], phrase_vectors: np.ndarray,
                 top_n: int = 5, diversity: float = 0.0) -> list[tuple[str, float]]:
    """The ``top_n`` phrases closest to ``target`` (a unit vector [dim]), best first, as
    (phrase, cosine similarity) pairs.

    ``diversity`` in [0, 1]: 0 ranks by similarity alone; above 0 each next phrase maximises
    ``(1 - diversity) * sim(phrase, target) - diversity * max sim(phrase, chosen phrases)``.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be in [0, 1], got {diversity}")
    if not phrases:
        return []
    phrase_vectors = np.asarray(phrase_vectors, np.float32)
    similarity = phrase_vectors @ np.asarray(target, np.float32)
    if diversity == 0.0:
        order = np.argsort(-similarity, kind="stable")[:top_n]
        return [(phrases[i], float(similarity[i])) for i in order]
    chosen = [int(np.argmax(similarity))]
    while len(chosen) < min(top_n, len(phrases)):
        redundancy = (phrase_vectors @ phrase_vectors[chosen].T).max(axis=1)
        score = (1 - diversity) * similarity - diversity * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [(phrases[i], float(similarity[i])) for i in chosen]


def key_phrases(texts, embedder, top_n: int = 5, max_words: int = 3, diversity: float = 0.3,
                text_vectors: np.ndarray | None = None) -> list[list[tuple[str, float]]]:
    """Key phrases of each text: for each, up to ``top_n`` (phrase, similarity) pairs.

    All candidates of all texts are embedded in one call (and cached), so give this a few
    hundred reviews, not a whole catalogue. ``text_vectors`` [n, dim] may be given when the
    texts were embedded already.
    """
    texts = list(texts)
    candidates = [candidate_phrases(text, max_words) for text in texts]
    unique = sorted({phrase for phrases in candidates for phrase in phrases})
    if text_vectors is None:
        text_vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dim))
    vectors = embedder.embed(unique) if unique else np.zeros((0, embedder.dim), np.float32)
    row = {phrase: i for i, phrase in enumerate(unique)}
    return [rank_phrases(target, phrases, vectors[[row[p] for p in phrases]], top_n, diversity)
            if phrases and np.any(target) else []
            for target, phrases in zip(text_vectors, candidates)]


def aspect_scores(vectors: np.ndarray, embedder, aspects=DEFAULT_ASPECTS, relative: bool = False):
    """Cosine similarity of each row of ``vectors`` [n, dim] to each aspect phrase: a
    DataFrame [n, number of aspects].

    Raw cosines favour whatever the whole domain talks about (every instrument review is about
    sound). With ``relative=True`` each column's mean over the rows is subtracted, so a row's
    largest value is the aspect that stands out for it compared with the others.
    """
    import pandas as pd

    aspect_vectors = embedder.embed(list(aspects))
    scores = np.asarray(vectors, np.float32) @ aspect_vectors.T
    if relative:
        scores = scores - scores.mean(axis=0, keepdims=True)
    return pd.DataFrame(scores, columns=list(aspects))
