"""The delivery ledger: one record per (event, subscription), sent exactly once.

``deliveries`` tells the journal (state/journal.py) which rows each new event
needs, inside the write session that records the event, so an event and its
deliveries reach the disk together. ``deliver_due`` sends what is due in
three steps, each its own commit:

1. claim: the due records of one destination and cadence become one batch,
   marked ``sending`` with the batch's token; commit;
2. send the batch through its transport (alerts/transports.py), outside any
   lock on the state;
3. record: ``sent``, or back to ``pending`` with the error and an
   exponential back-off; commit.

A crash between 2 and 3 leaves records ``sending``: in doubt; so does a
Slack post whose answer was lost while the channel could not be read back
to tell whether it was posted (alerts/slack.py). The next run
(holding the delivery lock, so no other run can still be sending them)
settles them first: Slack bot channels are read back (every message carries
its batch token in metadata) and only what is missing is sent again; e-mail
and webhooks cannot be read back, so the batch is resent as an identical
copy (same Message-ID, same content). docs/alerts.md states these limits.

Record fields: key ("event_id:subscription_id"), event_id, subscription_id,
destination, cadence, status (pending | sending | sent | cancelled), due
(False while a digest item waits for its digest), queued_at, attempts,
next_attempt_at, last_error, last_error_at, batch, batch_at, sent_at.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Sequence

from filelock import FileLock, Timeout
from watch287g.alerts.links import linkable
from watch287g.alerts.router import is_operator_route, operator_routes, routes_for
from watch287g.alerts.settings import AlertSettings, OutboxSettings
from watch287g.alerts.subscriptions import (
    ACTIVE,
    PAUSED,
    SMTP_REFUSAL,
    Subscription,
    all_subscriptions,
    describe_destination,
    set_status,
    stored_subscriptions,
)
from watch287g.core import events as ev
from watch287g.core.timeutil import aware, parse_iso, to_iso, utcnow
from watch287g.state import journal

if TYPE_CHECKING:
    from watch287g.alerts.slack import SendResult
    from watch287g.alerts.transports import Batch

PENDING, SENDING, SENT, CANCELLED = "pending", "sending", "sent", "cancelled"
DELIVERY_LOCK = "delivery.lock"
FAILING_META = "outbox:failing"          # destinations already reported as failing
# Test-only hook: with this variable set to 1 the process kills itself right
# after a transport reports success and before the result is recorded, the
# very window crash recovery exists for (tests/test_alerts_exactly_once.py).
CRASH_AFTER_SEND_ENV = "WATCH287G_TEST_CRASH_AFTER_SEND"

log = logging.getLogger(__name__)


def _iso(now: str | dt.datetime) -> str:
    return now if isinstance(now, str) else to_iso(now)


def deliveries(db, settings: AlertSettings, fixed: Sequence[Subscription],
               now: str | dt.datetime) -> Callable[[dict], list[dict]]:
    """For the journal: the outbox rows a recorded event needs — one per
    matching delivering subscription; operator events go to the [operator]
    destinations only. The stored subscriptions are read once, now, from
    this write session."""
    subscriptions = all_subscriptions(db, fixed)
    stamp = _iso(now)

    def rows(event: dict) -> list[dict]:
        if not isinstance(event.get("id"), int) or isinstance(event.get("id"), bool):
            raise ValueError(f"deliveries need recorded events with an integer id, got {event.get('id')!r}")
        return [{"key": f"{event['id']}:{route.subscription_id}", "event_id": event["id"],
                 "subscription_id": route.subscription_id, "destination": route.destination,
                 "cadence": route.cadence, "status": PENDING, "due": route.cadence == "instant",
                 "queued_at": stamp, "attempts": 0, "next_attempt_at": stamp, "last_error": None,
                 "last_error_at": None, "batch": None, "batch_at": None, "sent_at": None}
                for route in routes_for(event, subscriptions, settings.operator)]

    return rows


def release_digest(db, cadence: str, now: str | dt.datetime) -> int:
    """Make the queued items of a digest cadence due now."""
    return db.outbox.update_waiting(
        lambda row: row["status"] == PENDING and row["cadence"] == cadence and not row["due"],
        lambda row: {"due": True, "next_attempt_at": _iso(now)})


def cancel_undeliverable(db, settings: AlertSettings, fixed: Sequence[Subscription], now: str | dt.datetime) -> int:
    """Cancel undelivered records whose subscription was removed or paused
    (or whose operator destination is gone): unsubscribing stops delivery at
    once, and a resumed subscription gets only what happens after."""
    live = {s.id for s in all_subscriptions(db, fixed) if s.delivers}
    live |= {route.subscription_id for route in operator_routes(settings.operator)}
    return db.outbox.update_waiting(
        lambda row: row["status"] == PENDING and row["subscription_id"] not in live,
        lambda row: {"status": CANCELLED,
                     "last_error": f"subscription {row['subscription_id']} stopped at {_iso(now)}"})


def backoff_seconds(attempts: int, settings: OutboxSettings) -> float:
    return min(settings.retry_base_seconds * 2 ** max(attempts - 1, 0), settings.retry_max_seconds)


def deliver_due(store, settings: AlertSettings, fixed: Sequence[Subscription], now: dt.datetime | None = None, *,
                only_cadence: str | None = None) -> dict:
    """Send everything due (of one cadence, if given), batched per
    destination. Returns {sent, failed, pending, messages, batches, ...}:
    record counts, messages posted or mailed, and one line per batch."""
    now = aware(now) if now else utcnow()
    report = {"sent": 0, "failed": 0, "pending": 0, "messages": 0, "reconciled": 0, "batches": []}
    if not store.exists():
        return report
    lock = FileLock(str(store.data_dir / DELIVERY_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        # Another run is sending; it (or the next run) delivers what is due.
        report["busy"] = True
        return report
    try:
        for batch in _in_doubt_batches(store):
            _settle_in_doubt(store, settings, fixed, batch, now, report)
        for batch in _claim_due(store, settings, fixed, now, only_cadence):
            _send_and_record(store, settings, fixed, batch, now, report)
        report["pending"] = _count_unsent(store.read())
    finally:
        lock.release()
    return report


def _count_unsent(db) -> int:
    return len(db.outbox.waiting(lambda row: row["due"]))


def _load_batch(db, token: str, rows: list) -> Batch:
    # The transports (slack-sdk, smtplib, the renderers) load only when
    # something is to be sent: recording events and finding nothing due
    # (every check) need none of them.
    from watch287g.alerts.transports import Batch

    event_ids = sorted({row["event_id"] for row in rows})
    return Batch(token=token, destination=rows[0]["destination"], cadence=rows[0]["cadence"],
                 batch_at=parse_iso(rows[0]["batch_at"]), events=[dict(db.events.get(i)) for i in event_ids],
                 subscription_ids=sorted({row["subscription_id"] for row in rows}))


def _in_doubt_batches(store) -> list[Batch]:
    db = store.read()
    by_token: dict[str, list] = defaultdict(list)
    for row in db.outbox.waiting(lambda row: row["status"] == SENDING):
        by_token[row["batch"]].append(row)
    return [_load_batch(db, token, rows) for token, rows in by_token.items()]


def _claim_due(store, settings: AlertSettings, fixed: Sequence[Subscription], now: dt.datetime,
               only_cadence: str | None) -> list[Batch]:
    """Group due records per (destination, cadence) and mark them sending."""
    with store.write() as db:
        cancel_undeliverable(db, settings, fixed, now)
        due = db.outbox.waiting(lambda row: row["status"] == PENDING and row["due"]
                              and parse_iso(row["next_attempt_at"]) <= now
                              and (only_cadence is None or row["cadence"] == only_cadence))
        tokens = {group: uuid.uuid4().hex for group in sorted({(r["destination"], r["cadence"]) for r in due})}
        due_keys = {row["key"] for row in due}
        db.outbox.update_waiting(lambda row: row["key"] in due_keys,
                         lambda row: {"status": SENDING, "batch": tokens[(row["destination"], row["cadence"])],
                                      "batch_at": to_iso(now)})
        return [_load_batch(db, token, _batch_rows(db, token)) for token in tokens.values()]


def _settle_in_doubt(store, settings: AlertSettings, fixed: Sequence[Subscription], batch: Batch,
                     now: dt.datetime, report: dict) -> None:
    from watch287g.alerts.slack import ReconcileError
    from watch287g.alerts.transports import transport_for

    transport = transport_for(batch, settings)
    if transport.readable_back:
        try:
            delivered = transport.find_delivered(batch)
        except ReconcileError as err:
            if err.transient:
                log.warning("batch %s to %s is in doubt and Slack cannot be read now (%s); will retry",
                            batch.token, batch.destination, err)
                _note_in_doubt(store, batch, f"in doubt; cannot read the channel back: {err}", now)
                return
            # Slack refuses the read (e.g. no channels:history scope): resending
            # risks a duplicate, waiting would never end. Say so and resend.
            log.warning("batch %s to %s is in doubt and cannot be checked (%s): resending",
                        batch.token, batch.destination, err)
        else:
            _reconcile(store, batch, delivered or set(), now)
            report["reconciled"] += len(delivered or ())
            return
    # E-mail and webhooks: resend the identical batch (same token, so the
    # same Message-ID and the same bytes).
    _send_and_record(store, settings, fixed, batch, now, report)


def _note_in_doubt(store, batch: Batch, error: str, now: dt.datetime) -> None:
    with store.write() as db:
        db.outbox.update_waiting(_in_batch(batch.token),
                                 lambda row: {"last_error": error, "last_error_at": to_iso(now)})


def _reconcile(store, batch: Batch, delivered: set[int], now: dt.datetime) -> None:
    """Read-back result: what Slack shows is sent; the rest is due again now
    (it was never posted, so this costs no attempt)."""
    with store.write() as db:
        db.outbox.update_waiting(_in_batch(batch.token), lambda row: (
            {"status": SENT, "sent_at": to_iso(now), "last_error": None} if row["event_id"] in delivered
            else {"status": PENDING, "batch": None, "next_attempt_at": to_iso(now)}))


def _in_batch(token: str) -> Callable:
    return lambda row: row["status"] == SENDING and row["batch"] == token


def _batch_rows(db, token: str) -> list:
    return db.outbox.waiting(_in_batch(token))


def reasons(batch: Batch, subscriptions: dict[str, Subscription], settings: AlertSettings) -> list[str]:
    """Why the reader receives this batch and how to stop it, one line per
    subscription (alerts/render_email.py words it); the stored ones of an
    e-mail say "the links below" when the web app is published."""
    from watch287g.alerts.render_email import footer_lines

    served = [subscriptions[sub_id] for sub_id in batch.subscription_ids if sub_id in subscriptions]
    operator = any(is_operator_route(sub_id) for sub_id in batch.subscription_ids)
    linked = set(linkable(batch.subscription_ids)) if batch.kind == "email" and settings.links else set()
    return footer_lines(served, operator, settings.email, linked)


def _send_and_record(store, settings: AlertSettings, fixed: Sequence[Subscription], batch: Batch,
                     now: dt.datetime, report: dict) -> None:
    from watch287g.alerts.transports import transport_for

    subscriptions = {s.id: s for s in all_subscriptions(store.read(), fixed)}
    result = transport_for(batch, settings).send(batch, reasons(batch, subscriptions, settings))
    if result.error is None and os.environ.get(CRASH_AFTER_SEND_ENV) == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    _record(store, settings, fixed, batch, result, now, report)


def _record(store, settings: AlertSettings, fixed: Sequence[Subscription], batch: Batch, result: SendResult,
            now: dt.datetime, report: dict) -> None:
    delivered = set(result.delivered)

    def outcome(row) -> dict:
        attempts = row["attempts"] + 1
        if row["event_id"] in delivered:
            return {"attempts": attempts, "status": SENT, "sent_at": to_iso(now), "last_error": None}
        if result.in_doubt:
            # Maybe posted; stays SENDING, so the next run reads it back first.
            return {"attempts": attempts, "last_error": result.error, "last_error_at": to_iso(now)}
        retry_at = now + dt.timedelta(seconds=backoff_seconds(attempts, settings.outbox))
        return {"attempts": attempts, "status": PENDING, "batch": None, "last_error": result.error,
                "last_error_at": to_iso(now), "next_attempt_at": to_iso(retry_at)}

    with store.write() as db:
        rows = _batch_rows(db, batch.token)
        attempts = max((row["attempts"] + 1 for row in rows if row["event_id"] not in delivered), default=0)
        sent = sum(1 for row in rows if row["event_id"] in delivered)
        db.outbox.update_waiting(_in_batch(batch.token), outcome)
        report["sent"] += sent
        report["failed"] += len(rows) - sent
        if result.permanent:
            _pause_refused(db, settings, fixed, batch, result.error, now)
        _track_failing(db, settings, fixed, batch.destination, attempts, result.error, now)
    report["messages"] += result.messages
    report["batches"].append({"destination": batch.destination, "cadence": batch.cadence,
                              "events": len(batch.events), "delivered": len(delivered),
                              "messages": result.messages, "error": result.error})
    if result.error:
        log.warning("delivery to %s failed (%d of %d events sent): %s", batch.destination,
                    len(delivered), len(batch.events), result.error)
    else:
        log.info("delivered %d events to %s in %d messages", len(delivered), batch.destination, result.messages)


def _pause_refused(db, settings: AlertSettings, fixed: Sequence[Subscription], batch: Batch, error: str,
                   now: dt.datetime) -> None:
    """The destination refused for good (a mail server's 5xx at RCPT or
    DATA): pause the batch's stored subscriptions and cancel what they would
    still get. Config and operator destinations cannot be paused here; they
    keep retrying and the operator hears of them as failing."""
    stored = {s.id: s for s in stored_subscriptions(db)}
    for sub_id in batch.subscription_ids:
        if sub_id in stored and stored[sub_id].status == ACTIVE:
            set_status(db, fixed, sub_id, PAUSED, SMTP_REFUSAL, to_iso(now), why=error)
            log.warning("paused %s: the mail server refuses %s for good (%s)", sub_id, batch.target, error)
    cancel_undeliverable(db, settings, fixed, now)


def _track_failing(db, settings: AlertSettings, fixed: Sequence[Subscription], destination: str, attempts: int,
                   error: str | None, now: dt.datetime) -> None:
    """Tell the operator once per outage that a destination keeps failing."""
    failing = db.meta.get(FAILING_META, {})
    if error is None:
        if failing.pop(destination, None) is not None:
            db.meta.set(FAILING_META, failing)
        return
    if attempts < settings.outbox.failing_after_attempts or destination in failing:
        return
    failing[destination] = to_iso(now)
    db.meta.set(FAILING_META, failing)
    event = ev.operator_event(
        ev.DELIVERY_FAILING, to_iso(now),
        f"{describe_destination(destination)}: {attempts} failed attempts; last error: {error}",
        destination=destination, attempts=attempts, last_error=error)
    journal.record(db, [event], deliveries(db, settings, fixed, now))


def status(db, now: dt.datetime | None = None) -> dict:
    """What ``watch287g outbox`` shows: undelivered records per destination
    and cadence, with why they are waiting. ``last_error`` is the newest
    error of the group (the one the operator can act on)."""
    now = now or utcnow()
    rows: dict[tuple[str, str], dict] = {}
    failing = db.meta.get(FAILING_META, {})
    newest_error_at: dict[tuple[str, str], str] = {}
    for doc in db.outbox.waiting():
        group = (doc["destination"], doc["cadence"])
        row = rows.setdefault(group, {
            "destination": doc["destination"], "cadence": doc["cadence"], "records": 0, "due_now": 0,
            "awaiting_digest": 0, "retrying": 0, "in_doubt": 0, "max_attempts": 0, "next_attempt_at": None,
            "oldest_queued_at": doc["queued_at"], "last_error": None,
            "failing_since": failing.get(doc["destination"])})
        row["records"] += 1
        row["oldest_queued_at"] = min(row["oldest_queued_at"], doc["queued_at"])
        row["max_attempts"] = max(row["max_attempts"], doc["attempts"])
        error_at = doc.get("last_error_at") or ""
        if doc["last_error"] and error_at >= newest_error_at.get(group, ""):
            newest_error_at[group] = error_at
            row["last_error"] = doc["last_error"]
        if doc["status"] == SENDING:
            row["in_doubt"] += 1
        elif not doc["due"]:
            row["awaiting_digest"] += 1
        elif parse_iso(doc["next_attempt_at"]) <= now:
            row["due_now"] += 1
        else:
            row["retrying"] += 1
            if row["next_attempt_at"] is None or doc["next_attempt_at"] < row["next_attempt_at"]:
                row["next_attempt_at"] = doc["next_attempt_at"]
    return {"totals": db.outbox.totals(), "waiting": sorted(rows.values(), key=lambda r: (r["destination"], r["cadence"]))}
