"""The web app with the real service: inside `watch287g run`, and alone as
`watch287g serve` beside it. A local copy of ICE's page whose workbooks
change between checks, a real SMTP server, real HTTP on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from watch287g.testing.fake_site import serve_ice_lists
from watch287g.testing.service import Service, wait_for, write_config
from watch287g.testing.smtp import email_config, free_port
from watch287g.testing.web_client import SECRET, Client, links_in

from tests.support.service import checks, server, smtp  # noqa: F401 - server and smtp are fixtures
from tests.support.workbooks import PENDING_HEADER, agreement, sample_agreements, workbook_bytes

# Every test here runs `watch287g run` or `watch287g serve` in a child process.
pytestmark = pytest.mark.e2e

READER, DESK = "reader@news.example", "desk@news.example"
BASE = sample_agreements(40, "FLORIDA", "Town") + sample_agreements(20, "TEXAS", "City")
POLK = agreement("FLORIDA", "Polk County Sheriff's Office", county="Polk County", signed="2025-03-05")
HARRIS = agreement("TEXAS", "Harris County Sheriff's Office", county="Harris County", signed="2025-03-05")
LEE = agreement("FLORIDA", "Lee County Sheriff's Office", county="Lee County", signed="2025-03-06")
PENDING = workbook_bytes([{"STATE": "GEORGIA", "LAW ENFORCEMENT AGENCY": "Cobb County Sheriff's Office",
                           "TYPE": "County", "COUNTY": "Cobb", "SUPPORT TYPE": "Task Force Model"}], PENDING_HEADER)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("WATCH287G_WEB_SECRET", SECRET)


ON_DEMAND = """
interval_seconds = 3600
deliver_every_seconds = 1
daily_digest = false
weekly_digest = false
"""


def check_now(service: Service, good_checks: int) -> None:
    done = service.cli("run", "--check-now")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: sum(c["ok"] for c in checks(service.data_dir)) >= good_checks, 60,
             f"good check #{good_checks}", service)


def mails(smtp, address: str) -> list:
    return [r.message for r in list(smtp.inbox) if address in r.rcpt_tos]


def health(base: str) -> tuple[int, dict] | None:
    """(status, body) of /healthz, or None while nothing listens."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except (urllib.error.URLError, ConnectionError):
        return None


def test_sign_up_confirm_deliver_one_click_unsubscribe_then_nothing_more(tmp_path, server, smtp):
    serve_ice_lists(server, workbook_bytes(BASE), PENDING)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config.toml", server, ON_DEMAND, email_config(smtp.port) + f"""
[web]
listen = "127.0.0.1:{port}"
public_url = "{base}"

[[subscriptions]]
name = "desk"
email = "{DESK}"
""")
    service = Service(config, tmp_path / "data")
    try:
        service.wait_running()
        check_now(service, 1)                               # the baseline: no alerts
        assert wait_for(lambda: health(base), 20, "/healthz", service)[0] == 200

        reader = Client(base)
        assert "Check your inbox" in reader.sign_up(READER, state=["FL"], type=["agreement.signed"]).words()
        [confirmation] = wait_for(lambda: mails(smtp, READER), 20, "the confirmation e-mail", service)
        [confirm] = links_in(confirmation.get_content(), "/confirm/")
        assert "You are subscribed" in reader.submit(reader.get(confirm)).words()

        serve_ice_lists(server, workbook_bytes(BASE + [POLK, HARRIS]), PENDING)
        check_now(service, 2)
        alert = wait_for(lambda: mails(smtp, READER)[1:], 30, "the reader's alert", service)[0]
        text = alert.get_body(("plain",)).get_content()
        assert "Polk County Sheriff's Office" in text and "Harris County" not in text      # FL only
        assert "Harris County" in wait_for(lambda: mails(smtp, DESK), 30, "the desk's alert", service)[0] \
            .get_body(("plain",)).get_content()
        assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        [unsubscribe] = links_in(alert["List-Unsubscribe"], "/u/")

        answer = Client(base).post(unsubscribe, b"List-Unsubscribe=One-Click")     # the mail provider's POST
        assert answer.status == 200 and "Unsubscribed" in answer.words()
        listed = json.loads(service.cli("--json", "subscriptions", "--all").stdout)
        assert [(s["id"], s["status"], s["origin"]) for s in listed if s["id"] == "s1"] == [("s1", "removed", "web")]

        serve_ice_lists(server, workbook_bytes(BASE + [POLK, HARRIS, LEE]), PENDING)
        check_now(service, 3)
        wait_for(lambda: any("Lee County" in m.get_body(("plain",)).get_content() for m in mails(smtp, DESK)),
                 30, "the desk's alert about Lee County", service)
        assert len(mails(smtp, READER)) == 2                # the confirmation and one alert, nothing since
    finally:
        assert service.stop() == 0
    assert health(base) is None                             # the web app stopped with the service


def test_serve_alone_reports_health_as_the_service_and_its_lists_come_and_go(tmp_path, server):
    serve_ice_lists(server, workbook_bytes(BASE), PENDING)
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "run.toml", server, ON_DEMAND)
    fresh = write_config(tmp_path / "serve.toml", server, ON_DEMAND)
    # The same lists, judged stale after about 0.09 s without a new one.
    stale = write_config(tmp_path / "stale.toml", server, ON_DEMAND + "\n[service.stale_after_days]\n"
                         "participating = 0.000001\n")

    web = Service(fresh, data, "--listen", f"127.0.0.1:{port}", command="serve")
    service = None
    try:
        status, body = wait_for(lambda: health(base), 20, "serve to listen", web)
        assert status == 503
        assert "the watch287g service is not running" in body["problems"]
        assert "ice: no good participating list yet" in body["problems"]

        service = Service(config, data)
        service.wait_running()
        check_now(service, 1)
        status, body = wait_for(lambda: (health(base) or (0,))[0] == 200 and health(base), 20, "healthy", web)
        assert body["ok"] and body["problems"] == [] and body["lists"]["ice:participating"]["last_good"]

        assert web.stop() == 0
        web = Service(stale, data, "--listen", f"127.0.0.1:{port}", command="serve")
        status, body = wait_for(lambda: health(base), 20, "serve to listen again", web)
        assert status == 503
        [problem] = body["problems"]
        assert problem.startswith("ice: the last good participating list is") and "limit 1e-06 days" in problem

        assert service.stop() == 0
        service = None
        status, body = health(base)
        assert status == 503 and "the watch287g service is not running" in body["problems"]
    finally:
        if service is not None:
            service.stop()
        web.stop()
