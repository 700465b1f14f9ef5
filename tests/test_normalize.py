"""The normaliser's blank rule: spreadsheet error values and their look-alikes."""

from __future__ import annotations

import datetime as dt

import pytest
from watch287g.core import normalize as norm

# Excel's error values, and what ICE's files show instead of them: "#NA" and
# "#n?A" typed as text (both in 2025's real lists, the second as a county).
ERROR_LOOKALIKES = ["#N/A", "#NA", "#n?A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!",
                    "#SPILL!", "#CALC!", "#GETTING_DATA", "#N/A ", " #na", "#Value!"]


@pytest.mark.parametrize("raw", ERROR_LOOKALIKES)
def test_error_values_and_look_alikes_read_as_blank(raw):
    assert norm.optional_text(raw) is None                       # county, free text
    assert norm.agency_type(raw) is None
    assert norm.model_name(raw) == (None, "missing model")
    assert norm.state_code(raw) == (None, "missing state")
    assert norm.signed_date(raw, dt.date(2025, 6, 1)) == (None, None)


@pytest.mark.parametrize("raw", ["Polk County", "#1 Fire District", "# Polk", "N/A County", "Polk #2",
                                 "#Polk County Sheriff's Office"])
def test_text_that_merely_contains_a_hash_is_kept(raw):
    assert norm.optional_text(raw) == raw.strip()
