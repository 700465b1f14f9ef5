"""The delivery ledger: one record per (event, subscription), sent exactly once.

``enqueue`` runs inside the write session that recorded the events, so an
event and its deliveries reach the disk together. ``deliver_due`` sends what
is due in three steps, each its own commit:

1. claim: the due records of one destination and cadence become one batch,
   marked ``sending`` with the batch's token; commit;
2. send the batch (Slack or SMTP), outside any lock on the state;
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
next_attempt_at, last_error, batch, batch_at, sent_at.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import uuid
from collections import defaultdict

from filelock import FileLock, Timeout
from watch287g.alerts import dispatch
from watch287g.alerts.dispatch import Batch
from watch287g.alerts.router import operator_routes, routes_for
from watch287g.alerts.settings import AlertSettings, OutboxSettings
from watch287g.alerts.slack import ReconcileError, SendResult
from watch287g.alerts.subscriptions import (
    Subscription,
    all_subscriptions,
    describe_destination,
)
from watch287g.core import events as ev
from watch287g.core.config import Config
from watch287g.core.timeutil import aware, parse_iso, to_iso, utcnow

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


def enqueue(db, events: list[dict], config: Config, now: str | dt.datetime) -> int:
    """Queue recorded events (each with an integer ``id``) for every matching
    subscription, operator events for the [operator] destinations only.
    Call inside the write session that recorded them. Idempotent: one record
    per (event, subscription). Returns the number of records queued."""
    settings = AlertSettings.from_config(config)
    subscriptions = all_subscriptions(db, config)
    stamp = _iso(now)
    existing = {doc["key"] for doc in db.raw_table("outbox").values()}
    new = []
    for event in events:
        if not isinstance(event.get("id"), int) or isinstance(event.get("id"), bool):
            raise ValueError(f"enqueue needs recorded events with an integer id, got {event.get('id')!r}")
        for route in routes_for(event, subscriptions, settings.operator):
            key = f"{event['id']}:{route.subscription_id}"
            if key in existing:
                continue
            existing.add(key)
            new.append({"key": key, "event_id": event["id"], "subscription_id": route.subscription_id,
                        "destination": route.destination, "cadence": route.cadence, "status": PENDING,
                        "due": route.cadence == "instant", "queued_at": stamp, "attempts": 0,
                        "next_attempt_at": stamp, "last_error": None, "batch": None, "batch_at": None,
                        "sent_at": None})
    if new:
        db.table("outbox").insert_multiple(new)
    return len(new)


def release_digest(db, cadence: str, now: str | dt.datetime) -> int:
    """Make the queued items of a digest cadence due now."""
    released = 0
    for doc in db.raw_table("outbox").values():
        if doc["status"] == PENDING and doc["cadence"] == cadence and not doc["due"]:
            doc.update(due=True, next_attempt_at=_iso(now))
            released += 1
    if released:
        db.mark_dirty()
    return released


def cancel_orphans(db, config: Config, now: str | dt.datetime) -> int:
    """Cancel undelivered records whose subscription (or operator
    destination) no longer exists: unsubscribing stops delivery at once."""
    live = _live_subscription_ids(db, config)
    cancelled = 0
    for doc in db.raw_table("outbox").values():
        if doc["status"] == PENDING and doc["subscription_id"] not in live:
            doc.update(status=CANCELLED, last_error=f"subscription {doc['subscription_id']} removed "
                                                    f"at {_iso(now)}")
            cancelled += 1
    if cancelled:
        db.mark_dirty()
    return cancelled


def _live_subscription_ids(db, config: Config) -> set[str]:
    operator = AlertSettings.from_config(config).operator
    return {s.id for s in all_subscriptions(db, config)} | {r.subscription_id for r in operator_routes(operator)}


def backoff_seconds(attempts: int, settings: OutboxSettings) -> float:
    return min(settings.retry_base_seconds * 2 ** max(attempts - 1, 0), settings.retry_max_seconds)


def deliver_due(store, config: Config, now: dt.datetime | None = None, *, only_cadence: str | None = None) -> dict:
    """Send everything due (of one cadence, if given), batched per
    destination. Returns {sent, failed, pending, messages, batches, ...}:
    record counts, messages posted or mailed, and one line per batch."""
    settings = AlertSettings.from_config(config)   # bad config: fail before touching anything
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
            _settle_in_doubt(store, settings, config, batch, now, report)
        for batch in _claim_due(store, config, now, only_cadence):
            _send_and_record(store, settings, config, batch, now, report)
        report["pending"] = _count_unsent(store.read())
    finally:
        lock.release()
    return report


def _count_unsent(db) -> int:
    return sum(1 for doc in db.raw_table("outbox").values() if doc["status"] in (PENDING, SENDING) and doc["due"])


def _load_batch(db, token: str, docs: list[dict]) -> Batch:
    events = db.raw_table("events")
    event_ids = sorted({doc["event_id"] for doc in docs})
    return Batch(token=token, destination=docs[0]["destination"], cadence=docs[0]["cadence"],
                 batch_at=parse_iso(docs[0]["batch_at"]), events=[events[str(i)] for i in event_ids],
                 subscription_ids=sorted({doc["subscription_id"] for doc in docs}))


def _in_doubt_batches(store) -> list[Batch]:
    db = store.read()
    by_token: dict[str, list[dict]] = defaultdict(list)
    for doc in db.raw_table("outbox").values():
        if doc["status"] == SENDING:
            by_token[doc["batch"]].append(doc)
    return [_load_batch(db, token, docs) for token, docs in by_token.items()]


def _claim_due(store, config: Config, now: dt.datetime, only_cadence: str | None) -> list[Batch]:
    """Group due records per (destination, cadence) and mark them sending."""
    with store.write() as db:
        cancel_orphans(db, config, now)
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for doc in db.raw_table("outbox").values():
            if (doc["status"] == PENDING and doc["due"] and parse_iso(doc["next_attempt_at"]) <= now
                    and (only_cadence is None or doc["cadence"] == only_cadence)):
                groups[(doc["destination"], doc["cadence"])].append(doc)
        batches = []
        for docs in groups.values():
            token = uuid.uuid4().hex
            for doc in docs:
                doc.update(status=SENDING, batch=token, batch_at=to_iso(now))
            batches.append(_load_batch(db, token, docs))
        if batches:
            db.mark_dirty()
    return batches


def _settle_in_doubt(store, settings: AlertSettings, config: Config, batch: Batch, now: dt.datetime,
                     report: dict) -> None:
    if batch.readable_back:
        try:
            delivered = dispatch.find_delivered(batch, settings)
        except ReconcileError as err:
            if err.transient:
                log.warning("batch %s to %s is in doubt and Slack cannot be read now (%s); will retry",
                            batch.token, batch.destination, err)
                _note_in_doubt(store, batch, f"in doubt; cannot read the channel back: {err}")
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
    _send_and_record(store, settings, config, batch, now, report)


def _note_in_doubt(store, batch: Batch, error: str) -> None:
    with store.write() as db:
        for doc in _batch_docs(db, batch.token):
            doc["last_error"] = error
        db.mark_dirty()


def _reconcile(store, batch: Batch, delivered: set[int], now: dt.datetime) -> None:
    """Read-back result: what Slack shows is sent; the rest is due again now
    (it was never posted, so this costs no attempt)."""
    with store.write() as db:
        for doc in _batch_docs(db, batch.token):
            if doc["event_id"] in delivered:
                doc.update(status=SENT, sent_at=to_iso(now), last_error=None)
            else:
                doc.update(status=PENDING, batch=None, next_attempt_at=to_iso(now))
        db.mark_dirty()


def _batch_docs(db, token: str) -> list[dict]:
    return [doc for doc in db.raw_table("outbox").values() if doc["status"] == SENDING and doc["batch"] == token]


def _send_and_record(store, settings: AlertSettings, config: Config, batch: Batch, now: dt.datetime,
                     report: dict) -> None:
    subscriptions = {s.id: s for s in _subscriptions(store, config)}
    result = dispatch.send_batch(batch, subscriptions, settings)
    if result.error is None and os.environ.get(CRASH_AFTER_SEND_ENV) == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    _record(store, settings, config, batch, result, now, report)


def _subscriptions(store, config: Config) -> list[Subscription]:
    return all_subscriptions(store.read(), config)


def _record(store, settings: AlertSettings, config: Config, batch: Batch, result: SendResult,
            now: dt.datetime, report: dict) -> None:
    delivered = set(result.delivered)
    with store.write() as db:
        docs = _batch_docs(db, batch.token)
        attempts = 0
        for doc in docs:
            doc["attempts"] += 1
            if doc["event_id"] in delivered:
                doc.update(status=SENT, sent_at=to_iso(now), last_error=None)
                report["sent"] += 1
            elif result.in_doubt:
                # Maybe posted; stays SENDING, so the next run reads it back first.
                doc["last_error"] = result.error
                attempts = max(attempts, doc["attempts"])
                report["failed"] += 1
            else:
                doc.update(status=PENDING, batch=None, last_error=result.error,
                           next_attempt_at=to_iso(now + dt.timedelta(
                               seconds=backoff_seconds(doc["attempts"], settings.outbox))))
                attempts = max(attempts, doc["attempts"])
                report["failed"] += 1
        db.mark_dirty()
        _track_failing(db, config, settings, batch.destination, attempts, result.error, now)
    report["messages"] += result.messages
    report["batches"].append({"destination": batch.destination, "cadence": batch.cadence,
                              "events": len(batch.events), "delivered": len(delivered),
                              "messages": result.messages, "error": result.error})
    if result.error:
        log.warning("delivery to %s failed (%d of %d events sent): %s", batch.destination,
                    len(delivered), len(batch.events), result.error)


def _track_failing(db, config: Config, settings: AlertSettings, destination: str, attempts: int,
                   error: str | None, now: dt.datetime) -> None:
    """Tell the operator once per outage that a destination keeps failing."""
    failing = db.get_meta(FAILING_META, {})
    if error is None:
        if failing.pop(destination, None) is not None:
            db.set_meta(FAILING_META, failing)
        return
    if attempts < settings.outbox.failing_after_attempts or destination in failing:
        return
    failing[destination] = to_iso(now)
    db.set_meta(FAILING_META, failing)
    event = ev.operator_event(
        ev.DELIVERY_FAILING, to_iso(now),
        f"{describe_destination(destination)}: {attempts} failed attempts; last error: {error}",
        destination=destination, attempts=attempts, last_error=error)
    db.append("events", [event], id_field="id")
    enqueue(db, [event], config, now)


def status(db, now: dt.datetime | None = None) -> dict:
    """What ``watch287g outbox`` shows: undelivered records per destination
    and cadence, with why they are waiting."""
    now = now or utcnow()
    totals: dict[str, int] = defaultdict(int)
    rows: dict[tuple[str, str], dict] = {}
    failing = db.get_meta(FAILING_META, {})
    for doc in db.raw_table("outbox").values():
        totals[doc["status"]] += 1
        if doc["status"] not in (PENDING, SENDING):
            continue
        row = rows.setdefault((doc["destination"], doc["cadence"]), {
            "destination": doc["destination"], "cadence": doc["cadence"], "records": 0, "due_now": 0,
            "awaiting_digest": 0, "retrying": 0, "in_doubt": 0, "max_attempts": 0, "next_attempt_at": None,
            "oldest_queued_at": doc["queued_at"], "last_error": None,
            "failing_since": failing.get(doc["destination"])})
        row["records"] += 1
        row["oldest_queued_at"] = min(row["oldest_queued_at"], doc["queued_at"])
        row["max_attempts"] = max(row["max_attempts"], doc["attempts"])
        row["last_error"] = doc["last_error"] or row["last_error"]
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
    return {"totals": dict(totals), "waiting": sorted(rows.values(), key=lambda r: (r["destination"], r["cadence"]))}
