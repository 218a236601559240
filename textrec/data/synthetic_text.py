"""Vocabulary and sentence templates of the synthetic review world (see ``synthetic.py``).

The shop sells musical instruments and gear. Each :class:`Category` has item nouns, brands,
parts a reviewer comments on, activities that reveal what a player does ("I record vocals at
home") and wishes that name what they want next ("a decent condenser mic"). Each :class:`Aspect`
has phrases for item descriptions, praise, complaints and a user saying they care about it.

:func:`compose_review` builds one review from these pieces with a :class:`Picker`, so that
the same random stream always gives the same words.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Category:
    """One item category: how its items are named and how players talk about it."""

    name: str
    weight: float  # share of the catalogue and of purchases
    nouns: tuple  # (noun, short noun) pairs: ("overdrive pedal", "pedal")
    brands: tuple
    variants: tuple  # words that go into a model name
    parts: tuple  # what a reviewer comments on
    activities: tuple  # "I ..." clauses that reveal an interest in the category
    wants: tuple  # what a player wishes for next, with an article
    use: str  # the description's closing line
    strong: tuple  # aspects its items tend to be good at


@dataclasses.dataclass(frozen=True)
class Aspect:
    """A quality reviewers care about, with the phrases that talk about it."""

    name: str
    weight: float  # how many users care about it
    label: str
    strength: str  # description phrase
    praise: tuple
    complaints: tuple
    care: tuple  # the user says they care


CATEGORIES = (
    Category(
        "Electric Guitars", 0.09,
        (("electric guitar", "guitar"), ("solid-body electric guitar", "guitar"),
         ("semi-hollow electric guitar", "guitar"), ("strat-style guitar", "strat")),
        ("Harlow", "Vantage Sound", "Kestrel", "Oakridge"),
        ("Classic", "Custom", "Standard", "Vintage", "Player"),
        ("pickups", "neck", "fret ends", "tuners", "bridge", "volume knob"),
        ("I play lead guitar in a rock cover band", "I've been learning blues licks on electric",
         "I play electric guitar at church on Sundays", "I'm into metal and shred guitar"),
        ("a proper electric guitar", "a humbucker electric guitar", "a strat-style electric",
         "a solid-body electric for gigs"),
        "For players who play lead guitar in a rock cover band, learn blues licks, play at "
        "church or shred metal: a proper solid-body electric guitar with humbucker or "
        "strat-style tone for gigs.",
        ("sound", "looks")),
    Category(
        "Acoustic Guitars", 0.08,
        (("acoustic guitar", "guitar"), ("dreadnought acoustic guitar", "dreadnought"),
         ("parlor acoustic guitar", "guitar"), ("acoustic-electric guitar", "guitar")),
        ("Oakridge", "Meadowlark", "Harlow", "Sierra Folk"),
        ("Dreadnought", "Folk", "Studio", "Traveler", "Solid Top"),
        ("spruce top", "action", "tuning pegs", "saddle", "bracing", "finish"),
        ("I play acoustic guitar at coffeehouse gigs",
         "I strum acoustic songs around the campfire",
         "I've been learning fingerstyle acoustic guitar", "I write folk songs on acoustic"),
        ("a good acoustic guitar", "a solid-top acoustic", "a dreadnought acoustic",
         "a parlor acoustic for the couch"),
        "For coffeehouse gigs, strumming songs around the campfire, fingerstyle playing and "
        "writing folk songs: a solid-top acoustic guitar with a dreadnought or parlor voice, "
        "as good on the couch as on stage.",
        ("sound", "looks", "portability")),
    Category(
        "Amplifiers", 0.08,
        (("practice amp", "amp"), ("tube combo amp", "amp"), ("modeling amp", "amp"),
         ("bass amp", "amp")),
        ("Vantage Sound", "Bluecastle", "Ironside", "Harlow"),
        ("Practice", "Combo", "Tube", "Mini", "Studio"),
        ("speaker", "clean channel", "gain knob", "headphone out", "cabinet", "reverb"),
        ("I practice guitar through an amp every evening",
         "I need more volume for band rehearsals", "I'm chasing a classic tube amp tone",
         "I practice at low volume after the kids sleep"),
        ("a quiet practice amp", "a small tube amp", "a modeling amp", "a combo amp for gigs"),
        "For practice every evening at low volume, band rehearsals that need more volume and "
        "small gigs: a quiet practice amp, a modeling amp or a small tube combo amp with "
        "classic tone.",
        ("sound", "quiet", "build")),
    Category(
        "Effects Pedals", 0.12,
        (("overdrive pedal", "pedal"), ("delay pedal", "pedal"), ("fuzz pedal", "fuzz"),
         ("reverb pedal", "pedal"), ("looper pedal", "looper"), ("chorus pedal", "pedal")),
        ("Kestrel", "Bluecastle", "Fuzzwell", "Nightjar FX"),
        ("Drive", "Echo", "Fuzz", "Verb", "Loop", "Mod"),
        ("footswitch", "knobs", "true bypass", "enclosure", "LED", "input jack"),
        ("I've been building my first pedalboard", "I love experimenting with guitar effects",
         "I'm chasing ambient delay and reverb sounds", "I play shoegaze with lots of effects"),
        ("an overdrive pedal", "a delay pedal", "a looper pedal", "a fuzz pedal",
         "a reverb pedal for ambient sounds"),
        "For building a pedalboard and experimenting with guitar effects: overdrive, fuzz, "
        "delay, reverb and looper sounds, from blues to ambient and shoegaze.",
        ("sound", "build")),
    Category(
        "Guitar Strings", 0.14,
        (("set of electric guitar strings", "strings"),
         ("set of acoustic guitar strings", "strings"),
         ("pack of coated strings", "strings"), ("set of bass strings", "strings")),
        ("Ironwound", "Meadowlark", "Stringsmith", "Harlow"),
        ("Nickel", "Bronze", "Coated", "Light", "Regular"),
        ("winding", "ball ends", "coating", "packaging", "gauge"),
        ("I change my guitar strings every couple of weeks", "I play so much I go through strings",
         "I restring all my guitars before every gig", "I'm picky about how strings feel"),
        ("a fresh set of strings", "some coated strings", "phosphor bronze strings",
         "a pack of nickel wound strings"),
        "For players who restring often and go through strings fast: fresh coated, nickel "
        "wound or phosphor bronze strings that feel good and stay in tune.",
        ("sound", "value", "build")),
    Category(
        "Keyboards & Pianos", 0.08,
        (("digital piano", "piano"), ("MIDI keyboard controller", "keyboard"),
         ("61-key keyboard", "keyboard"), ("stage piano", "piano")),
        ("Keystone", "Allegro", "Bluecastle", "Polyphon"),
        ("Stage", "Studio", "Home", "Pro", "Go"),
        ("keys", "weighted action", "sustain pedal", "speakers", "pads", "display"),
        ("I've been taking piano lessons", "I play keys in a worship band",
         "I produce music with a MIDI keyboard", "I'm teaching myself piano"),
        ("a weighted-key digital piano", "a MIDI keyboard controller", "a 61-key keyboard",
         "a stage piano"),
        "For piano lessons, playing keys in a worship band and producing music: a digital "
        "piano with weighted keys, a MIDI keyboard controller or a stage piano.",
        ("ease", "sound", "portability")),
    Category(
        "Drums & Percussion", 0.08,
        (("electronic drum kit", "kit"), ("snare drum", "snare"), ("practice pad", "pad"),
         ("cajon", "cajon"), ("pair of drumsticks", "sticks")),
        ("Thunderhide", "Rimshot", "Polyphon", "Ironside"),
        ("Session", "Rock", "Jazz", "Practice", "Studio"),
        ("mesh heads", "cymbals", "hardware", "drum module", "shell", "snare wires"),
        ("I've played drums for years", "I practice drums in the garage",
         "I play percussion in a jazz trio", "I'm learning drum rudiments"),
        ("an electronic drum kit", "a new snare drum", "a practice pad", "a cajon"),
        "For drummers who practice drum rudiments in the garage and play percussion in a band "
        "or jazz trio: an electronic drum kit, a snare drum, a practice pad or a cajon.",
        ("quiet", "build", "sound")),
    Category(
        "Microphones", 0.09,
        (("condenser microphone", "mic"), ("dynamic vocal microphone", "mic"),
         ("USB microphone", "mic"), ("large-diaphragm condenser mic", "mic")),
        ("Vocalis", "Bluecastle", "Studiowerk", "Allegro"),
        ("Studio", "Vocal", "Podcast", "Stage", "Cast"),
        ("capsule", "pop filter", "shock mount", "grille", "cardioid pattern", "low cut"),
        ("I record vocals at home", "I host a weekly podcast", "I sing live vocals in a band",
         "I stream and need clear voice audio"),
        ("a decent condenser mic", "a dynamic vocal mic", "a USB mic for podcasts",
         "a mic for recording vocals"),
        "For singers and podcasters: record vocals at home, host a podcast, stream or sing "
        "live vocals with a condenser, dynamic or USB mic for clear voice audio.",
        ("sound", "quiet", "value")),
    Category(
        "Audio Interfaces", 0.07,
        (("USB audio interface", "interface"), ("two-channel audio interface", "interface"),
         ("recording interface", "interface")),
        ("Studiowerk", "Polyphon", "Keystone", "Vocalis"),
        ("Solo", "Duo", "Quad", "Studio", "Home"),
        ("preamps", "drivers", "latency", "phantom power", "gain knobs", "headphone output"),
        ("I'm building a home recording studio", "I record guitar and vocals into my laptop",
         "I'm learning to mix and produce in a DAW", "I record demos of my songs at home"),
        ("a two-channel audio interface", "a USB audio interface",
         "an interface with good preamps", "a recording interface for my laptop"),
        "For a home recording studio: record guitar, vocals and demos of your songs into your "
        "laptop and DAW through a USB audio interface with good preamps.",
        ("quiet", "ease", "sound")),
    Category(
        "Headphones & Monitors", 0.08,
        (("pair of closed-back studio headphones", "headphones"),
         ("pair of studio monitors", "monitors"),
         ("set of in-ear monitors", "in-ears"), ("pair of open-back headphones", "headphones")),
        ("Studiowerk", "Vocalis", "Allegro", "Clearwave"),
        ("Studio", "Reference", "Mix", "Monitor", "Pro"),
        ("ear pads", "headband", "cable", "drivers", "bass response", "isolation"),
        ("I mix tracks late at night", "I practice silently with headphones",
         "I need accurate monitoring for mixing", "I listen back to my recordings critically"),
        ("closed-back studio headphones", "a pair of studio monitors", "in-ear monitors",
         "headphones for late-night practice"),
        "For mixing tracks late at night, accurate monitoring and silent practice: closed-back "
        "studio headphones, studio monitors or in-ear monitors to listen back critically.",
        ("sound", "quiet", "portability")),
    Category(
        "Cables & Accessories", 0.19,
        (("instrument cable", "cable"), ("XLR cable", "cable"), ("guitar stand", "stand"),
         ("padded gig bag", "gig bag"), ("clip-on tuner", "tuner"), ("capo", "capo"),
         ("pedalboard power supply", "power supply"), ("guitar strap", "strap")),
        ("Ironside", "Stringsmith", "Gearloft", "Clearwave"),
        ("Pro", "Road", "Basic", "Flex", "Stage"),
        ("connectors", "jacks", "padding", "zipper", "clamp", "display", "stitching"),
        ("I gig every weekend and need reliable gear", "I'm always organizing my gear",
         "I haul a lot of gear to gigs", "I'm setting up a pedalboard and need the little things"),
        ("a pedalboard power supply", "good instrument cables", "a sturdy guitar stand",
         "a padded gig bag", "a clip-on tuner"),
        "For musicians who gig every weekend and haul gear: reliable instrument cables, a "
        "sturdy guitar stand, a padded gig bag, a clip-on tuner and a pedalboard power supply.",
        ("value", "build", "portability")),
)

ASPECTS = (
    Aspect("sound", 0.30, "Tone", "rich, detailed sound",
           ("The tone is {great}.", "Sounds {great} through my setup.",
            "Rich, full sound with plenty of character.", "Clear, warm tone right out of the box.",
            "Sound quality is {great} for the price."),
           ("The sound is thin and lifeless.", "Tone is harsh and fizzy no matter what I do.",
            "It sounds {bad}, honestly.", "The tone is muddy and dull."),
           ("Tone matters most to me.", "I'm picky about sound.")),
    Aspect("build", 0.20, "Build quality", "rugged, road-ready construction",
           ("Built like a tank.", "Build quality is {great}.", "Feels sturdy and well made.",
            "Solid construction, nothing rattles.", "It has survived plenty of gigs already."),
           ("Build quality is {bad}.", "Feels flimsy and cheap.",
            "Something came loose after two weeks.", "It broke after a month of light use."),
           ("I'm rough on gear, so durability is key.", "I need gear that survives the road.")),
    Aspect("value", 0.20, "Value", "an unbeatable price for the quality",
           ("{Great} value for the money.", "You get a lot for the price.",
            "For the price, you cannot beat it.", "Cheaper than the big names and just as good."),
           ("Way overpriced for what you get.", "Not worth the money.",
            "You can find better for less.", "Too expensive for this quality."),
           ("I'm on a tight budget.", "I hate overpaying for gear.")),
    Aspect("quiet", 0.10, "Low noise", "low-noise operation for quiet practice",
           ("It's quiet enough for late-night practice in my apartment.",
            "Very low noise, no hiss at all.", "My neighbors haven't complained once.",
            "Dead silent when idle, no hum."),
           ("Way too noisy for apartment practice.", "There's a constant hiss and hum.",
            "Too loud for home practice, my neighbors complained.",
            "It hums and buzzes and I can't get rid of it."),
           ("I live in an apartment with thin walls.",
            "I practice late at night, so noise matters.")),
    Aspect("portability", 0.07, "Portability", "a compact, lightweight design",
           ("Light and easy to carry to gigs.", "Compact enough to fit in my backpack.",
            "Small and portable, great for travel."),
           ("Heavier than expected, a pain to carry.", "Too bulky to take anywhere.",
            "Not portable at all."),
           ("I take the bus to rehearsals, so weight matters.", "I travel a lot with my gear.")),
    Aspect("ease", 0.08, "Easy to use", "beginner-friendly, plug-and-play setup",
           ("Super easy to set up, even for a beginner.", "Perfect for beginners.",
            "Plug and play, no fuss.", "Simple and intuitive controls."),
           ("Confusing to set up.", "The manual is useless and setup took hours.",
            "Not beginner friendly at all.", "The controls are fiddly and confusing."),
           ("I'm still a beginner.", "I want gear that just works.")),
    Aspect("looks", 0.05, "Looks", "a striking vintage finish",
           ("Looks gorgeous on stage.", "The finish is beautiful.",
            "It looks way more expensive than it is.", "Gets compliments every time I play out."),
           ("The finish arrived scratched.", "Looks cheap in person.",
            "The color is nothing like the photos."),
           ("I care how my gear looks on stage.", "Looks matter to me, I admit it.")),
)

GREAT = ("great", "excellent", "fantastic", "superb", "really good", "amazing", "top notch")
GOOD = ("good", "decent", "solid", "pretty good", "nice", "fine")
BAD = ("terrible", "awful", "poor", "disappointing", "cheap", "bad")

OPENERS = {  # by star rating
    5: ("I absolutely love {this} {short}!", "Best {noun} I have ever owned.",
        "Wow. {This} {short} exceeded every expectation.", "What {a_great} {noun}.",
        "I am thrilled with this {noun}.", "{This} {short} {is} a keeper.",
        "Couldn't be happier with {this} {brand} {short}.", "Hands down {a_great} {noun}.",
        "{This} {brand} {short} {is} everything I hoped for."),
    4: ("Really {good} {noun} for the money.", "I like {this} {short} a lot.",
        "Very happy with {this} {short} overall.", "{A_good} {noun} with one or two small quirks.",
        "Pretty happy with {this} {brand} {short}.", "Does what it should, and does it well.",
        "Nice {noun}, would buy again."),
    3: ("It's an okay {noun}, nothing special.", "Mixed feelings about {this} {short}.",
        "{This} {short} {is} just average.", "Not bad, not great, just {a_good} enough {noun}.",
        "I expected more from {brand} with {this} {short}.", "Middle of the road {noun}."),
    2: ("Disappointed with this {noun}.", "I wanted to like {this} {short}, but no.",
        "{This} {short} {is} not worth the money.", "{This} {short} {has} some real problems.",
        "Expected much better from {brand}."),
    1: ("Total junk, {this} {short}.", "Worst {noun} I have ever bought.",
        "Do not buy {this} {short}.", "{This} {short} broke within a week. Awful.",
        "Returned {this} {short} the same day.", "Complete waste of money on this {noun}."),
}
CONTEXTS = (
    "I bought it to replace my old {short}.", "Got this as a birthday present from my wife.",
    "Picked it up on sale.", "I've been playing for {years} years.",
    "Bought it for my son, who just started lessons.", "It arrived two days after I ordered it.",
    "I use it at home and at rehearsals.", "I compared a few {shorts} before choosing {this_one}.",
    "It came well packaged.", "This is my second {brand} purchase.",
    "I've had it for about {months} months now.", "A friend recommended {this} {short} to me.",
)
DETAILS_GOOD = (
    "Really {good} {part} on {this} {short}.", "No complaints about the {part}.",
    "Pleasantly surprised by the {part}.", "{Good} quality on the {part} too.",
    "The {part} on {this} {short} feel{s} {great}.",
)
DETAILS_BAD = (
    "Problems with the {part} right out of the box.", "Not impressed by the {part}.",
    "Had trouble with the {part} within a month.", "Cheap {part}, sadly.",
    "The {part} on {this} {short} feel{s} {bad}.",
)
ACTIVITIES = (
    "{Activity}.", "For context, {activity}.", "A bit about me: {activity}.",
    "{Activity}, so I know a thing or two about gear.", "{Activity}, and this fits right in.",
)
PLANS = (
    "Next I want {want}.", "{Activity}, so {want} is my next buy.",
    "Next on my list is {want}, since {activity}.", "Now I'm saving up for {want}, because "
    "{activity}.", "{Activity}, so I'm already eyeing {want}.",
    "My next purchase will be {want}; {activity}.", "Thinking about getting {want} next, "
    "since {activity}.", "{Activity}, so I need {want} next.",
    "Now I just need {want} to complete my setup.", "Still looking for {want}, any "
    "suggestions welcome? {Activity}.", "{Activity}, and I'm shopping for {want} now.",
    "{Activity}, so I hope to find {want} this good.",
)
MINOR_COMPLAINT = ("Only complaint: ", "One small gripe: ", "If I'm picky: ")
CLOSERS = {
    5: ("Highly recommended!", "Buy it, you won't regret it.", "Five stars.",
        "Would buy again in a heartbeat.", "Can't recommend it enough.", "Love it!"),
    4: ("Recommended.", "Would buy again.", "Four stars from me.", "Overall a good buy.",
        "Worth it."),
    3: ("It's fine for the price, I guess.", "Three stars.", "Might look elsewhere next time.",
        "It'll do for now."),
    2: ("I would not buy it again.", "Can't recommend it.", "Look elsewhere.",
        "Two stars, and that's generous."),
    1: ("Save your money.", "Avoid.", "Returning it.", "One star because zero isn't an option."),
}
SUMMARIES = {
    5: ("Five Stars", "Love it!", "Great {short}", "Excellent {noun}", "Best {short} ever",
        "Awesome", "{label} is amazing", "Worth every penny", "Highly recommend"),
    4: ("Four Stars", "Very good {short}", "Solid {short}", "Good value", "Pretty good",
        "Nice {short}"),
    3: ("Three Stars", "It's okay", "Average {short}", "Decent but not great", "Meh"),
    2: ("Two Stars", "Disappointed", "Not great", "Expected more", "Meh {short}"),
    1: ("One Star", "Junk", "Don't buy", "Broke fast", "Waste of money"),
}
UPDATES = ("UPDATE after {months} months:", "Edit:", "Follow-up a few weeks later:",
           "Another update:", "Long story short:", "Some more detail for anyone deciding:")
HAPPY_EMOJI = ("🎸", "🔥", "👍", "😍", "🥁", "🎤", "🎹", "💯", "🤘")
ANGRY_EMOJI = ("😡", "👎", "🙄")
URLS = ("http://www.youtube.com/watch?v={code}", "https://www.amazon.com/dp/{item}",
        "http://www.harmony-central.com/forums/t{digits}", "http://bit.ly/{code}")


STYLES = {  # the 2018 files' "style" field: (key, values) by category
    "Guitar Strings": ("Size:", ("Light", "Medium", "Extra Light", "3-Pack")),
    "Cables & Accessories": ("Length:", ("10 Feet", "20 Feet", "3 Feet", "6 Inch")),
    "Electric Guitars": ("Color:", ("Sunburst", "Black", "Olympic White")),
    "Headphones & Monitors": ("Style:", ("Single", "Pair")),
}


def reviewer_names(rng: np.random.Generator, users: list) -> dict:
    """A display name for each user: initials, a handle or "Amazon Customer"."""
    first = ("J.", "M.", "Mike", "Sarah", "D. R.", "Chris", "K.", "Tom", "Ana", "B.")
    last = ("Smith", "Johnson", "Lee", "Garcia", "Brown", "Miller", "Nguyen", "Wilson", "Davis")
    handles = ("GuitarGuy", "drummer", "KeysMan", "studio rat", "Music Lover", "bassplayer")
    names = {}
    for user, (a, b, c, d) in zip(users, rng.random((len(users), 4))):
        if a < 0.1:
            names[user] = "Amazon Customer"
        elif a < 0.35:
            names[user] = f"{handles[int(b * len(handles))]}{int(c * 99)}"
        else:
            names[user] = f"{first[int(b * len(first))]} {last[int(d * len(last))]}"
    return names


class Picker:
    """Cheap random choices from a NumPy Generator, read in blocks (deterministic per seed)."""

    def __init__(self, rng: np.random.Generator, block: int = 65_536):
        self._rng, self._block = rng, block
        self._buffer, self._next = rng.random(block), 0

    def random(self) -> float:
        if self._next == self._block:
            self._buffer, self._next = self._rng.random(self._block), 0
        self._next += 1
        return float(self._buffer[self._next - 1])

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def choice(self, options):
        return options[int(self.random() * len(options))]

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high)."""
        return low + int(self.random() * (high - low))

    def weighted(self, weights: np.ndarray) -> int:
        """An index drawn with probability proportional to ``weights`` (not all zero)."""
        cumulative = np.cumsum(weights)
        return int(np.searchsorted(cumulative, self.random() * cumulative[-1], side="right"))


def _fill(template: str, fields: dict) -> str:
    text = template.format(**fields)
    return text[0].upper() + text[1:]


def review_fields(pick: Picker, item: dict) -> dict:
    """The words a template may use for one review of ``item`` (a row of item facts)."""
    part, short = pick.choice(CATEGORIES[item["category_index"]].parts), item["short"]
    plural = short.endswith("s")  # "strings", "headphones"; the nouns are all singular
    great, good = pick.choice(GREAT), pick.choice(GOOD)
    return {"noun": item["noun"], "short": short, "brand": item["brand"], "part": part,
            "s": "" if part.endswith("s") and not part.endswith("ss") else "s",
            "this": "these" if plural else "this", "is": "are" if plural else "is",
            "has": "have" if plural else "has", "this_one": "these" if plural else "this one",
            "shorts": short if plural else short[:-1] + "ies" if short.endswith("y")
            else short + "s", "great": great, "good": good, "bad": pick.choice(BAD),
            "a_great": f"{_article(great)} {great}", "a_good": f"{_article(good)} {good}",
            "years": pick.integer(2, 31), "months": pick.integer(2, 13)}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _capitalised(fields: dict) -> dict:
    extra = {key.capitalize(): value[0].upper() + value[1:] for key, value in fields.items()
             if key in ("great", "good", "bad", "activity", "this", "a_good")}
    return {**fields, **extra}


def aspect_sentence(pick: Picker, aspect: int, positive: bool, fields: dict) -> str:
    phrases = ASPECTS[aspect].praise if positive else ASPECTS[aspect].complaints
    fresh = {"great": pick.choice(GREAT), "bad": pick.choice(BAD)}  # not the opener's word
    return _fill(pick.choice(phrases), _capitalised({**fields, **fresh}))


def activity_sentence(pick: Picker, category: int, fields: dict) -> str:
    """A sentence that says what the user plays or does (an interest in ``category``)."""
    activity = pick.choice(CATEGORIES[category].activities)
    return _fill(pick.choice(ACTIVITIES), _capitalised({**fields, "activity": activity}))


def plan_sentence(pick: Picker, category: int, fields: dict) -> str:
    """A sentence naming what the user wants to buy next (an item of ``category``)."""
    extra = {"activity": pick.choice(CATEGORIES[category].activities),
             "want": pick.choice(CATEGORIES[category].wants)}
    return _fill(pick.choice(PLANS), _capitalised({**fields, **extra}))


def compose_review(pick: Picker, rating: int, item: dict, user_aspects: list, taste: np.ndarray,
                   plan: int) -> str:
    """One review text: opener, context, aspects, a detail, interests and plans, closer.

    Sentiment follows ``rating``; aspect sentences talk about what the user cares about;
    ``taste`` (category weights) picks the interest a user mentions; ``plan`` is the category
    the user says they want next, or -1.
    """
    fields = _capitalised(review_fields(pick, item))
    sentences = [_fill(pick.choice(OPENERS[rating]), fields)]
    if pick.chance(0.35):
        sentences.append(_fill(pick.choice(CONTEXTS), fields))
    if pick.chance(0.25):
        sentences.append(pick.choice(ASPECTS[pick.choice(user_aspects)].care))
    mentioned = [a for a in user_aspects if pick.chance(0.7)] or [user_aspects[0]]
    for position, aspect in enumerate(mentioned):
        positive = rating >= 4 or (rating == 3 and position == 0)
        if rating == 4 and position > 0 and pick.chance(0.4):
            sentences.append(pick.choice(MINOR_COMPLAINT) + aspect_sentence(pick, aspect, False,
                                                                            fields).lower())
        else:
            sentences.append(aspect_sentence(pick, aspect, positive, fields))
    if rating >= 4 and pick.chance(0.4) and item["strong"][0] not in mentioned:
        sentences.append(aspect_sentence(pick, item["strong"][0], True, fields))
    if pick.chance(0.6):
        sentences.append(_fill(pick.choice(DETAILS_GOOD if rating >= 4 else DETAILS_BAD), fields))
    if pick.chance(0.3):
        sentences.append(activity_sentence(pick, pick.weighted(taste), fields))
    if plan >= 0:
        sentences.append(plan_sentence(pick, plan, fields))
    if pick.chance(0.7):
        sentences.append(pick.choice(CLOSERS[rating]))
    return " ".join(sentences)


def compose_summary(pick: Picker, rating: int, item: dict) -> str:
    """A short headline such as "Great pedal" or "Five Stars"."""
    label = ASPECTS[item["strong"][0]].label
    return pick.choice(SUMMARIES[rating]).format(short=item["short"], noun=item["noun"],
                                                 label=label)


def compose_description(item: dict) -> str:
    """An item description: what it is, the aspects it is strong at, who it is for."""
    category = CATEGORIES[item["category_index"]]
    strengths = " and ".join(ASPECTS[a].strength for a in item["strong"])
    noun = item["noun"]
    return (f"The {item['brand']} {item['model']} is {_article(noun)} {noun} with {strengths}. "
            f"{category.use} Features: {', '.join(category.parts[:3])}.")


def long_review(pick: Picker, rating: int, item: dict, user_aspects: list, taste: np.ndarray,
                min_words: int = 620) -> str:
    """A rambling review of more than ``min_words`` words, in paragraphs with updates."""
    paragraphs = [compose_review(pick, rating, item, user_aspects, taste, -1)]
    while sum(len(p.split()) for p in paragraphs) < min_words:
        fields = review_fields(pick, item)
        body = compose_review(pick, rating, item, user_aspects, taste, -1)
        paragraphs.append(pick.choice(UPDATES).format(**fields) + " " + body)
    return "\n\n".join(paragraphs)


def add_typos(pick: Picker, text: str) -> str:
    """Swap or drop letters in one to three words of four letters or more."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    for _ in range(min(len(candidates), 1 + pick.integer(0, 3))):
        i = pick.choice(candidates)
        word, at = words[i], pick.integer(1, len(words[i]) - 1)
        if pick.chance(0.5):
            words[i] = word[:at - 1] + word[at] + word[at - 1] + word[at + 1:]
        else:
            words[i] = word[:at] + word[at + 1:]
    return " ".join(words)


def add_html(pick: Picker, text: str) -> str:
    """Line breaks, an escaped ampersand or bold tags, as scraped review text has."""
    sentences = text.split(". ")
    if len(sentences) > 1:
        at = pick.integer(1, len(sentences))
        sentences[at] = "<br /><br />" + sentences[at]
    text = ". ".join(sentences).replace(" and ", " &amp; ", 1)
    if pick.chance(0.5):
        words = text.split(" ")
        at = pick.integer(0, len(words))
        words[at] = f"<b>{words[at]}</b>"
        text = " ".join(words)
    return text


def add_url(pick: Picker, text: str, item_id: str) -> str:
    code = "".join(pick.choice("abcdefghijkLMNOPQRS0123456789_") for _ in range(11))
    url = pick.choice(URLS).format(code=code, item=item_id, digits=pick.integer(10_000, 999_999))
    return text + pick.choice((" See {} for a demo.", " More here: {}", " ({})")).format(url)


def add_emoji(pick: Picker, text: str, rating: int) -> str:
    emoji = HAPPY_EMOJI if rating >= 3 else ANGRY_EMOJI
    return text + " " + "".join(pick.choice(emoji)
                                for _ in range(pick.integer(1, 4)))
