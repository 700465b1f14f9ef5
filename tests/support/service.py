"""What the service, web and Slack app tests share beside the service runner
(watch287g.testing.service): the local copy of ICE's page serving real 2025
workbooks, reading the service's state, and the loopback stand-ins as
fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from watch287g.state.store import Store
from watch287g.testing.fake_site import LocalServer, serve_ice_lists
from watch287g.testing.fake_slack import FakeSlack
from watch287g.testing.smtp import SmtpServer

REPLAY = Path(__file__).resolve().parents[1] / "fixtures" / "replay"
PARTICIPATING_0306 = REPLAY / "participating" / "20250306T0900_participatingAgencies03062025am.xlsx"
PARTICIPATING_0307 = REPLAY / "participating" / "20250307T0900_participatingAgencies03072025am.xlsx"
PENDING_0221 = REPLAY / "pending" / "20250221T2149_pendingAgencies-20250221214937.xlsx"


def serve_ice(server: LocalServer, participating: Path, delay: float = 0.0) -> None:
    """ICE's page with this participating list and February's pending one."""
    serve_ice_lists(server, participating.read_bytes(), PENDING_0221.read_bytes(), delay)


def db(data_dir: Path):
    return Store(data_dir).read()


def checks(data_dir: Path) -> list[dict]:
    if not (data_dir / "state.json").exists():
        return []
    return sorted(db(data_dir).checks.all(), key=lambda c: c["started_at"])


@pytest.fixture
def server():
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture
def slack():
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def smtp():
    mail = SmtpServer().start()
    yield mail
    mail.stop()


def mails_to(smtp: SmtpServer, address: str) -> list[str]:
    """Plain-text bodies (with subject) of the mails received for address."""
    found = []
    for received in list(smtp.inbox):
        if address in received.rcpt_tos:
            message = received.message
            found.append(f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}")
    return found
