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
name: near (see below)     +2 / +1, far: -4
=========================  =======

A pair needs MATCH_POINTS. A far name all but vetoes a pair: ICE copies MOA
links and dates between neighbouring rows, so a shared address or date alone
does not make two agencies one. Names are compared on their distinctive words
(``LAKE`` in Lake County Sheriff's Office), so ``Lake`` and ``Lee`` county
offices stay apart while ``Lake Clark Shores`` and ``Lake Clarke Shores``
pair up. docs/identity.md shows what these rules did on the 2025 lists.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Iterable, Protocol

from watch287g.core.normalize import distinctive_key

MATCH_POINTS = 4


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


@lru_cache(maxsize=200_000)
def name_points(key_a: str, key_b: str) -> int:
    if key_a == key_b:
        return 3
    distinct_a, distinct_b = distinctive_key(key_a), distinctive_key(key_b)
    near = max(_ratio(distinct_a, distinct_b), _jaccard(distinct_a, distinct_b))
    whole = max(_ratio(key_a, key_b), _jaccard(key_a, key_b))
    if near >= 0.85 and whole >= 0.7:
        return 2
    if near >= 0.6:
        return 1
    if near < 0.4:
        return -4
    return 0


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _jaccard(a: str, b: str) -> float:
    words_a, words_b = set(a.split()), set(b.split())
    return len(words_a & words_b) / len(words_a | words_b) if words_a | words_b else 0.0


def score(old: Comparable, new: Comparable) -> int:
    points = name_points(old.agency_key, new.agency_key)
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


def pair_up(olds: list, news: list, min_points: int = MATCH_POINTS) -> list[tuple[int, int, int]]:
    """One-to-one pairs (old index, new index, points), best evidence first.

    Only plausible pairs are scored: same state, or the same name key, or the
    same MOA address. That keeps a large day (ICE once added 64 agreements)
    cheap and lets state corrections through."""
    scored = []
    for i, j in _candidates(olds, news):
        points = score(olds[i], news[j])
        if points >= min_points:
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


def _candidates(olds: list, news: list) -> Iterable[tuple[int, int]]:
    by_state: dict[str | None, list[int]] = {}
    by_key: dict[str, list[int]] = {}
    by_moa: dict[str, list[int]] = {}
    for j, new in enumerate(news):
        by_state.setdefault(new.state, []).append(j)
        by_key.setdefault(new.agency_key, []).append(j)
        if new.moa_url:
            by_moa.setdefault(new.moa_url, []).append(j)
    for i, old in enumerate(olds):
        seen: set[int] = set()
        for group in (by_state.get(old.state, ()), by_key.get(old.agency_key, ()),
                      by_moa.get(old.moa_url, ()) if old.moa_url else ()):
            for j in group:
                if j not in seen:
                    seen.add(j)
                    yield i, j
