"""Daily and weekly digests: everything queued for a cadence, sent now.

Each destination gets one message per digest: an address with several
subscriptions of that cadence gets one e-mail with every event once,
grouped by state; a Slack channel gets one summary with the details in its
thread. Run by the service's schedule or ``watch287g digest --daily``.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from watch287g.alerts import outbox
from watch287g.alerts.settings import AlertSettings
from watch287g.alerts.subscriptions import Subscription
from watch287g.core.timeutil import utcnow

DIGEST_CADENCES = ("daily", "weekly")


def send_digests(store, settings: AlertSettings, fixed: Sequence[Subscription], cadence: str,
                 now: dt.datetime | None = None) -> dict:
    """Release the queued ``cadence`` items and deliver them; the report of
    ``outbox.deliver_due`` plus ``released`` (items that became due)."""
    if cadence not in DIGEST_CADENCES:
        raise ValueError(f"cadence must be daily or weekly, not {cadence!r}")
    now = now or utcnow()
    released = 0
    if store.exists():
        with store.write() as db:
            released = outbox.release_digest(db, cadence, now)
    report = outbox.deliver_due(store, settings, fixed, now, only_cadence=cadence)
    return {"released": released, **report}
