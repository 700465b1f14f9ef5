"""The differ's event rules, through the real path: workbook -> ingest -> TinyDB."""

from __future__ import annotations

import datetime as dt

import pytest
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.state import journal
from watch287g.state.ingest import ingest
from watch287g.state.policy import Debounce, Policy
from watch287g.state.store import Store

from tests.support.workbooks import (
    PENDING_HEADER,
    agreement,
    sample_agreements,
    workbook_bytes,
)

# Small lists: the row-count gate is exercised in test_gate.py, not here.
POLICY = Policy(gates={}, debounce=Debounce(min_missing_snapshots=3, min_missing_days=5))
BASE = dt.datetime(2025, 6, 2, 9, 0)


class Feed:
    """Feeds lists to one store, a day apart unless told otherwise."""

    def __init__(self, tmp_path):
        self.store = Store(tmp_path / "data")
        self.day = 0

    def __call__(self, rows, kind="participating", days=1.0, header=None):
        self.day += days
        observed = (BASE + dt.timedelta(days=self.day)).isoformat() + "Z"
        # A fresh file each time, as ICE publishes one: identical bytes would
        # (rightly) be "unchanged" and not count as another list.
        content = workbook_bytes(rows, header or (PENDING_HEADER if kind == "pending" else None),
                                 sheet_title=f"Sheet{self.day}")
        snapshot = snapshot_from_workbook("ice", kind, observed, f"{kind}{self.day}.xlsx", content)
        with self.store.write() as db:
            result = ingest(db, snapshot, POLICY)
            journal.record(db, result.events, None)
            return result

    def events(self):
        return self.store.read().events.in_order()


@pytest.fixture
def feed(tmp_path):
    return Feed(tmp_path)


def types(result):
    return [e["type"] for e in result.events]


BASELINE = sample_agreements(30)
POLK = agreement("FLORIDA", "POLK COUNTY SHERIFF'S OFFICE", signed="2025-02-26", county="Polk County",
                 moa="https://www.ice.gov/doclib/287gMOA/PolkCoSO_TFM_MOA.pdf")


def test_first_list_is_baseline_without_events(feed):
    result = feed(BASELINE)
    assert result.verdict == "baseline"
    assert result.events == []
    assert feed.store.read().agreements.count() == 30


def test_new_row_is_signed_with_evidence(feed):
    feed(BASELINE)
    result = feed(BASELINE + [POLK])
    assert types(result) == ["agreement.signed"]
    event = result.events[0]
    assert event["state"] == "FL"
    assert event["agency"] == "POLK COUNTY SHERIFF'S OFFICE"
    assert event["model"] == "Task Force Model"
    assert event["signed"] == "2025-02-26"
    assert event["moa_url"].endswith("PolkCoSO_TFM_MOA.pdf")
    assert event["from_pending"] is False
    assert event["source"]["kind"] == "participating"
    assert len(event["source"]["sha256"]) == 64
    assert event["row"]["line"] == 32
    assert event["row"]["values"]["LAW ENFORCEMENT AGENCY"] == "POLK COUNTY SHERIFF'S OFFICE"
    assert isinstance(event["id"], int)


def test_signed_from_pending_and_no_withdrawal_later(feed):
    feed(BASELINE)
    pending_row = agreement("FLORIDA", "Polk County Sheriff's Office ", county="Polk County")
    feed([pending_row], kind="pending")
    feed([pending_row, agreement("TEXAS", "Hays County Sheriff's Office")], kind="pending")
    result = feed(BASELINE + [POLK])
    assert types(result) == ["agreement.signed"]
    assert result.events[0]["from_pending"] is True
    # The application leaves the pending list: never reported withdrawn.
    for _ in range(6):
        feed([agreement("TEXAS", "Hays County Sheriff's Office")], kind="pending", days=2)
    assert "pending.withdrawn" not in [e["type"] for e in feed.events()]


def test_pending_added_and_withdrawn_after_debounce(feed):
    feed([agreement("TEXAS", "Hays County Sheriff's Office")], kind="pending")
    added = feed([agreement("TEXAS", "Hays County Sheriff's Office"),
                  agreement("GEORGIA", "Cobb County Sheriff's Office")], kind="pending")
    assert types(added) == ["pending.added"]
    assert added.events[0]["state"] == "GA"
    # Off the list from day 3; 3 lists and 5 days are needed: day 9 confirms.
    results = [feed([agreement("TEXAS", "Hays County Sheriff's Office")], kind="pending", days=2)
               for _ in range(4)]
    assert [types(r) for r in results] == [[], [], [], ["pending.withdrawn"]]


def test_rename_and_typo_fix_are_corrections_not_terminations(feed):
    rows = BASELINE + [agreement("MINNESOTA", "FREEDOM COUNTY SHERIFF'S OFFICE", "Warrant Service Officer",
                                 signed="2025-03-27", county="Freeborn")]
    feed(rows)
    fixed = BASELINE + [agreement("MINNESOTA", "FREEBORN COUNTY SHERIFF'S OFFICE", "Warrant Services Officer",
                                  signed="2025-03-27", county="Freeborn")]
    result = feed(fixed)
    assert types(result) == ["agreement.corrected"]
    assert result.events[0]["changes"] == {
        "agency": {"old": "FREEDOM COUNTY SHERIFF'S OFFICE", "new": "FREEBORN COUNTY SHERIFF'S OFFICE"}}
    for _ in range(5):
        result = feed(fixed, days=3)
        assert result.events == []


def test_similar_names_with_other_dates_stay_apart(feed):
    """Lake and Lee county offices: a termination plus a signing, not a rename."""
    lake = agreement("FLORIDA", "LAKE COUNTY SHERIFF'S OFFICE", signed="2025-02-20", county="Lake")
    lee = agreement("FLORIDA", "LEE COUNTY SHERIFF'S OFFICE", signed="2025-06-20", county="Lee")
    feed(BASELINE + [lake])
    result = feed(BASELINE + [lee])
    assert types(result) == ["agreement.signed"]
    assert result.events[0]["agency"] == "LEE COUNTY SHERIFF'S OFFICE"


def test_state_and_model_spelling_noise_makes_no_event(feed):
    feed(BASELINE + [POLK])
    noisy = dict(POLK, STATE="FLORIDA ", **{"SUPPORT TYPE": "Task Force Model ",
                                          "LAW ENFORCEMENT AGENCY": "Polk County Sheriff\u2019s Office  "})
    assert feed(BASELINE + [noisy]).events == []


def test_flap_within_debounce_makes_no_event(feed):
    feed(BASELINE + [POLK])
    assert feed(BASELINE).events == []
    assert feed(BASELINE).events == []
    assert feed(BASELINE + [POLK]).events == []


def test_termination_needs_both_lists_and_days(feed):
    feed(BASELINE + [POLK])
    # Three lists without it, but only 1.5 days: not yet.
    assert [types(feed(BASELINE, days=0.5)) for _ in range(3)] == [[], [], []]
    # Days pass; the next list confirms it.
    result = feed(BASELINE, days=5)
    assert types(result) == ["agreement.terminated"]
    event = result.events[0]
    assert event["agency"] == "POLK COUNTY SHERIFF'S OFFICE"
    assert event["last_listed"]["line"] == 32
    assert event["lists_without_it"] == 4


def test_back_after_termination_same_moa_is_reinstated(feed):
    feed(BASELINE + [POLK])
    for _ in range(4):  # 4 lists over 6 days: past the test policy's 3 lists and 5 days
        feed(BASELINE, days=2)
    assert "agreement.terminated" in [e["type"] for e in feed.events()]
    result = feed(BASELINE + [POLK])
    assert types(result) == ["agreement.reinstated"]


def test_back_after_termination_with_new_date_is_a_new_agreement(feed):
    feed(BASELINE + [POLK])
    for _ in range(4):  # 4 lists over 6 days: past the test policy's 3 lists and 5 days
        feed(BASELINE, days=2)
    renewed = dict(POLK, SIGNED="2025-11-06", MOA="https://www.ice.gov/doclib/287gMOA/PolkCoSO_TFM_MOA_1162025.pdf")
    result = feed(BASELINE + [renewed])
    assert types(result) == ["agreement.signed"]
    assert result.events[0]["signed"] == "2025-11-06"
    assert result.events[0]["uid"] != feed.events()[0].get("uid")


def test_new_signed_date_in_place_is_renewal_small_shift_is_correction(feed):
    feed(BASELINE + [POLK])
    shifted = feed(BASELINE + [dict(POLK, SIGNED="2025-02-25")])
    assert types(shifted) == ["agreement.corrected"]
    assert shifted.events[0]["changes"]["signed"] == {"old": "2025-02-26", "new": "2025-02-25"}
    renewed = feed(BASELINE + [dict(POLK, SIGNED="2025-05-08")])
    assert types(renewed) == ["agreement.renewed"]
    assert renewed.events[0]["previous_signed"] == "2025-02-25"
    assert renewed.events[0]["signed"] == "2025-05-08"


def test_duplicate_listing_removed_is_merged_not_terminated(feed):
    """ICE listed one agreement under two spellings, then dropped one."""
    twin = dict(POLK, **{"LAW ENFORCEMENT AGENCY": "POLK COUNTY SHERIFFS OFFICE - FL"})
    feed(BASELINE + [POLK, twin])
    for _ in range(4):
        assert feed(BASELINE + [POLK], days=2).events == []
    records = {r["agency"]: r for r in feed.store.read().agreements.all()}
    assert records["POLK COUNTY SHERIFFS OFFICE - FL"]["status"] == "merged"


def test_other_model_of_same_agency_is_a_separate_agreement(feed):
    wso = dict(POLK, **{"SUPPORT TYPE": "Warrant Service Officer"})
    feed(BASELINE + [POLK, wso])
    results = [feed(BASELINE + [POLK], days=2) for _ in range(4)]
    ended = [e for r in results for e in r.events]
    assert [e["type"] for e in ended] == ["agreement.terminated"]
    assert ended[0]["model"] == "Warrant Service Officer"


def test_unreadable_signed_is_flagged_and_row_kept(feed):
    feed(BASELINE)
    odd = [dict(POLK, SIGNED="05/082025"), agreement("TEXAS", "Hays County Sheriff's Office", signed="2025-13-45")]
    result = feed(BASELINE + odd)
    signed = {e["agency"]: e["signed"] for e in result.events}
    assert signed == {"POLK COUNTY SHERIFF'S OFFICE": "2025-05-08", "Hays County Sheriff's Office": None}
    notes = feed.store.read().snapshots.get(result.snapshot_id)["notes"]
    assert any("'05/082025' read as 2025-05-08" in n for n in notes)
    assert any("2025-13-45" in n for n in notes)


def test_same_file_again_writes_nothing(tmp_path):
    store = Store(tmp_path / "data")
    content = workbook_bytes(BASELINE)

    def snapshot(observed_at):
        return snapshot_from_workbook("ice", "participating", observed_at, "x.xlsx", content)

    with store.write() as db:
        assert ingest(db, snapshot("2025-06-03T09:00:00Z"), POLICY).verdict == "baseline"
    before = store.path.read_bytes()
    with store.write() as db:
        again = ingest(db, snapshot("2025-06-04T09:00:00Z"), POLICY)
    assert again.verdict == "unchanged"
    assert store.path.read_bytes() == before


# --- identity: issue 14's patterns, and their opposites, on both lists --------

HAYS = agreement("TEXAS", "Hays County Sheriff's Office", county="Hays County")
SIGNED_ON = "2025-05-20"

# (an earlier agency, a new agency named like it, their county): two agencies.
OTHER_AGENCY = [
    pytest.param("Lakeland Police Department", "Lake County Sheriff's Office", "Lake County", id="kind"),
    pytest.param("Galveston County Constable Precinct 2", "Galveston County Constable Precinct 3",
                 "Galveston County", id="number"),
    pytest.param("Manheim City Borough Police Department", "Manheim Township Police Department",
                 "Lancaster County", id="level"),
]
# (a spelling, a re-spelling, county before, county after): one agency.
SAME_AGENCY = [
    pytest.param("Lampass County Sheriff's Office", "Lampasas County Sheriff's Office",
                 "Lampasas County", "Lampasas County", id="typo-fix"),
    pytest.param("Polk County Sheriffs Office", "Polk County Sheriff's Office", "Polk County", "Polk County",
                 id="sheriffs-apostrophe"),
    pytest.param("Calacasieu Parish Sheriff's Office", "Calcasieu Parish Sheriff's Office",
                 "Calacasieu Parish", "Calcasieu Parish", id="county-re-spelt"),
]


def applicant(name, county, signed=None):
    return agreement("TEXAS", name, county=county, signed=signed)


def agencies(result, event_type):
    return [e["agency"] for e in result.events if e["type"] == event_type]


def open_pending(feed, rows):
    """A pending baseline, then a list that adds ``rows``."""
    feed([HAYS], kind="pending")
    return feed([HAYS, *rows], kind="pending")


@pytest.mark.parametrize("settled_as", ["signed", "withdrawn"])
@pytest.mark.parametrize("earlier,newer,county", OTHER_AGENCY)
def test_settled_application_never_absorbs_another_agency(feed, earlier, newer, county, settled_as):
    feed(BASELINE)
    assert agencies(open_pending(feed, [applicant(earlier, county)]), "pending.added") == [earlier]
    if settled_as == "signed":
        signed = feed(BASELINE + [applicant(earlier, county, SIGNED_ON)])
        assert [e["from_pending"] for e in signed.events] == [True]
    else:
        gone = [feed([HAYS], kind="pending", days=2) for _ in range(4)]
        assert agencies(gone[-1], "pending.withdrawn") == [earlier]
    result = feed([HAYS, applicant(newer, county)], kind="pending")
    assert types(result) == ["pending.added"]
    assert result.events[0]["agency"] == newer


@pytest.mark.parametrize("earlier,newer,county", OTHER_AGENCY)
def test_another_agency_applying_as_an_application_leaves_is_announced(feed, earlier, newer, county):
    open_pending(feed, [applicant(earlier, county)])
    result = feed([HAYS, applicant(newer, county)], kind="pending")
    assert agencies(result, "pending.added") == [newer]
    later = [feed([HAYS, applicant(newer, county)], kind="pending", days=2) for _ in range(4)]
    assert [e["agency"] for r in later for e in r.events] == [earlier]  # withdrawn after the debounce


@pytest.mark.parametrize("earlier,newer,county", OTHER_AGENCY)
def test_new_application_is_not_taken_for_another_agencys_agreement(feed, earlier, newer, county):
    feed(BASELINE + [applicant(earlier, county, SIGNED_ON)])
    result = open_pending(feed, [applicant(newer, county)])
    assert agencies(result, "pending.added") == [newer]


@pytest.mark.parametrize("earlier,newer,county", OTHER_AGENCY)
def test_signing_is_not_linked_to_another_agencys_application(feed, earlier, newer, county):
    feed(BASELINE)
    open_pending(feed, [applicant(earlier, county)])
    signed = feed(BASELINE + [applicant(newer, county, SIGNED_ON)])
    assert [(e["agency"], e["from_pending"]) for e in signed.events] == [(newer, False)]
    pending = feed.store.read().pending.all()
    assert [r["status"] for r in pending if r["agency"] == earlier] == ["listed"]


@pytest.mark.parametrize("earlier,newer,county", OTHER_AGENCY)
def test_new_agreement_named_like_a_departed_one_is_signed_not_a_correction(feed, earlier, newer, county):
    """ICE's new rows often carry no readable SIGNED yet: the names decide."""
    feed(BASELINE + [applicant(earlier, county, SIGNED_ON)])
    result = feed(BASELINE + [applicant(newer, county, signed=None)])
    assert types(result) == ["agreement.signed"]
    assert result.events[0]["agency"] == newer


def test_batch_signing_elsewhere_as_an_agreement_leaves_is_signed_not_a_rename(feed):
    """Same state, model and signing date, another agency and county."""
    feed(BASELINE + [agreement("FLORIDA", "Haines City Police Department", signed=SIGNED_ON, county="Polk")])
    result = feed(BASELINE + [agreement("FLORIDA", "Dade City Police Department", signed=SIGNED_ON, county="Pasco")])
    assert types(result) == ["agreement.signed"]
    assert result.events[0]["agency"] == "Dade City Police Department"


@pytest.mark.parametrize("old,new,county_before,county_after", SAME_AGENCY)
def test_application_re_spelled_is_the_same_application(feed, old, new, county_before, county_after):
    open_pending(feed, [applicant(old, county_before)])
    assert feed([HAYS, applicant(new, county_after)], kind="pending").events == []
    later = [feed([HAYS, applicant(new, county_after)], kind="pending", days=2) for _ in range(4)]
    assert [r.events for r in later] == [[], [], [], []]


@pytest.mark.parametrize("old,new,county_before,county_after", SAME_AGENCY)
def test_signed_application_re_spelled_on_the_lagging_list_is_not_new(feed, old, new, county_before, county_after):
    """ICE's pending list keeps signed applications for weeks, sometimes re-spelled."""
    feed(BASELINE)
    open_pending(feed, [applicant(old, county_before)])
    feed(BASELINE + [applicant(old, county_before, SIGNED_ON)])
    assert feed([HAYS, applicant(new, county_after)], kind="pending").events == []


@pytest.mark.parametrize("old,new,county_before,county_after", SAME_AGENCY)
def test_agreement_re_spelled_is_corrected(feed, old, new, county_before, county_after):
    feed(BASELINE + [applicant(old, county_before, SIGNED_ON)])
    result = feed(BASELINE + [applicant(new, county_after, SIGNED_ON)])
    assert types(result) == ["agreement.corrected"]
    assert result.events[0]["changes"]["agency"] == {"old": old, "new": new}


@pytest.mark.parametrize("old,new,county_before,county_after", SAME_AGENCY)
def test_signing_re_spelled_is_linked_to_its_application(feed, old, new, county_before, county_after):
    feed(BASELINE)
    open_pending(feed, [applicant(old, county_before)])
    signed = feed(BASELINE + [applicant(new, county_after, SIGNED_ON)])
    assert [(e["agency"], e["from_pending"]) for e in signed.events] == [(new, True)]


def test_re_application_after_a_withdrawal_is_a_new_application(feed):
    open_pending(feed, [applicant("Smith County Constable Precinct 4", "Smith County")])
    gone = [feed([HAYS], kind="pending", days=2) for _ in range(4)]
    assert types(gone[-1]) == ["pending.withdrawn"]
    again = feed([HAYS, applicant("Smith County Constable Precinct 4", "Smith County")], kind="pending")
    assert types(again) == ["pending.added"]
    assert again.events[0]["uid"] != gone[-1].events[0]["uid"]
    statuses = sorted(r["status"] for r in feed.store.read().pending.all()
                      if r["agency"] == "Smith County Constable Precinct 4")
    assert statuses == ["listed", "withdrawn"]
