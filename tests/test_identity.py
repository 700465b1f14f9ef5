"""The identity rules on their own, on small hand-made rosters of rows."""

from __future__ import annotations

import itertools

import pytest
from watch287g.core.normalize import agency_key
from watch287g.core.records import Row
from watch287g.state import identity

TFM, JEM = "Task Force Model", "Jail Enforcement Model"


def row(agency: str, state: str = "TX", model: str = TFM, county: str | None = None,
        signed: str | None = None, moa: str | None = None) -> Row:
    return Row(line=2, state=state, agency=agency, agency_key=agency_key(agency), model=model,
               agency_type=None, county=county, signed=signed, moa_url=moa, addendum_url=None, raw={})


def key(name: str) -> str:
    return agency_key(name)


@pytest.mark.parametrize("name,expected", [
    ("Galveston County Constables Office Pct. 1",
     {"kind": {"constable"}, "level": {"county"}, "number": {"1"}}),
    ("Tennessee State Constable 4th District", {"kind": {"constable"}, "number": {"4"}}),
    ("Lower Burrell Fourth Ward Constable", {"kind": {"constable"}, "number": {"4"}}),
    ("Virginia Department of State Police", {"kind": {"department of", "police"}}),
    ("St. Charles Parish Sheriff's Office", {"kind": {"sheriff"}, "level": {"county"}}),
    ("Manheim City Borough PD", {"kind": {"police"}, "level": {"city", "borough"}}),
    ("New Berlin Marshals Office", {"kind": {"marshal"}}),
    ("Florida Fish and Wildlife Conservation Commission", {}),
])
def test_distinguishing_tokens_by_class(name, expected):
    assert identity.distinguishing_tokens(key(name)) == {k: frozenset(v) for k, v in expected.items()}


@pytest.mark.parametrize("a,b", [
    ("Lake County Sheriff's Office", "Lakeland Police Department"),             # kind of agency
    ("Galveston County Constable Precinct 2", "Galveston County Constable Precinct 3"),  # number
    ("Bradley County Constable District 1", "Bradley County Constable District 6"),
    ("Manheim Township Police Department", "Manheim City Borough Police Department"),  # level
    ("Richmond County Sheriff's Office", "Richmond City Sheriff's Office"),
    ("Okaloosa County Sheriff's Office", "Okaloosa County Department of Corrections"),
])
def test_names_of_two_agencies_conflict(a, b):
    assert identity.tokens_conflict(key(a), key(b))
    assert identity.tokens_conflict(key(b), key(a))


@pytest.mark.parametrize("a,b", [
    ("City of Zephyrhills PD", "Zephyrhills PD"),               # one name silent on the level
    ("Walker County Constable Pct 3", "Walker County Constable Precinct Three"),
    ("Tennessee State Constable 4th District", "Tennessee State Constable 4th District Polk County"),
    ("Flathead County Sheriff's Department", "Flathead County Sheriff's Office"),
    ("Virginia Department of State Police", "Department of State Police"),
    ("Okaloosa County Department of Corrections", "Okaloosa County Corrections"),
    ("Coolspring Township Constbales Office", "Coolspring Township Constables Office"),
])
def test_names_of_one_agency_do_not_conflict(a, b):
    assert not identity.tokens_conflict(key(a), key(b))


def test_a_token_conflict_makes_alike_names_not_near_but_far_names_stay_far():
    assert identity.name_points(key("Galveston County Constable Precinct 2"),
                                key("Galveston County Constable Precinct 3")) == identity.NOT_NEAR
    assert identity.name_points(key("Manheim Township PD"), key("Manheim Borough PD")) == identity.NOT_NEAR
    assert identity.name_points(key("Polk County Sheriff's Office"),
                                key("Orange City Police Department")) == identity.FAR


@pytest.mark.parametrize("a,b,points", [
    ("Lampass County Sheriff's Office", "Lampasas County Sheriff's Office", identity.NEAR),   # typo fix
    ("Polk County Sheriffs Office", "Polk County Sheriff's Office", identity.SAME_KEY),
    ("Calacasieu Parish Sheriff's Office", "Calcasieu Parish Sheriff's Office", identity.NEAR),  # county re-spelt
    ("Christian County Sheriff's Office", "Christian County Sherrif's Office", identity.NEAR),  # generic word mistyped
    ("Freedom County Sheriff's Office", "Freeborn County Sheriff's Office", identity.LOOSELY_NEAR),
])
def test_one_agency_re_spelled_stays_near(a, b, points):
    assert identity.name_points(key(a), key(b)) == points


def test_a_mistyped_long_generic_word_is_generic_but_a_short_place_name_is_not():
    assert identity.distinctive(key("Christian County Sherrif's Office")) == "CHRISTIAN"
    assert identity.distinctive(key("Alachua Police Departent")) == "ALACHUA"
    assert identity.distinctive(key("Paris Police Department")) == "PARIS"       # not PARISH
    assert identity.distinctive(key("Broward County Sheriff's Office")) == "BROWARD"  # not BOARD


NAMES = [
    "Lake County Sheriff's Office", "Lee County Sheriff's Office", "Lakeland Police Department",
    "Lake Clark Shores Police Department", "Lake Clarke Shores Police Department",
    "Galveston County Constable Precinct 2", "Galveston County Constables Office Pct 4",
    "Freedom County Sheriff's Office", "Freeborn County Sheriff's Office", "Florida Department of Corrections",
    "Florida Department of Law Enforcement", "Okaloosa County Corrections", "City of Miami Police Department",
    "Miami Springs Police Department", "Wyoming State Highway Patrol", "Wyoming Highway State Patrol",
    "Brookfield Police Department", "Brookford Police Department", "Hopewell Sheriff's Office",
    "Hopewell County Sheriff's Office", "University of Central Florida Police Department",
    "Florida A&M University Board of Trustees", "Paris Police Department", "Parish of Iberia Sheriff",
]


def test_the_cheap_bound_never_rules_out_a_name_that_is_near_enough():
    for a, b in itertools.permutations(NAMES, 2):
        for points in (identity.FAR, identity.NOT_NEAR, identity.LOOSELY_NEAR, identity.NEAR, identity.SAME_KEY):
            assert identity.name_at_least(key(a), key(b), points) == (identity.name_points(key(a), key(b)) >= points), \
                (a, b, points)


# --- pairing a roster of records with a roster of rows -----------------------

def test_re_spelled_rows_pair_with_their_records_and_new_agencies_do_not():
    olds = [row("Freedom County Sheriff's Office", "MN", county="Freeborn", signed="2025-03-27"),
            row("Lampass County Sheriff's Office", signed="2025-04-01", county="Lampasas"),
            row("Galveston County Constable Precinct 2", county="Galveston")]
    news = [row("Galveston County Constable Precinct 3", county="Galveston"),
            row("Lampasas County Sheriff's Office", signed="2025-04-01", county="Lampasas"),
            row("Freeborn County Sheriff's Office", "MN", county="Freeborn", signed="2025-03-27")]
    assert sorted((i, j) for i, j, _ in identity.pair_up(olds, news)) == [(0, 2), (1, 1)]


def test_pairing_is_the_same_whichever_side_is_larger():
    olds = [row(f"Town {n} Police Department", county=f"C{n}") for n in
            ("Alpha", "Bravo", "Charlie", "Delta", "Echo")]
    news = [row("Town Bravvo Police Department", county="CBravo"), row("Town Delta Police Dept", county="CDelta")]
    forward = identity.pair_up(olds, news)
    backward = identity.pair_up(news, olds)
    assert sorted((i, j) for i, j, _ in forward) == [(1, 0), (3, 1)]
    assert sorted((j, i) for i, j, _ in backward) == [(1, 0), (3, 1)]


def test_a_settled_record_pairs_by_exact_evidence_only():
    settled_near = row("Galveston County Constable Pct 2", county="Galveston")
    news = [row("Galveston County Constable Precinct 2", county="Galveston")]
    assert identity.pair_up([settled_near], news) != []
    assert identity.pair_up([settled_near], news, settled=frozenset({0})) == []
    # ... from either side of the index
    assert identity.pair_up([settled_near] * 3, news, settled=frozenset({0, 1, 2})) == []


def test_a_settled_record_pairs_by_its_moa_address():
    moa = "https://www.ice.gov/doclib/287gMOA/StCloudPD_TFM_MOA.pdf"
    settled = row("St. Cloud Police Department", "FL", signed="2025-02-26", moa=moa)
    moved = row("City of Saint Cloud Police Department", "FL", signed="2025-02-26", moa=moa)
    assert [(i, j) for i, j, _ in identity.pair_up([settled], [moved], settled=frozenset({0}))] == [(0, 0)]


def test_a_settled_record_pairs_by_its_agency_key_across_a_state_fix():
    settled = row("Crow Wing County Sheriff's Office", "MA", signed="2025-05-01", county="Crow Wing")
    fixed = row("Crow Wing County Sheriff's Office", "MN", signed="2025-05-01", county="Crow Wing")
    assert [(i, j) for i, j, _ in identity.pair_up([settled], [fixed], settled=frozenset({0}))] == [(0, 0)]


def test_a_blocking_key_shared_by_too_many_items_proposes_nothing():
    batch = [row(f"Agency {n:03d}", signed="2025-02-26") for n in range(identity.BLOCK_LIMIT + 1)]
    index = identity.Candidates(batch)
    assert index.of(row("Something Else Entirely", signed="2025-02-26")) == set()
    small = identity.Candidates(batch[:identity.BLOCK_LIMIT])
    assert len(small.of(row("Something Else Entirely", signed="2025-02-26"))) == identity.BLOCK_LIMIT


def test_empty_sides_pair_nothing():
    assert identity.pair_up([], [row("Polk County Sheriff's Office")]) == []
    assert identity.pair_up([row("Polk County Sheriff's Office")], []) == []


def test_a_batch_signing_date_alone_does_not_make_a_rename():
    """ICE signs in batches: same state, model and date, another agency."""
    gone = row("Haines City Police Department", "FL", county="Polk County", signed="2025-02-26")
    new = row("Dade City Police Department", "FL", county="Pasco County", signed="2025-02-26")
    assert identity.name_points(gone.agency_key, new.agency_key) == identity.NOT_NEAR
    assert identity.pair_up([gone], [new]) == []


def test_a_row_relabelled_in_place_pairs_on_its_own_date_and_county():
    """Okaloosa's WSO row, 2025: the agency renamed, its date and county kept."""
    before = row("Okaloosa County Sheriff's Office", "FL", county="Okaloosa County", signed="2025-02-26")
    after = row("Okaloosa County Department of Corrections", "FL", county="Okaloosa County", signed="2025-02-26")
    assert identity.tokens_conflict(before.agency_key, after.agency_key)
    assert [(i, j) for i, j, _ in identity.pair_up([before], [after])] == [(0, 0)]
    elsewhere = row("Okaloosa County Department of Corrections", "FL", county="Walton County", signed="2025-02-26")
    assert identity.pair_up([before], [elsewhere]) == []


def test_the_name_lookup_finds_what_testing_every_name_finds():
    # Beyond NAMES: a repeated word (the word overlap ignores repeats, the
    # lengths do not), a name of generic words only, a typo in a first letter.
    names = [key(name) for name in (*NAMES, "Lake Lake Lake County Sheriff's Office", "County Sheriff's Office",
                                    "Sheriff's Office", "Pake County Sheriff's Office", "Lake County Sheriff's Office")]
    for probe in names:
        for points in (identity.FAR, identity.NOT_NEAR, identity.LOOSELY_NEAR, identity.NEAR, identity.SAME_KEY):
            expected = [at for at, other in enumerate(names) if identity.name_at_least(other, probe, points)]
            assert identity.names_at_least(probe, names, points) == expected, (probe, points)
    # ... the repeated-word name found by its words, though far longer
    lake = key("Lake County Sheriff's Office")
    found = [names[at] for at in identity.names_at_least(lake, names, identity.NEAR)]
    assert found == [lake, key("Lake Lake Lake County Sheriff's Office"), lake]
