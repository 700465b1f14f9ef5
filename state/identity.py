"""Agreement identity: is this row the agreement we already know, re-spelled?

An agreement is one MOA: an agency, a 287(g) model and a signing date. ICE
re-spells agency names (``FREEDOM`` for ``FREEBORN``), fixes states (``TEXAS``
to ``KANSAS``) and models, and reorders words, all in place. So after exact
key matches, the rows and records left over on each side are paired by
evidence, each point of which is cheap to check and hard to fake by chance:

=========================  =======
evidence                   points
=========================  =======
same MOA document address  +2
same SIGNED date           +2   (both known and different: -2, unless same MOA)
same state / other state   +1 / -2
same model / other model   +1 / -2
same county                +1
name: same key             +3
name: near (see below)     +2 / +1, not near: -1, far: -4
=========================  =======

A pair needs MATCH_POINTS. A far name all but vetoes a pair: ICE copies MOA
links and dates between neighbouring rows, so a shared address or date alone
does not make two agencies one. A name that is not near costs a point: ICE
signs agreements in batches, so a state, a model and a signing date are
shared by many agencies, and a row gone and a row new with only those in
common are a termination and a signing, not a rename. Names are compared on their distinctive words
(``LAKE`` in Lake County Sheriff's Office), so ``Lake`` and ``Lee`` county
offices stay apart while ``Lake Clark Shores`` and ``Lake Clarke Shores``
pair up.

Two names that differ in a *distinguishing token* (DISTINGUISHING_TOKENS: a
number, a kind of agency, a level of government) name two agencies however
alike the rest is, so the name is not near. Only the agreement's own
evidence can still pair them: its signing date or MOA document, with its
state, model and county. A pending list carries neither, so there a token
difference always keeps the rows apart.

Pairing must not grow with history or list size. Records that are settled
(an application already signed, a duplicate listing merged away) are
matchable by exact evidence only: the same agency key or MOA address. Every
other pair is a candidate only if it shares a blocking key (state and model
plus the signing date, the county, or the first or last three letters of a
distinctive word), and a pair whose best possible score cannot reach
MATCH_POINTS is never scored by name. docs/identity.md shows what these rules
did on the 2025 lists.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import lru_cache
from typing import Iterable, Protocol, Sequence

from watch287g.core.normalize import GENERIC_WORDS, distinctive_key

MATCH_POINTS = 4
SAME_KEY, NEAR, LOOSELY_NEAR, NOT_NEAR, FAR = 3, 2, 1, -1, -4
_NEAR_MIN, _NEAR_WHOLE_MIN, _LOOSE_MIN, _FAR_BELOW = 0.85, 0.7, 0.6, 0.4

# The one table of distinguishing tokens, applied to every name comparison on
# both lists (agency keys are upper case with abbreviations already folded:
# PD is POLICE DEPARTMENT, TWP is TOWNSHIP, SHERIFF'S is SHERIFFS). Two names
# conflict when, in some class, both name something and share nothing:
# ``Constable Precinct 3`` / ``Precinct 2``, ``Sheriff's Office`` / ``Police
# Department``, ``Township`` / ``City Borough``. A name silent in a class
# conflicts with nothing there (``City of Zephyrhills PD`` is ``Zephyrhills PD``).
DISTINGUISHING_TOKENS: dict[str, tuple[str, str]] = {
    **{word: ("kind", kind) for kind, words in {
        "sheriff": ("SHERIFFS",),
        "police": ("POLICE",),
        "constable": ("CONSTABLE", "CONSTABLES"),
        "marshal": ("MARSHAL", "MARSHALS"),
        "department of": ("DEPARTMENT OF",),
    }.items() for word in words},
    **{word: ("level", level) for level, words in {
        "county": ("COUNTY", "PARISH"),     # a Louisiana parish is its county
        "city": ("CITY",),
        "town": ("TOWN",),
        "township": ("TOWNSHIP",),
        "borough": ("BOROUGH",),
        "village": ("VILLAGE",),
    }.items() for word in words},
    # Numbers: digits with or without an ordinal ending (3, 3RD) are read by
    # pattern; words up to twelve are listed here.
    **{word: ("number", str(n)) for n, words in enumerate((
        ("ONE", "FIRST"), ("TWO", "SECOND"), ("THREE", "THIRD"), ("FOUR", "FOURTH"),
        ("FIVE", "FIFTH"), ("SIX", "SIXTH"), ("SEVEN", "SEVENTH"), ("EIGHT", "EIGHTH"),
        ("NINE", "NINTH"), ("TEN", "TENTH"), ("ELEVEN", "ELEVENTH"), ("TWELVE", "TWELFTH"),
    ), start=1) for word in words},
}
_TOKEN_PHRASES = sorted((t for t in DISTINGUISHING_TOKENS if " " in t), key=len, reverse=True)
_NUMBER = re.compile(r"^0*(\d+)(?:ST|ND|RD|TH)?$")

# A blocking key shared by more rows than this says nothing about which one
# is meant (``OF``, a batch signing date), so it proposes no candidates.
BLOCK_LIMIT = 50


class Comparable(Protocol):
    state: str | None
    agency_key: str
    model: str | None
    county: str | None
    signed: str | None
    moa_url: str | None


class _View:
    """Attribute access to a stored record (a dict) for scoring."""

    __slots__ = ("state", "agency_key", "model", "county", "signed", "moa_url")

    def __init__(self, record: dict) -> None:
        for name in self.__slots__:
            setattr(self, name, record.get(name))


def view(record: dict) -> _View:
    return _View(record)


@lru_cache(maxsize=65536)
def distinguishing_tokens(key: str) -> dict[str, frozenset[str]]:
    """The name's distinguishing tokens by class: ``{"kind": {"constable"},
    "level": {"county"}, "number": {"3"}}`` for Harris County Constable Pct 3."""
    found: dict[str, set[str]] = {}
    text = f" {key} "
    for phrase in _TOKEN_PHRASES:
        if f" {phrase} " in text:
            token_class, value = DISTINGUISHING_TOKENS[phrase]
            found.setdefault(token_class, set()).add(value)
            text = text.replace(f" {phrase} ", " ")
    for word in text.split():
        number = _NUMBER.match(word)
        token = ("number", number.group(1)) if number else DISTINGUISHING_TOKENS.get(word)
        if token:
            found.setdefault(token[0], set()).add(token[1])
    return {token_class: frozenset(values) for token_class, values in found.items()}


def tokens_conflict(key_a: str, key_b: str) -> bool:
    """Do two names differ in a distinguishing token (see the table)?"""
    tokens_a, tokens_b = distinguishing_tokens(key_a), distinguishing_tokens(key_b)
    return any(values.isdisjoint(tokens_b[token_class])
               for token_class, values in tokens_a.items() if token_class in tokens_b)


# A long generic word ICE mistypes (SHERRIFS, DEPARTENT, CONSTBALES, COUNRY)
# is still generic; below six letters a word one typo from a generic one is
# as likely a place (PARIS, PARISH). "One typo" is one letter dropped from
# either word or both: a letter missing, added, changed or two swapped.
def _one_letter_dropped(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


_GENERIC_TYPOS = frozenset(variant for word in GENERIC_WORDS if len(word) >= 6
                           for variant in (word, *_one_letter_dropped(word)))


def _mistyped_generic(word: str) -> bool:
    return len(word) >= 6 and (word in _GENERIC_TYPOS or not _GENERIC_TYPOS.isdisjoint(_one_letter_dropped(word)))


@lru_cache(maxsize=65536)
def distinctive(key: str) -> str:
    """The words that tell this agency apart: normalize.distinctive_key, less
    mistyped long generic words (``CHRISTIAN`` for Christian County Sherrif's
    Office, as for Christian County Sheriff's Office)."""
    words = distinctive_key(key).split()
    kept = [word for word in words if not _mistyped_generic(word)]
    return " ".join(kept or words)


@lru_cache(maxsize=200_000)
def name_points(key_a: str, key_b: str) -> int:
    if key_a == key_b:
        return SAME_KEY
    distinct_a, distinct_b = distinctive(key_a), distinctive(key_b)
    near = max(_ratio(distinct_a, distinct_b), _jaccard(distinct_a, distinct_b))
    if near < _FAR_BELOW:
        return FAR
    if tokens_conflict(key_a, key_b):
        return NOT_NEAR  # two agencies, however alike the rest of the names
    if near >= _NEAR_MIN and max(_ratio(key_a, key_b), _jaccard(key_a, key_b)) >= _NEAR_WHOLE_MIN:
        return NEAR
    return LOOSELY_NEAR if near >= _LOOSE_MIN else NOT_NEAR


def _name_ceiling(key_a: str, key_b: str, by_letters: bool = False) -> int:
    """An upper bound of name_points from lengths and words alone: the
    matching characters of two strings are at most the shorter one's. With
    ``by_letters``, a tighter bound that costs more: at most the letters
    the two have in common, counted with repeats."""
    if key_a == key_b:
        return SAME_KEY
    if tokens_conflict(key_a, key_b):
        return NOT_NEAR
    distinct_a, distinct_b = distinctive(key_a), distinctive(key_b)
    lengths = len(distinct_a) + len(distinct_b)
    common = _common_letters(distinct_a, distinct_b) if by_letters else min(len(distinct_a), len(distinct_b))
    near = max(2 * common / lengths if lengths else 0.0, _jaccard(distinct_a, distinct_b))
    return NEAR if near >= _NEAR_MIN else LOOSELY_NEAR if near >= _LOOSE_MIN else NOT_NEAR


@lru_cache(maxsize=65536)
def _letters(text: str) -> Counter:
    return Counter(text)


def _common_letters(a: str, b: str) -> int:
    return sum((_letters(a) & _letters(b)).values())


@lru_cache(maxsize=65536)
def _name_shape(key: str) -> tuple[int, int, frozenset[str]]:
    """The distinctive name's length, the set of its characters as the bits
    of an int, and its words: enough for a bound of name_points that costs
    a few integer operations a pair."""
    text = distinctive(key)
    return len(text), sum(1 << (ord(char) & 127) for char in set(text)), frozenset(text.split())


def _shape_allows(key_a: str, key_b: str, points: int) -> bool:
    """Whether name_points(key_a, key_b) could be ``points`` or more, by a
    bound that costs a few integer and set operations (see _name_shape). A
    name near enough shares a distinctive word with the other (for the word
    overlap) or has most of its characters (for the similarity ratio, which
    counts at most the characters two names have in common: not more than
    each one's length less its characters the other lacks)."""
    if points <= FAR or key_a == key_b:
        return True
    least = _FAR_BELOW if points <= NOT_NEAR else _LOOSE_MIN if points <= LOOSELY_NEAR else _NEAR_MIN
    length_a, characters_a, words_a = _name_shape(key_a)
    length_b, characters_b, words_b = _name_shape(key_b)
    lengths = length_a + length_b
    common = min(length_a - (characters_a & ~characters_b).bit_count(),
                 length_b - (characters_b & ~characters_a).bit_count())
    return not lengths or 2 * common / lengths >= least or not words_a.isdisjoint(words_b)


def _could_reach(key_a: str, key_b: str, points: int) -> bool:
    """Whether name_points could be ``points`` or more, by bounds from the
    cheapest to the dearest: the names' shapes (a few integer operations),
    lengths and words, then the letter count, before any similarity ratio
    (which costs ten times the letter count)."""
    return (_shape_allows(key_a, key_b, points) and _name_ceiling(key_a, key_b) >= points
            and _name_ceiling(key_a, key_b, by_letters=True) >= points)


def name_at_least(key_a: str, key_b: str, points: int) -> bool:
    """name_points(key_a, key_b) >= points, with no similarity ratio computed
    when lengths, words and letters alone rule it out."""
    return _could_reach(key_a, key_b, points) and name_points(key_a, key_b) >= points


def names_at_least(key: str, others: Sequence[str], points: int) -> list[int]:
    """The places in ``others`` of the names with name_at_least(other, key,
    points), in order. The shapes' bound (see _could_reach) leaves a few
    names in a hundred to the dearer tests (a state of Texas's size has
    hundreds of agreements per model)."""
    return [at for at, other in enumerate(others) if name_at_least(other, key, points)]


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _jaccard(a: str, b: str) -> float:
    words_a, words_b = set(a.split()), set(b.split())
    return len(words_a & words_b) / len(words_a | words_b) if words_a | words_b else 0.0


def _other_points(old: Comparable, new: Comparable) -> int:
    """The points of every piece of evidence but the name."""
    points = 0
    same_moa = bool(old.moa_url and old.moa_url == new.moa_url)
    if same_moa:
        points += 2
    if old.signed and new.signed:
        if old.signed == new.signed:
            points += 2
        elif not same_moa:
            points -= 2
    if old.state and new.state:
        points += 1 if old.state == new.state else -2
    if old.model and new.model:
        points += 1 if old.model == new.model else -2
    if old.county and new.county and old.county.casefold() == new.county.casefold():
        points += 1
    return points


def score(old: Comparable, new: Comparable) -> int:
    return name_points(old.agency_key, new.agency_key) + _other_points(old, new)


def _score_if_enough(old: Comparable, new: Comparable, min_points: int) -> int | None:
    """The pair's score, or None as soon as a cheap bound shows it cannot
    reach min_points (most candidates stop before any similarity ratio)."""
    other = _other_points(old, new)
    if not _could_reach(old.agency_key, new.agency_key, min_points - other):
        return None
    points = other + name_points(old.agency_key, new.agency_key)
    return points if points >= min_points else None


def _blocking_keys(item: Comparable, fuzzy: bool) -> list[tuple]:
    """Exact evidence (agency key, MOA address) for every item; for items
    that may pair fuzzily, also state and model with the signing date, the
    county, and the first and last three letters of each distinctive word,
    which a one-letter typo rarely changes both of."""
    keys: list[tuple] = [("key", item.agency_key)]
    if item.moa_url:
        keys.append(("moa", item.moa_url))
    if fuzzy:
        state, model = item.state, item.model
        if item.signed:
            keys.append((state, model, "signed", item.signed))
        if item.county:
            keys.append((state, model, "county", item.county.casefold()))
        keys.extend((state, model, "word", end) for end in _word_ends(item.agency_key))
    return keys


@lru_cache(maxsize=65536)
def _word_ends(key: str) -> frozenset[str]:
    return frozenset(end for word in distinctive(key).split() if len(word) >= 3
                     for end in (word[:3] + "-", "-" + word[-3:]))


class Candidates:
    """Items indexed by blocking key: who could be the same agreement as this?"""

    def __init__(self, items: Sequence[Comparable], settled: frozenset[int] = frozenset()) -> None:
        self._postings: dict[tuple, list[int]] = {}
        for index, item in enumerate(items):
            for key in _blocking_keys(item, index not in settled):
                self._postings.setdefault(key, []).append(index)

    def of(self, item: Comparable, fuzzy: bool = True) -> set[int]:
        found: set[int] = set()
        for key in _blocking_keys(item, fuzzy):
            posting = self._postings.get(key, ())
            if len(posting) <= BLOCK_LIMIT:
                found.update(posting)
        return found


def pair_up(olds: Sequence[Comparable], news: Sequence[Comparable], min_points: int = MATCH_POINTS,
            settled: frozenset[int] = frozenset()) -> list[tuple[int, int, int]]:
    """One-to-one pairs (old index, new index, points), best evidence first.

    Olds whose index is in ``settled`` pair by exact evidence only. The
    larger side is indexed and the smaller one looks itself up, so the cost
    follows the lists' changes, not their length or the records' history."""
    scored = []
    for i, j in _candidate_pairs(olds, news, settled):
        points = _score_if_enough(olds[i], news[j], min_points)
        if points is not None:
            scored.append((points, i, j))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_old, used_new, pairs = set(), set(), []
    for points, i, j in scored:
        if i in used_old or j in used_new:
            continue
        used_old.add(i)
        used_new.add(j)
        pairs.append((i, j, points))
    return pairs


def _candidate_pairs(olds: Sequence[Comparable], news: Sequence[Comparable],
                     settled: frozenset[int]) -> Iterable[tuple[int, int]]:
    if not olds or not news:
        return
    if len(olds) > len(news):
        index = Candidates(olds, settled)
        for j, new in enumerate(news):
            for i in index.of(new):
                yield i, j
    else:
        index = Candidates(news)
        for i, old in enumerate(olds):
            for j in index.of(old, fuzzy=i not in settled):
                yield i, j

