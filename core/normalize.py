"""Normalise the values of ICE's lists, keeping the raw text beside them.

ICE's cells carry trailing spaces, mixed case, curly apostrophes, typo'd
state and model names (``UTAHJ``, ``Warrant Services Officer``) and dates
typed as text (``05/082025``) or with impossible years (``5025``). Each
function here turns one raw value into the canonical form the differ compares,
or ``None`` with a reason. They are pure and cached: the same strings repeat
across every row of every snapshot.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import urllib.parse
from functools import lru_cache

MODELS = ("Jail Enforcement Model", "Task Force Model", "Warrant Service Officer")
MODEL_CODES = {"JEM": MODELS[0], "TFM": MODELS[1], "WSO": MODELS[2]}
_MODEL_BY_FIRST_WORD = {"JAIL": MODELS[0], "TASK": MODELS[1], "WARRANT": MODELS[2]}

STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "GU": "Guam", "PR": "Puerto Rico", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}
_STATE_BY_NAME = {name.upper(): code for code, name in STATES.items()}

AGENCY_TYPES = ("County", "Municipality", "State Agency")
_AGENCY_TYPE_ALIASES = {"STATE": "State Agency", "MUNICIPAL": "Municipality", "CITY": "Municipality"}

# Values ICE writes where it means "nothing here".
_BLANKS = {"", "N/A", "NA", "NONE", "-", "--"}
# Spreadsheet error values (#N/A, #VALUE!, #REF!, #DIV/0!, #NAME?, #NUM!,
# #NULL!, #SPILL!, #GETTING_DATA...) and the look-alikes people type or
# paste as text (#NA, #n?A): "#" and one short word. No name, county or date
# in a list is written that way.
_ERROR_VALUE = re.compile(r"^#[A-Za-z][A-Za-z0-9/?!_.]{0,15}$")

# Fuzzy repairs must be unambiguous: the best candidate has to clear this ratio.
_FUZZY_MIN_RATIO = 0.8

SIGNED_MIN_YEAR = 1990  # 287(g) began in 2002; earlier years are typos

# The functions below are cached: the same strings repeat across every row of
# every list. A year of ICE's lists holds about 3,800 distinct cell texts and
# 1,500 distinct addresses, so this many covers years; a bigger cache only
# holds memory while a 100,000-row list of unique names cycles through it.
_DISTINCT_VALUES_CACHED = 8192


def clean_text(value: object) -> str:
    """Printable text as a person reads it: NBSP and runs of whitespace folded,
    curly apostrophes and quotes straightened, ends trimmed. Case is kept."""
    if value is None:
        return ""
    if type(value) is str:
        return _clean_str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    return _clean_str(str(value))


@lru_cache(maxsize=_DISTINCT_VALUES_CACHED)
def _clean_str(text: str) -> str:
    # str.translate is slow on text it leaves unchanged (a failed lookup per
    # distinct character); backquote is the only ASCII character it changes.
    if not text.isascii() or "`" in text:
        text = text.translate(_STRAIGHTEN)
    # Drop control and zero-width characters: they never belong in a name and
    # would let two spellings that look the same compare unequal. Nearly all
    # cells have none, which isprintable() tells at C speed.
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable() or ch in " \t\n")
    return " ".join(text.split())


_STRAIGHTEN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u00a0": " ", "\u2007": " ", "\u202f": " ",
    "\u2013": "-", "\u2014": "-", "\u200b": "", "\ufeff": "",
})


def is_blank(text: str) -> bool:
    """Whether cleaned cell text means "nothing here" (see _BLANKS, _ERROR_VALUE)."""
    return text.upper() in _BLANKS or _ERROR_VALUE.match(text) is not None


def closest_match(word: str, choices: list[str]) -> str | None:
    best = difflib.get_close_matches(word, choices, n=2, cutoff=_FUZZY_MIN_RATIO)
    if not best:
        return None
    if len(best) == 2:
        ratios = [difflib.SequenceMatcher(None, word, b).ratio() for b in best]
        if abs(ratios[0] - ratios[1]) < 0.05:
            return None  # two states fit about as well: refuse to guess
    return best[0]


@lru_cache(maxsize=4096)
def state_code(raw: str) -> tuple[str | None, str | None]:
    """(USPS code, note) for a state cell: exact name or code, else an
    unambiguous close spelling (``WEST VIRIGINIA``, ``UTAHJ``), noted."""
    if is_blank(clean_text(raw)):
        return None, "missing state"
    text = " ".join(re.sub(r"[^A-Z ]", "", clean_text(raw).upper()).split())
    if not text:
        return None, "missing state"
    if text in _STATE_BY_NAME:
        return _STATE_BY_NAME[text], None
    if text in STATES:
        return text, None
    guess = closest_match(text, list(_STATE_BY_NAME))
    if guess:
        return _STATE_BY_NAME[guess], f"state {clean_text(raw)!r} read as {STATES[_STATE_BY_NAME[guess]]}"
    return None, f"unknown state {clean_text(raw)!r}"


@lru_cache(maxsize=1024)
def model_name(raw: str) -> tuple[str | None, str | None]:
    """(canonical 287(g) model, note). ICE's typos (``Task Force Officer``,
    ``Warrant Services Officer``, ``Jail Enforcment Model``) keep their first
    word, which alone tells the three models apart."""
    text = clean_text(raw).upper()
    if not text or is_blank(text):
        return None, "missing model"
    if text in MODEL_CODES:
        return MODEL_CODES[text], None
    canonical = {m.upper(): m for m in MODELS}
    if text in canonical:
        return canonical[text], None
    first = re.split(r"[^A-Z]+", text)[0]
    model = _MODEL_BY_FIRST_WORD.get(first) or canonical.get(closest_match(text, list(canonical)) or "")
    if model:
        return model, f"model {clean_text(raw)!r} read as {model}"
    return None, f"unknown model {clean_text(raw)!r}"


@lru_cache(maxsize=1024)
def agency_type(raw: str) -> str | None:
    text = clean_text(raw).upper()
    if not text or is_blank(text):
        return None
    canonical = {t.upper(): t for t in AGENCY_TYPES}
    if text in canonical:
        return canonical[text]
    if text in _AGENCY_TYPE_ALIASES:
        return _AGENCY_TYPE_ALIASES[text]
    guess = closest_match(text, list(canonical))
    return canonical[guess] if guess else clean_text(raw)


def optional_text(raw: object) -> str | None:
    """A free-text cell (county, agency type) or None when ICE left it blank."""
    text = clean_text(raw)
    return None if is_blank(text) else text


# Words ICE spells several ways; folded only inside the comparison key.
_KEY_WORDS = {
    "DEPT": "DEPARTMENT", "DEP": "DEPARTMENT", "CO": "COUNTY", "CNTY": "COUNTY",
    "TWP": "TOWNSHIP", "PD": "POLICE DEPARTMENT", "SO": "SHERIFFS OFFICE",
    "OFC": "OFFICE", "SHERIFF'S": "SHERIFFS", "SHERRIFFS": "SHERIFFS", "SHERIFF": "SHERIFFS",
    "&": "AND", "ST": "SAINT", "MT": "MOUNT", "FT": "FORT", "UNIV": "UNIVERSITY",
}


_NOT_IN_KEYS = re.compile(r"[^A-Z0-9]+")


@lru_cache(maxsize=_DISTINCT_VALUES_CACHED)
def agency_key(raw: str) -> str:
    """The comparison key of an agency name: case, punctuation, apostrophes and
    common abbreviations folded, so ``Miami-Dade Sheriff's Office`` and
    ``MIAMI DADE SHERIFFS OFFICE`` compare equal. Never shown to people."""
    text = clean_text(raw).upper().replace("'", "").replace("&", " AND ")
    return " ".join([_KEY_WORDS.get(w, w) for w in _NOT_IN_KEYS.sub(" ", text).split()])


# Words common to most agency names: they say little about which agency it is.
GENERIC_WORDS = frozenset(
    "COUNTY SHERIFFS OFFICE POLICE DEPARTMENT CITY OF THE TOWN TOWNSHIP STATE "
    "AND DIVISION BOROUGH VILLAGE PARISH CONSTABLE CONSTABLES DISTRICT "
    "UNIVERSITY COLLEGE BOARD TRUSTEES COMMISSION COMMISSIONERS".split()
)
# State names inside agency names ("Florida Department of ...") say nothing
# about which agency of that state it is.
_STATE_NAME_PATTERN = re.compile(
    r"\b(" + "|".join(sorted((n.upper() for n in STATES.values()), key=len, reverse=True)) + r")\b")


@lru_cache(maxsize=_DISTINCT_VALUES_CACHED)
def distinctive_key(key: str) -> str:
    """The agency key without generic words and state names: ``LAKE`` for
    Lake County Sheriff's Office. Name similarity is judged on this, so that
    ``LAKE`` and ``LEE`` county offices, or two Florida universities, are not
    mistaken for one re-spelled name."""
    words = [w for w in _STATE_NAME_PATTERN.sub(" ", key).split() if w not in GENERIC_WORDS]
    return " ".join(words) or key


_TEXT_DATE_PATTERNS = (
    # 05/08/2025, 5/8/25, and ICE's glued "05/082025" and "7/72025"
    (re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-]?(\d{4}|\d{2})$"), ("m", "d", "y")),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$"), ("y", "m", "d")),
)


def excel_serial_to_date(serial: float) -> dt.date | None:
    if not 1 <= serial < 2958466:
        return None
    return dt.date(1899, 12, 30) + dt.timedelta(days=int(serial))


def latest_signed_year(today: dt.date | None = None) -> int:
    """The latest SIGNED year read as possible on ``today``: next year's
    (later ones are typos). The only thing in a row that depends on the day
    it is read (see signed_date)."""
    return (today or dt.date.today()).year + 1


def signed_date(value: object, today: dt.date | None = None) -> tuple[str | None, str | None]:
    """(ISO date, note) for a SIGNED cell. Real Excel dates pass through; text
    dates are read when unambiguous; impossible years and unreadable text give
    None and a note, so the row is kept and flagged rather than dropped."""
    if value is None or (isinstance(value, str) and is_blank(clean_text(value))):
        return None, None
    note = None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, bool):
        return None, f"SIGNED {value!r} is not a date"
    elif isinstance(value, (int, float)):
        day = excel_serial_to_date(float(value))
        note = f"SIGNED stored as number {value!r}"
        if day is None:
            return None, f"SIGNED {value!r} is not a date"
    else:
        text = clean_text(value)
        day = _parse_text_date(text)
        if day is None:
            return None, f"SIGNED {text!r} is not a readable date"
        note = f"SIGNED text {text!r} read as {day.isoformat()}"
    if not SIGNED_MIN_YEAR <= day.year <= latest_signed_year(today):
        return None, f"SIGNED {day.isoformat()} has an impossible year"
    return day.isoformat(), note


def _parse_text_date(text: str) -> dt.date | None:
    for pattern, order in _TEXT_DATE_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        parts = dict(zip(order, (int(g) for g in match.groups())))
        year = parts["y"] + (2000 if parts["y"] < 100 else 0)
        try:
            return dt.date(year, parts["m"], parts["d"])
        except ValueError:
            return None
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%d %B %Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_SAFELINKS_HOST = re.compile(r"(^|\.)safelinks\.protection\.outlook\.com$", re.I)
# Characters that make an address unsafe to put in a link: quotes, angle
# brackets, backslash, space and the C0 controls (an unwrapped SafeLinks
# address is percent-decoded, so it can carry them).
_UNSAFE_IN_URL = re.compile(r'[<>"\\ \x00-\x1f]')
# The common case, decided without urlsplit: http(s), a plain host name (no
# user, port or brackets), and nothing unsafe after it. Anything else takes
# the full path below, which gives the same answer for these.
_PLAIN_WEB_ADDRESS = re.compile(r'[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+)(?:[/?#][^<>"\\ \x00-\x1f]*)?')


@lru_cache(maxsize=_DISTINCT_VALUES_CACHED)
def document_url(raw: str | None) -> str | None:
    """An http(s) address for an MOA/addendum link, SafeLinks wrappers
    unwrapped. Anything else (``javascript:``, ``mailto:``, bare words) is
    refused: these addresses end up as links in alerts."""
    if not raw:
        return None
    url = clean_text(raw)
    plain = _PLAIN_WEB_ADDRESS.fullmatch(url)
    if plain and not _SAFELINKS_HOST.search(plain[1]):
        return url
    parts = urllib.parse.urlsplit(url)
    for _ in range(3):  # wrappers can nest when a wrapped link is forwarded
        if not _SAFELINKS_HOST.search(parts.hostname or ""):
            break
        inner = urllib.parse.parse_qs(parts.query).get("url")
        if not inner:
            return None
        url = inner[0].strip()
        parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if _UNSAFE_IN_URL.search(url):
        return None
    return url
