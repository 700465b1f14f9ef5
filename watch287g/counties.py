"""County names as ICE writes them -> FIPS codes, within the row's state.

The counties are the Census Bureau's 2016 cartographic boundary file that the
``plotly-geo`` package ships (read with ``pyshp``); ``addfips`` resolves the
names people write (``St. Lucie County``, ``Saint Landry Parish``,
``Hopewell city``). Nothing is fetched at run time.

ICE's COUNTY cells carry typos (``Flager``, ``Lake Conty``, ``St. Luice``),
towns or regions instead of counties, and now and then a county of another
state. A name is matched, in order, by:

1. ``exact``: addfips knows it as written;
2. ``suffix``: its last word is a misspelt county word (``Conty``, ``Couny``),
   or names the wrong kind (``Hopewell County`` for the city of Hopewell);
3. ``part``: one part of a compound name is a county (``Sparta-White``);
4. ``table``: CORRECTIONS below, for what no rule can recover;
5. ``fuzzy``: the one county of that state spelt closely enough
   (``Stueben`` -> Steuben, ``Berrian`` -> Berrien).

Whatever is left stays unmatched: the report and ``stats`` list it, so no
agreement drops off the map silently. Matching never crosses a state line: a
county of another state (``Crow Wing`` under Massachusetts) is unmatched.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from watch287g.core.normalize import STATES, clean_text, closest_match, is_blank

COUNTY_SHAPES = "cb_2016_us_county_500k"    # Census cartographic boundaries, 1:500,000, 2016
STATE_SHAPES = "cb_2016_us_state_500k"

# The Census LSAD code of a county-equivalent -> the word that follows its name.
KIND_WORDS = {"00": "", "03": "City and Borough", "04": "Borough", "05": "Census Area", "06": "County",
              "07": "District", "10": "Island", "12": "Municipality", "13": "Municipio", "15": "Parish",
              "25": "city"}
# Words ICE puts after a county's name; a misspelt one (Conty, Couny) is read as the closest.
_SUFFIX_WORDS = ("county", "parish", "borough", "city", "municipio", "municipality", "district")

# ICE's county names that no rule above recovers, each checked against the
# agency on the same row. (USPS state, name folded as _fold does, without its
# county word) -> (FIPS, why). A close misspelling of an entry matches it too.
CORRECTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("AR", "layafette"): ("05073", "Lafayette County with its letters shuffled past what fuzzy matching accepts"),
    ("AR", "bowie"): ("05091", "Texarkana Police Department, Arkansas: Texarkana, AR is in Miller County; "
                               "Bowie County is the Texas side"),
    ("LA", "german coast"): ("22089", "St. Charles Parish Sheriff's Office: the parish lies on the historic "
                                      "German Coast"),
    ("MN", "freedom"): ("27047", "Freedom County Sheriff's Office, which ICE later re-spelt Freeborn"),
    ("NC", "albemarle"): ("37139", "Albemarle District Jail, in Elizabeth City, Pasquotank County"),
}


@dataclass(frozen=True)
class County:
    fips: str           # 5 digits: state + county
    state: str          # USPS code
    name: str           # Census name with its kind word: "Flagler County", "Hopewell city"


@dataclass(frozen=True)
class CountyMatch:
    county: County | None
    how: str | None     # exact | suffix | part | table | fuzzy; None when unmatched
    note: str | None = None


def shapefile_path(name: str) -> Path:
    """A shapefile inside the installed plotly-geo package (without suffix)."""
    return Path(str(resources.files("_plotly_geo").joinpath("package_data", name)))


def _fold(text: str) -> str:
    """Lower case, accents, apostrophes and periods dropped, 'st' spelt saint:
    how names are compared (never shown)."""
    text = unicodedata.normalize("NFKD", clean_text(text)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"['.]", "", text)
    text = re.sub(r"\bst\b", "saint", text)
    text = re.sub(r"\bste\b", "sainte", text)
    return " ".join(re.sub(r"[^a-z0-9-/ ]", " ", text).split())


class CountyIndex:
    """The counties of every state, and name matching within a state."""

    def __init__(self) -> None:
        import addfips
        import shapefile

        self._addfips = addfips.AddFIPS()
        codes = {fips: code for code, fips in _state_fips_codes().items()}
        self.counties: dict[str, County] = {}
        self._by_state: dict[str, dict[str, list[str]]] = {}
        with shapefile.Reader(str(shapefile_path(COUNTY_SHAPES)) + ".dbf") as reader:
            for record in reader.iterRecords(fields=["STATEFP", "GEOID", "NAME", "LSAD"]):
                state = codes.get(record["STATEFP"])
                if state is None:
                    continue
                name = " ".join(filter(None, (record["NAME"], KIND_WORDS.get(record["LSAD"], ""))))
                self.counties[record["GEOID"]] = County(record["GEOID"], state, name)
                self._by_state.setdefault(state, {}).setdefault(_fold(record["NAME"]), []).append(record["GEOID"])

    def match(self, state: str | None, text: str | None) -> CountyMatch | None:
        """The county a row names, or None when the cell is blank."""
        if text is None or is_blank(re.sub(r"[^A-Za-z]", "", text)):
            return None
        if not state or state not in self._by_state:
            return CountyMatch(None, None, f"no counties known for state {state or '(none)'}")
        return self._match(state, clean_text(text))

    @lru_cache(maxsize=8192)
    def _match(self, state: str, text: str) -> CountyMatch:
        for how, attempt in (("exact", self._exact), ("suffix", self._suffix), ("part", self._part),
                             ("table", self._table), ("fuzzy", self._fuzzy)):
            found = attempt(state, text)
            if isinstance(found, CountyMatch):
                return found
            if found:
                return CountyMatch(self.counties[found], how)
        return CountyMatch(None, None, f"no county of {STATES.get(state, state)} is called {text!r}")

    def _lookup(self, state: str, name: str) -> str | CountyMatch | None:
        fips = self._addfips.get_county_fips(name, state)
        if fips and fips not in self.counties:
            return CountyMatch(None, None, f"{name!r} is FIPS {fips}, which the county map (2016) lacks")
        return fips

    def _exact(self, state: str, text: str):
        return self._lookup(state, text)

    def _suffix(self, state: str, text: str):
        words = text.split()
        if len(words) < 2:
            return None
        word = closest_match(words[-1].lower(), list(_SUFFIX_WORDS))
        if word is None:
            return None
        bare = " ".join(words[:-1])
        return self._lookup(state, f"{bare} {word}") or self._lookup(state, bare)

    def _part(self, state: str, text: str):
        parts = [p.strip() for p in re.split(r"[-/]", text) if p.strip()]
        if len(parts) < 2:
            return None
        found = {f for p in parts if isinstance(f := self._exact(state, p) or self._suffix(state, p), str)}
        return found.pop() if len(found) == 1 else None

    def _table(self, state: str, text: str):
        names = [name for st, name in CORRECTIONS if st == state]
        name = closest_match(_bare(text), names) if names else None
        return CORRECTIONS[(state, name)][0] if name else None

    def _fuzzy(self, state: str, text: str):
        names = self._by_state[state]
        guess = closest_match(_bare(text), list(names))
        return names[guess][0] if guess and len(names[guess]) == 1 else None


def _bare(text: str) -> str:
    """A folded name without its trailing county word (also misspelt)."""
    words = _fold(text).split()
    if len(words) > 1 and closest_match(words[-1], list(_SUFFIX_WORDS)):
        words = words[:-1]
    return " ".join(words)


def state_fips(code: str) -> str | None:
    """The 2-digit FIPS code of a state or territory (USPS code)."""
    return _state_fips_codes().get(code)


@lru_cache(maxsize=1)
def _state_fips_codes() -> dict[str, str]:
    """USPS code -> 2-digit state FIPS, from the state shapefile's records."""
    import shapefile

    with shapefile.Reader(str(shapefile_path(STATE_SHAPES)) + ".dbf") as reader:
        return {r["STUSPS"]: r["STATEFP"] for r in reader.iterRecords(fields=["STUSPS", "STATEFP"])}


@lru_cache(maxsize=1)
def county_index() -> CountyIndex:
    """The index, built once per process (about 0.1 s)."""
    return CountyIndex()
