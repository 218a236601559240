"""The synthetic review world: the course's offline default data set.

A musical-instruments-and-gear shop with users, items and reviews that behave like the Amazon
Musical Instruments files, from one seed:

* items belong to categories (``synthetic_text.CATEGORIES``), have a brand, a title, a
  description naming the aspects they are strong at, a hidden quality and a long-tailed
  popularity;
* users have a taste over categories (concentrated on one to three), a few aspects they care
  about, a rating bias and a long-tailed number of reviews (at least 3; items get at least 3);
* a user buys items of the categories they like, preferring popular items strong at their
  aspects. Their reviews often say what they play and what they want next, and the next
  purchase usually is that wish: the text carries signal that the ids alone do not;
* ratings follow quality, aspect fit and the user's bias, skewed positive like Amazon's;
* noise at small, recorded rates (``SyntheticWorld.injected``): typos, HTML, URLs, emoji,
  empty and very long reviews, duplicate (user, item) rows and one review attached to several
  sibling items.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from textrec import config
from textrec.data import schema
from textrec.data import synthetic_text as vocab

FIRST_DAY = datetime.date(2010, 1, 1)
LAST_DAY = datetime.date(2014, 7, 23)
DAY = 86_400
RATING_SHARES = (0.022, 0.025, 0.075, 0.208, 0.670)  # 1-5 stars, as in Amazon's 2014 file
NOISE_RATES = {"empty": 0.004, "long": 0.003, "duplicates": 0.005, "multi_item": 0.004,
               "typos": 0.04, "html": 0.03, "urls": 0.01, "emoji": 0.015}
PLAN_SHARE = 0.65  # share of reviews that say what the user wants next
PLAN_FOLLOWED = 0.9  # chance that the next purchase is that wish
PLAN_NOVELTY = 4.0  # how much more a user wishes for a category they have not bought from
LAST_TWO_SAME_DAY = 0.4  # users whose last two reviews share a day
_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@dataclasses.dataclass
class SyntheticWorld:
    """A generated data set: reviews and items in the course's schema, plus the hidden truth.

    ``reviews`` has ``schema.REVIEW_COLUMNS``; ``items`` has ``schema.ITEM_COLUMNS``; ``users``
    has the user id, ``favourite_category``, ``taste`` (category -> weight), ``aspects`` and
    ``n_reviews``. ``item_facts`` holds each item's brand, noun, quality, popularity and
    strengths; ``injected`` counts the rows of each noise kind.
    """

    reviews: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    seed: int
    injected: dict = dataclasses.field(default_factory=dict)
    item_facts: pd.DataFrame | None = None

    def write_amazon_json(self, path, fmt: str = "2014") -> Path:
        """Write the reviews as Amazon JSON lines (gzipped when ``path`` ends in ``.gz``).

        ``fmt="2014"`` writes helpful ``[a, b]``; ``"2018"`` writes ``vote`` (a string, often
        absent), ``verified`` and, for some items, ``style``.
        """
        if fmt not in ("2014", "2018"):
            raise ValueError(f"fmt must be '2014' or '2018', not {fmt!r}.")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([self.seed, int(fmt)])
        reviews = self.reviews
        names = vocab.reviewer_names(rng, sorted(reviews[schema.USER].unique()))
        categories = dict(zip(self.items[schema.ITEM], self.items[schema.CATEGORY]))
        total = np.floor(rng.pareto(1.3, len(reviews)) * 2).astype(int)
        total[rng.random(len(reviews)) < 0.55] = 0
        helpful = rng.binomial(total, 0.8)
        draws = rng.random((len(reviews), 3))
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", encoding="utf-8") as out:
            for k, row in enumerate(reviews.itertuples(index=False)):
                user, item, rating, text, summary, timestamp = row[:6]
                day = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
                record = {"reviewerID": user, "asin": item, "reviewerName": names[user]}
                if fmt == "2014":
                    record["helpful"] = [int(helpful[k]), int(total[k])]
                elif total[k] >= 2 and draws[k, 0] < 0.6:
                    record["vote"] = str(total[k])
                if fmt == "2018":
                    record["verified"] = bool(draws[k, 1] < 0.85)
                record.update({"reviewText": text, "overall": float(rating), "summary": summary,
                               "unixReviewTime": int(timestamp),
                               "reviewTime": f"{day.month:02d} {day.day}, {day.year}"})
                style = vocab.STYLES.get(categories.get(item))
                if fmt == "2018" and style and draws[k, 2] < 0.5:
                    key, values = style
                    record["style"] = {key: " " + values[sum(map(ord, item)) % len(values)]}
                out.write(json.dumps(record) + "\n")
        return path


def _ids(rng: np.random.Generator, n: int, prefix: str, length: int) -> np.ndarray:
    """``n`` unique ids: ``prefix`` plus upper-case letters and digits, ``length`` in all."""
    ids = np.array([], dtype=object)
    while len(ids) < n:
        codes = rng.integers(0, len(_ALPHABET), (n - len(ids), length - len(prefix)))
        fresh = [prefix + "".join(row) for row in _ALPHABET[codes]]
        ids = pd.unique(np.concatenate([ids, np.array(fresh, dtype=object)]))
    return np.asarray(ids, dtype=object)


def _title_case(words: str) -> str:
    for prefix in ("set of ", "pair of ", "pack of "):
        words = words.removeprefix(prefix)
    return " ".join(w[0].upper() + w[1:] for w in words.split())


def _make_items(rng: np.random.Generator, n_items: int):
    """Item facts (a frame, one row per item) and their aspect strengths (items x aspects)."""
    weights = np.array([c.weight for c in vocab.CATEGORIES])
    n_categories, n_aspects = len(weights), len(vocab.ASPECTS)
    counts = 2 + rng.multinomial(n_items - 2 * n_categories, weights / weights.sum())
    category = np.repeat(np.arange(n_categories), counts)
    strengths = rng.uniform(0.0, 0.6, (n_items, n_aspects))
    for c, cat in enumerate(vocab.CATEGORIES):
        for a in (i for i, aspect in enumerate(vocab.ASPECTS) if aspect.name in cat.strong):
            rows = (category == c) & (rng.random(n_items) < 0.6)
            strengths[rows, a] += 0.5
    pick, rows, titles = vocab.Picker(rng), [], set()
    for c, strong in zip(category, np.argsort(-strengths, axis=1)[:, :2]):
        cat = vocab.CATEGORIES[c]
        noun, short = pick.choice(cat.nouns)
        brand = cat.brands[pick.weighted(np.array([0.4, 0.3, 0.2, 0.1]))]
        letters = "".join(pick.choice("ABCDEFGHJKLMNPRSTVXZ") for _ in range(pick.integer(1, 3)))
        model = f"{letters}{pick.choice(('-', '', ' '))}{pick.integer(1, 1000)}"
        if pick.chance(0.5):
            model = f"{pick.choice(cat.variants)} {model}"
        title = f"{brand} {model} {_title_case(noun)}"
        while title in titles:
            model, title = model + " II", f"{brand} {model} II {_title_case(noun)}"
        titles.add(title)
        rows.append({"category_index": int(c), "brand": brand, "noun": noun, "short": short,
                     "model": model, "strong": tuple(int(a) for a in strong),
                     schema.TITLE: title, schema.CATEGORY: cat.name})
    facts = pd.DataFrame(rows)
    facts.insert(0, schema.ITEM, _ids(rng, n_items, "B00", 10))
    facts[schema.DESCRIPTION] = [vocab.compose_description(r) for r in rows]
    facts["quality"] = rng.normal(0.0, 1.0, n_items)
    facts["popularity"] = rng.lognormal(0.0, 1.0, n_items)
    return facts, strengths


def _make_users(rng: np.random.Generator, n_users: int, n_reviews: int, n_items: int):
    """Taste (users x categories), aspect lists, rating bias and review counts of each user."""
    weights = np.array([c.weight for c in vocab.CATEGORIES])
    background = weights / weights.sum()
    aspect_weights = np.array([a.weight for a in vocab.ASPECTS])
    taste = np.zeros((n_users, len(weights)))
    aspects = []
    for u in range(n_users):
        k = 1 + int(rng.choice(3, p=[0.3, 0.45, 0.25]))
        liked = rng.choice(len(weights), k, replace=False, p=np.sqrt(background) /
                           np.sqrt(background).sum())
        taste[u, liked] = rng.dirichlet(np.full(k, 1.5))
        n_care = 2 + int(rng.random() < 0.4)
        aspects.append(sorted(rng.choice(len(aspect_weights), n_care, replace=False,
                                         p=aspect_weights / aspect_weights.sum()).tolist()))
    taste = 0.92 * taste + 0.08 * background
    bias = rng.normal(0.0, 0.5, n_users)
    extra = rng.pareto(1.3, n_users)
    cap, target = max(0, min(n_items // 3, 250) - 3), max(n_reviews - 3 * n_users, 0)
    scale = target / max(extra.sum(), 1e-9)
    for _ in range(8):
        scale *= target / max(np.minimum(extra * scale, cap).sum(), 1e-9)
    counts = 3 + np.floor(np.minimum(extra * scale, cap) + rng.random(n_users)).astype(int)
    return taste, aspects, bias, np.minimum(counts, 3 + cap)


def _purchase_sequences(pick, taste, affinity, items_by_category, counts):
    """Each user's purchases in time order, as lists of [item, planned category or -1].

    A purchase's category follows the wish stated in the previous review (when there was one
    and it is followed), else the user's taste; the item is drawn by ``affinity``.
    """
    n_categories = taste.shape[1]
    sizes = np.array([len(idx) for idx in items_by_category])
    sequences = []
    for u, n in enumerate(counts):
        available = affinity[u].copy()
        bought = np.zeros(n_categories)
        plan, sequence = -1, []
        for _ in range(n):
            category = plan if plan >= 0 and pick.chance(PLAN_FOLLOWED) else -1
            left = bought < sizes
            if category < 0 or not left[category]:
                category = pick.weighted(taste[u] * left)
            idx = items_by_category[category]
            item = int(idx[pick.weighted(available[idx])])
            available[item] = 0.0
            bought[category] += 1
            plan = -1
            if pick.chance(PLAN_SHARE):
                plan = pick.weighted(taste[u] * np.where(bought == 0, PLAN_NOVELTY, 1.0))
            sequence.append([item, plan])
        sequences.append(sequence)
    return sequences


def _cover_items(rng, sequences, taste, category, minimum=3):
    """Give every item ``minimum`` reviews: users who like its category bought it first."""
    counts = np.zeros(len(category), dtype=int)
    owners = [set() for _ in category]
    for u, sequence in enumerate(sequences):
        for item, _ in sequence:
            counts[item] += 1
            owners[item].add(u)
    for item in np.flatnonzero(counts < minimum):
        weights = taste[:, category[item]].copy()
        weights[sorted(owners[item])] = 0.0
        for u in rng.choice(len(weights), minimum - counts[item], replace=False,
                            p=weights / weights.sum()):
            sequences[u].insert(0, [int(item), -1])


def _days(rng: np.random.Generator, counts: np.ndarray) -> list:
    """Each user's review days (offsets from FIRST_DAY), non-decreasing, with same-day ties."""
    total = (LAST_DAY - FIRST_DAY).days
    spans = np.minimum(np.exp(rng.uniform(np.log(30), np.log(1500), len(counts))), total)
    starts = rng.uniform(0, total - spans)
    days = []
    for n, start, span in zip(counts, starts, spans):
        offsets = np.sort(np.floor(start + rng.uniform(0, span, n)).astype(int))
        ties = rng.random(n) < 0.12
        ties[-1] = rng.random() < LAST_TWO_SAME_DAY
        for t in range(1, n):
            if ties[t]:
                offsets[t] = offsets[t - 1]
        days.append(offsets)
    return days


def _ratings(rng: np.random.Generator, latent: np.ndarray) -> np.ndarray:
    """Stars 1-5 from a latent score, cut at the quantiles of ``RATING_SHARES``."""
    rank = np.argsort(np.argsort(latent, kind="stable"), kind="stable") / len(latent)
    return 1.0 + np.searchsorted(np.cumsum(RATING_SHARES)[:-1], rank, side="right")


def generate_world(n_users: int | None = None, n_items: int | None = None,
                   n_reviews: int | None = None, seed: int = config.SEED,
                   profile: str | None = None) -> SyntheticWorld:
    """Generate the synthetic review world; sizes default to the profile's.

    ``n_reviews`` is a target: the count lands within about 10% of it, because every item
    gets at least three reviews and noise adds a few rows.
    """
    if n_users is None or n_items is None or n_reviews is None:
        sizes = config.get_profile(profile)
        n_users = sizes.synthetic_users if n_users is None else n_users
        n_items = sizes.synthetic_items if n_items is None else n_items
        n_reviews = sizes.synthetic_reviews if n_reviews is None else n_reviews
    if n_items < 2 * len(vocab.CATEGORIES) or n_users < 10:
        raise ValueError(f"need at least {2 * len(vocab.CATEGORIES)} items and 10 users, "
                         f"got {n_items} items and {n_users} users.")
    if n_reviews < 3 * max(n_users, n_items):
        raise ValueError(f"n_reviews={n_reviews} is too small: every user and item needs 3 "
                         f"reviews, so use at least {3 * max(n_users, n_items)}.")
    rng = np.random.default_rng(seed)
    pick = vocab.Picker(rng)
    facts, strengths = _make_items(rng, n_items)
    taste, aspects, bias, counts = _make_users(rng, n_users, n_reviews, n_items)
    masks = np.zeros((n_users, len(vocab.ASPECTS)))
    for u, chosen in enumerate(aspects):
        masks[u, chosen] = 1.0 / len(chosen)
    fit = masks @ strengths.T  # users x items: how strong each item is at what a user wants
    category = facts["category_index"].to_numpy()
    by_category = [np.flatnonzero(category == c) for c in range(len(vocab.CATEGORIES))]
    affinity = facts["popularity"].to_numpy()[None, :] * np.exp(2.5 * fit)
    sequences = _purchase_sequences(pick, taste, affinity, by_category, counts)
    _cover_items(rng, sequences, taste, category)
    rows = pd.DataFrame([(u, t, item, plan) for u, sequence in enumerate(sequences)
                         for t, (item, plan) in enumerate(sequence)],
                        columns=["user", "seq", "item", "plan"])
    user, item = rows["user"].to_numpy(), rows["item"].to_numpy()
    latent = (facts["quality"].to_numpy()[item] + 1.5 * (fit[user, item] - fit.mean())
              + bias[user] + rng.normal(0.0, 0.8, len(rows)))
    rows["rating"] = _ratings(rng, latent)
    rows["day"] = np.concatenate(_days(rng, np.array([len(s) for s in sequences])))
    item_records = facts.to_dict("records")
    texts, summaries, seen = [], [], set()
    for u, i, rating, plan in zip(user, item, rows["rating"].astype(int), rows["plan"]):
        text = vocab.compose_review(pick, rating, item_records[i], aspects[u], taste[u], plan)
        while (u, text) in seen:  # no user repeats a text, except for the injected copies
            text = vocab.compose_review(pick, rating, item_records[i], aspects[u], taste[u], plan)
        seen.add((u, text))
        texts.append(text)
        summaries.append(vocab.compose_summary(pick, rating, item_records[i]))
    rows["text"], rows["summary"] = texts, summaries
    rows, injected = _inject_noise(rng, pick, rows, facts, aspects, taste)
    return _assemble(rng, rows, facts, taste, aspects, seed, injected)


def _inject_noise(rng, pick, rows: pd.DataFrame, facts: pd.DataFrame, aspects, taste):
    """Add the noise kinds of ``NOISE_RATES`` to disjoint rows; return rows and counts."""
    n = len(rows)
    per_user = rows.groupby("user")["user"].transform("size").to_numpy()
    last_day = (LAST_DAY - FIRST_DAY).days
    pool = [int(r) for r in rng.permutation(n)]
    used = np.zeros(n, dtype=bool)
    reviewed = set(zip(rows["user"], rows["item"]))
    records = facts.to_dict("records")
    text, day = rows["text"].to_numpy(copy=True), rows["day"].to_numpy()
    extra, injected = [], {}
    for kind, rate in NOISE_RATES.items():
        wanted, done = max(1, round(rate * n)), 0
        for r in pool:
            if done >= wanted:
                break
            if used[r] or (kind == "empty" and per_user[r] < 4):
                continue
            u, i, rating = (int(v) for v in rows.loc[r, ["user", "item", "rating"]])
            if kind == "duplicates":
                if day[r] >= last_day:
                    continue
                later = min(last_day, day[r] + 1 + int(rng.integers(0, 60)))
                extra.append({**rows.loc[r].to_dict(), "text": text[r], "day": later})
            elif kind == "multi_item":
                siblings = _siblings(facts, records[i], u, i, reviewed)
                if not siblings:
                    continue
                for sibling in rng.permutation(siblings)[: 1 + int(rng.integers(0, 2))]:
                    reviewed.add((u, int(sibling)))
                    extra.append({**rows.loc[r].to_dict(), "text": text[r], "item": int(sibling)})
                    done += 1
                used[r] = True
                continue
            elif kind == "empty":
                text[r] = ""
            elif kind == "long":
                text[r] = vocab.long_review(pick, rating, records[i], aspects[u], taste[u])
            elif kind == "typos":
                text[r] = vocab.add_typos(pick, text[r])
            elif kind == "html":
                text[r] = vocab.add_html(pick, text[r])
            elif kind == "urls":
                text[r] = vocab.add_url(pick, text[r], records[i][schema.ITEM])
            else:
                text[r] = vocab.add_emoji(pick, text[r], rating)
            used[r] = True
            done += 1
        injected[kind] = done
    rows = rows.assign(text=text)
    extra = pd.DataFrame(extra, columns=rows.columns)
    return pd.concat([rows, extra], ignore_index=True), injected


def _siblings(facts: pd.DataFrame, record: dict, user: int, item: int, reviewed: set) -> list:
    """Items of the same brand and category (else category) that ``user`` has not reviewed."""
    same = facts["category_index"].to_numpy() == record["category_index"]
    brand = same & (facts["brand"].to_numpy() == record["brand"])
    for mask in (brand, same):
        found = [int(j) for j in np.flatnonzero(mask) if j != item and (user, j) not in reviewed]
        if found:
            return found
    return []


def _assemble(rng, rows, facts, taste, aspects, seed, injected) -> SyntheticWorld:
    """Order rows mostly by time (a few out of place, like a real file) and build the frames."""
    sort_day = rows["day"].to_numpy() + np.where(rng.random(len(rows)) < 0.03,
                                                 rng.integers(-3, 4, len(rows)), 0)
    groups, n_groups = pd.factorize(rows["user"].astype(str) + ":" + rows["day"].astype(str))
    group_key = rng.random(len(n_groups))[groups]
    rows = rows.iloc[np.lexsort((rows["seq"].to_numpy(), group_key, sort_day))]
    item_ids, user_ids = facts[schema.ITEM].to_numpy(), _ids(rng, len(taste), "A", 14)
    start = int(datetime.datetime.combine(FIRST_DAY, datetime.time(),
                                          datetime.timezone.utc).timestamp())
    reviews = pd.DataFrame({
        schema.USER: user_ids[rows["user"].to_numpy()],
        schema.ITEM: item_ids[rows["item"].to_numpy()],
        schema.RATING: rows["rating"].to_numpy(dtype=float),
        schema.TEXT: rows["text"].to_numpy(dtype=object),
        schema.SUMMARY: rows["summary"].to_numpy(dtype=object),
        schema.TIMESTAMP: start + rows["day"].to_numpy(dtype=np.int64) * DAY,
        schema.ORDER: np.arange(len(rows), dtype=np.int64)})
    names = [c.name for c in vocab.CATEGORIES]
    n_reviews = reviews[schema.USER].value_counts()
    users = pd.DataFrame({
        schema.USER: user_ids,
        "favourite_category": [names[c] for c in taste.argmax(axis=1)],
        "taste": [{name: round(float(w), 4) for name, w in zip(names, row)} for row in taste],
        "aspects": [[vocab.ASPECTS[a].name for a in chosen] for chosen in aspects],
        "n_reviews": n_reviews.reindex(user_ids).to_numpy(dtype=np.int64)})
    items = facts[list(schema.ITEM_COLUMNS)].sort_values(schema.ITEM, ignore_index=True)
    item_facts = facts[[schema.ITEM, "brand", "noun", "quality", "popularity"]].assign(
        strengths=[[vocab.ASPECTS[a].name for a in s] for s in facts["strong"]])
    return SyntheticWorld(reviews, items, users, seed, injected,
                          item_facts.sort_values(schema.ITEM, ignore_index=True))
