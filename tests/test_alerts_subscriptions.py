"""Subscriptions: filters, config tables, routing to the outbox."""

from __future__ import annotations

import pytest
from watch287g.alerts.subscriptions import (
    SubscriptionError,
    config_subscriptions,
    make_destination,
    make_filter,
)
from watch287g.core import events as ev
from watch287g.core.config import ConfigError
from watch287g.state import journal
from watch287g.state.store import Store

from tests.support.alerts_env import (
    agreement_event,
    outbox_docs,
    queue_for,
    record,
    write_config,
)


def test_states_take_codes_or_names_and_models_take_codes_or_names():
    chosen = make_filter(states=["fl", "Texas", "GEORGIA"], models=["TFM", "jail enforcement model"])
    assert chosen.states == ("FL", "TX", "GA")
    assert chosen.models == ("Task Force Model", "Jail Enforcement Model")


@pytest.mark.parametrize("kwargs, message", [
    ({"states": ["Floridaa"]}, "unknown state"),
    ({"models": ["Task Farce"]}, "unknown model"),
    ({"types": ["signed-ish"]}, "unknown event type"),
    ({"types": ["source.failing"]}, "operator event"),
])
def test_bad_filter_values_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(SubscriptionError, match=message):
        make_filter(**kwargs)


def test_default_types_leave_out_corrections():
    default = make_filter()
    assert ev.CORRECTED not in default.types and ev.SIGNED in default.types and ev.PAGE_CHANGED in default.types
    assert make_filter(types=["corrected", "agreement.signed"]).types == (ev.CORRECTED, ev.SIGNED)


def test_filter_matching():
    polk = agreement_event()
    assert make_filter(states=["FL"], counties=["polk"]).matches(polk)
    assert make_filter(counties=["Polk County"]).matches(polk)
    assert make_filter(agency_contains="sheriffs office").matches(polk)
    assert not make_filter(agency_contains="police").matches(polk)
    assert not make_filter(models=["WSO"]).matches(polk)
    assert not make_filter(states=["GA"]).matches(polk)
    assert not make_filter(types=["terminated"]).matches(polk)


def test_destinations_are_checked():
    assert make_destination(None, None, "Reporter@News.Example") == "email:reporter@news.example"
    for bad in [("#general", None, None), (None, "https://hooks.slack.com/x", None), (None, None, "a@b\r\nBcc: c"),
                (None, None, None), ("C0123ABCD", None, "a@b.org")]:
        with pytest.raises(SubscriptionError):
            make_destination(*bad)


def test_config_subscriptions_need_a_unique_name_and_known_keys(tmp_path):
    good = write_config(tmp_path, """
[[subscriptions]]
name = "tfm-reporter"
email = "reporter@news.example"
states = ["FL", "Texas", "GA"]
models = ["TFM"]
cadence = "daily"
""")
    [sub] = config_subscriptions(good)
    assert sub.id == "config:tfm-reporter" and sub.cadence == "daily" and sub.filter.states == ("FL", "TX", "GA")

    for text, message in [
        ('[[subscriptions]]\nemail = "a@b.org"\n', "needs a name"),
        ('[[subscriptions]]\nname = "x"\nemail = "a@b.org"\nstate = ["FL"]\n', "unknown key 'state'"),
        ('[[subscriptions]]\nname = "x"\nemail = "a@b.org"\ncadence = "hourly"\n', "cadence"),
        ('[[subscriptions]]\nname = "x"\nemail = "a@b.org"\n[[subscriptions]]\nname = "x"\nemail = "c@d.org"\n',
         "used twice"),
        ('[[subscriptions]]\nname = "s1"\nemail = "a@b.org"\n', "needs a name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            config_subscriptions(write_config(tmp_path, text))


def test_deliveries_route_and_are_idempotent(tmp_path):
    config = write_config(tmp_path, """
[[subscriptions]]
name = "organizer"
slack_channel = "C0123ABCD"
states = ["FL"]

[[subscriptions]]
name = "researcher"
email = "researcher@uni.example"
cadence = "weekly"

[operator]
email = "ops@watch287g.example"
""")
    store = Store(tmp_path / "data")
    florida, texas = agreement_event(line=1), agreement_event(state="TX", line=2)
    failing = ev.operator_event(ev.SOURCE_FAILING, "2025-03-01T18:00:00Z", "ice: HTTP 503 three times")
    record(store, [florida, texas, failing], config)

    docs = {(d["event_id"], d["subscription_id"]): d for d in outbox_docs(store)}
    assert set(docs) == {(florida["id"], "config:organizer"), (florida["id"], "config:researcher"),
                         (texas["id"], "config:researcher"), (failing["id"], "operator:email:ops@watch287g.example")}
    assert docs[(florida["id"], "config:organizer")]["due"] is True
    assert docs[(florida["id"], "config:researcher")]["due"] is False          # waits for the weekly digest

    with store.write() as db:
        assert journal.queue(db, [florida, texas, failing], queue_for(db, config)) == 0
    assert len(outbox_docs(store)) == 4


def test_deliveries_refuse_unrecorded_events(tmp_path):
    config = write_config(tmp_path, "")
    with Store(tmp_path / "data").write() as db, pytest.raises(ValueError, match="integer id"):
        journal.queue(db, [agreement_event()], queue_for(db, config))
