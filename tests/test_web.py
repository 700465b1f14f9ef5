"""The web app over HTTP on loopback (waitress), with a real SMTP server and
a real state: double opt-in, signed links, one-click unsubscribe, CSRF,
rate limits, bad input, the published report, /healthz and /metrics."""

from __future__ import annotations

import re

import pytest
from watch287g.alerts.links import CONFIRM, MANAGE, STOP
from watch287g.core import events as ev
from watch287g.core.timeutil import utcnow
from watch287g.core.tokens import sign
from watch287g.state.store import Store
from watch287g.testing.smtp import SmtpServer
from watch287g.testing.web_client import OTHER_SECRET, SECRET, Client, links_in

from tests.support.alerts_env import NOW, agreement_event, deliver, outbox_docs, record
from tests.support.web_site import READER, Site

DAY = 86400


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("WATCH287G_WEB_SECRET", SECRET)


@pytest.fixture
def site(tmp_path, smtp):
    running = Site(tmp_path, smtp)
    yield running
    running.close()


def outbox_for(store: Store, sub_id: str) -> list[dict]:
    return [doc for doc in outbox_docs(store) if doc["subscription_id"] == sub_id]


def test_sign_up_sends_only_a_confirmation_until_the_link_is_used_once(site):
    client = site.client()
    answer = client.sign_up(READER, state=["FL"], type=["agreement.signed"], counties="Polk, Miami-Dade, Doña Ana")
    assert answer.status == 200 and "Check your inbox" in answer.words()

    stored = site.subscription("s1")
    assert stored["status"] == "unconfirmed" and stored["origin"] == "web"
    assert stored["destination"] == f"email:{READER}" and stored["filter"]["states"] == ["FL"]
    assert stored["filter"]["counties"] == ["Polk", "Miami-Dade", "Doña Ana"]
    assert [(c["by"], c["what"]) for c in stored["history"]] == [("web", "created")]

    # An event before confirmation: no delivery is even queued for it.
    record(site.store, [agreement_event()], site.config)
    assert outbox_for(site.store, "s1") == []

    [mail] = site.wait_mails(READER, 1)
    assert mail["Subject"] == "Confirm your 287(g) alerts" and mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_content()
    assert "Florida" in body and "Polk, Miami-Dade, Doña Ana" in body and "new agreements signed" in body
    [confirm] = links_in(body, "/confirm/")
    assert confirm.startswith(site.base + "/confirm/s1.")

    page = client.get(confirm)        # a mail scanner's GET changes nothing
    assert page.status == 200 and "Confirm" in page.words()
    assert site.subscription("s1")["status"] == "unconfirmed"

    done = client.submit(page)
    assert done.status == 200 and "You are subscribed" in done.words()
    stored = site.subscription("s1")
    assert stored["status"] == "active"
    assert [(c["by"], c["what"]) for c in stored["history"]] == [("web", "created"), ("web", "confirmed")]
    [manage] = [a["href"] for a in done.soup.find_all("a") if "/manage/" in a["href"]]

    again = client.submit(page)       # the same link, used a second time
    assert again.status == 200 and "Already confirmed" in again.words() and "Nothing was changed" in again.words()
    assert site.subscription("s1") == stored
    assert client.get(manage).status == 200

    # Confirmed: the next matching event is delivered, with signed links.
    record(site.store, [agreement_event(agency="MARION COUNTY SHERIFF'S OFFICE", line=7)], site.config)
    assert deliver(site.store, site.config)["sent"] == 1
    [_, alert] = site.mails_to(READER)
    assert alert["List-Unsubscribe"] == f"<{links_in(alert['List-Unsubscribe'], '/u/')[0]}>"
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = alert.get_body(("plain",)).get_content()
    assert "Marion County Sheriff" in text and "Polk County Sheriff" not in text   # the one before confirmation: never
    assert links_in(text, "/manage/s1.") and links_in(text, "/u/s1.")
    assert "To pause or stop it, use its links below." in text and "ask to cancel it" not in text
    html = alert.get_body(("html",)).get_content()
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/u/s1\.[^"]+">Unsubscribe from s1</a>', html)


def test_one_click_post_unsubscribes_without_cookies_or_csrf_and_stops_delivery(site):
    sub_id = site.confirmed()
    record(site.store, [agreement_event()], site.config)
    deliver(site.store, site.config)
    [_, alert] = site.mails_to(READER)
    [unsubscribe] = links_in(alert["List-Unsubscribe"], "/u/")
    record(site.store, [agreement_event(agency="LEE COUNTY SHERIFF'S OFFICE", line=8)], site.config)
    assert [d["status"] for d in outbox_for(site.store, sub_id)] == ["sent", "pending"]

    # What a mail provider sends (RFC 8058): a bare POST, no cookie, no form token.
    provider = Client(site.base)
    answer = provider.post(unsubscribe, b"List-Unsubscribe=One-Click")
    assert answer.status == 200 and "Unsubscribed" in answer.words()
    stored = site.subscription(sub_id)
    assert stored["status"] == "removed"
    assert stored["history"][-1]["by"] == "web" and "unsubscribe link" in stored["history"][-1]["what"]
    assert [d["status"] for d in outbox_for(site.store, sub_id)] == ["sent", "cancelled"]

    record(site.store, [agreement_event(agency="LAKE COUNTY SHERIFF'S OFFICE", line=9)], site.config)
    assert deliver(site.store, site.config)["sent"] == 0
    assert len(site.mails_to(READER)) == 2                # the confirmation and the one alert

    again = provider.post(unsubscribe, b"List-Unsubscribe=One-Click")
    assert again.status == 200 and "Already unsubscribed" in again.words()
    assert site.subscription(sub_id) == stored


def test_the_unsubscribe_page_asks_before_it_stops(site):
    sub_id = site.confirmed(state=["TX"])
    client = site.client()
    page = client.get(site.link(STOP, sub_id))
    assert page.status == 200 and "Texas" in page.words()
    assert site.subscription(sub_id)["status"] == "active"          # a GET (a link scanner) stops nothing
    assert "Unsubscribed" in client.submit(page).words()
    assert site.subscription(sub_id)["status"] == "removed"


@pytest.mark.parametrize("make_token, says", [
    (lambda site, sub: site.link(MANAGE, sub)[:-3] + ("AAA" if not site.link(MANAGE, sub).endswith("AAA") else "BBB"),
     "was altered or forged"),
    (lambda site, sub: site.link(MANAGE, sub).replace(f"/manage/{sub}.", "/manage/s99."), "was altered or forged"),
    (lambda site, sub: f"{site.base}/manage/{sign(OTHER_SECRET.encode(), MANAGE, sub, 2_000_000_000)}",
     "was altered or forged"),
    (lambda site, sub: site.link(STOP, sub).replace("/u/", "/manage/"), "was altered or forged"),
    (lambda site, sub: site.link(MANAGE, sub, age_seconds=31 * DAY), "has expired"),
    (lambda site, sub: f"{site.base}/manage/{sub}", "is not a link this site made"),
], ids=["altered-signature", "other-subscription", "other-secret", "stop-token-as-manage", "expired", "cut-short"])
def test_a_bad_manage_link_changes_nothing_and_says_why(site, make_token, says):
    sub_id = site.confirmed()
    before = site.subscription(sub_id)
    url = make_token(site, sub_id)
    client = site.client()
    page = client.get(url)
    assert page.status == 400 and says in page.words() and "Nothing was changed" in page.words()
    # Even with a good form token from a genuine page, the POST is refused.
    genuine = client.get(site.link(MANAGE, sub_id))
    answer = client.post(url, {**genuine.form_fields(), "action": "stop"})
    assert answer.status == 400 and says in answer.words()
    assert site.subscription(sub_id) == before


def test_stop_links_last_confirm_links_expire_and_unknown_ids_are_not_found(site):
    sub_id = site.confirmed()
    provider = Client(site.base)
    assert provider.post(site.link(STOP, sub_id, age_seconds=400 * DAY), b"List-Unsubscribe=One-Click").status == 200
    assert site.subscription(sub_id)["status"] == "removed"

    client = site.client()
    client.sign_up("late@news.example")
    late = "s2"
    expired = client.get(site.link(CONFIRM, late, age_seconds=49 * 3600))
    assert expired.status == 400 and "has expired" in expired.words()
    assert site.subscription(late)["status"] == "unconfirmed"

    assert client.get(site.link(STOP, "s77")).status == 404
    assert provider.post(site.link(STOP, "s77"), b"List-Unsubscribe=One-Click").status == 404
    assert provider.post(f"{site.base}/u/s2.1.{'A' * 43}", b"List-Unsubscribe=One-Click").status == 400
    assert site.subscription(late)["status"] == "unconfirmed"


def test_forms_refuse_posts_without_this_browsers_csrf_token(site):
    alice, mallory = site.client(), site.client()
    form = alice.get("/subscribe")
    token = form.form_fields()["csrf"]
    fields = {"email": "victim@news.example", "cadence": "instant", "type": "agreement.signed"}

    for who, data in ((alice, fields),                          # no token
                      (mallory, {**fields, "csrf": token}),     # alice's token, without alice's cookie
                      (alice, {**fields, "csrf": token[:-1] + ("A" if token[-1] != "A" else "B")})):
        answer = who.post("/subscribe", data)
        assert answer.status == 400 and "Nothing was changed" in answer.words()
    mallory.get("/subscribe")                                   # mallory's own cookie, alice's token
    assert mallory.post("/subscribe", {**fields, "csrf": token}).status == 400
    assert not site.store.exists() or site.store.read().subscriptions.all() == []
    assert site.mails_to("victim@news.example") == []

    sub_id = site.confirmed()
    manage = alice.get(site.link(MANAGE, sub_id))
    assert alice.post(site.link(MANAGE, sub_id), {"action": "stop"}).status == 400
    assert mallory.post(site.link(MANAGE, sub_id), {**manage.form_fields(), "action": "stop"}).status == 400
    assert site.subscription(sub_id)["status"] == "active"


def test_sign_ups_are_limited_per_address_and_per_ip(tmp_path, smtp):
    site = Site(tmp_path, smtp, web_extra="signups_per_address_per_day = 2\nsignups_per_ip_per_hour = 4")
    try:
        client = site.client()
        assert client.sign_up("a@news.example").status == 200
        assert client.sign_up("A@News.Example").status == 200         # the same address, spelt otherwise
        refused = client.sign_up("a@news.example")
        assert refused.status == 429 and "This address" in refused.words()
        assert client.sign_up("b@news.example").status == 200
        refused = client.sign_up("c@news.example")
        assert refused.status == 429 and "your network" in refused.words()
        assert len(site.wait_mails("a@news.example", 2)) == 2
        assert len(site.wait_mails("b@news.example", 1)) == 1 and site.mails_to("c@news.example") == []
        assert [s["destination"] for s in site.store.read().subscriptions.all()] == \
            ["email:a@news.example", "email:a@news.example", "email:b@news.example"]
    finally:
        site.close()


@pytest.mark.parametrize("fields, says", [
    ({"email": "not-an-address"}, "one plain e-mail address"),
    ({"email": ""}, "enter your e-mail address"),
    ({"email": READER, "counties": "<script>alert(1)</script>"}, "is not a county name"),
    ({"email": READER, "counties": "Polk, https://evil.example"}, "is not a county name"),
    ({"email": READER, "state": ["Narnia"]}, "unknown state"),
    ({"email": READER, "model": ["XYZ"]}, "from the lists"),
    ({"email": READER, "type": []}, "at least one kind of change"),
    ({"email": READER, "type": ["source.failing"]}, "from the lists"),
    ({"email": READER, "cadence": "hourly"}, "choose how often"),
])
def test_bad_sign_up_input_is_one_clear_line_and_stores_nothing(site, fields, says):
    client = site.client()
    form = client.get("/subscribe")
    data = {"cadence": "instant", "type": ["agreement.signed"], **fields}
    answer = client.submit(form, [(k, v) for k, values in data.items()
                                  for v in (values if isinstance(values, list) else [values])])
    assert answer.status == 400
    [error] = answer.soup.select(".error")
    assert says in error.get_text()
    assert "<script>" not in answer.text                         # what was typed comes back escaped
    assert not site.store.exists() or site.store.read().subscriptions.all() == []
    assert list(site.smtp.inbox) == []


def test_an_oversized_post_is_refused(site):
    client = site.client()
    form = client.get("/subscribe")
    answer = client.submit(form, {"email": READER, "counties": "x" * 70_000})
    assert answer.status == 413
    assert not site.store.exists()


def test_manage_pauses_resumes_and_stops(site):
    sub_id = site.confirmed()
    record(site.store, [agreement_event()], site.config)
    client = site.client()
    page = client.get(site.link(MANAGE, sub_id))
    assert "Pause" in page.words() and READER in page.words()

    paused = client.submit(page, {"action": "pause"})
    assert "Paused" in paused.words() and site.subscription(sub_id)["status"] == "paused"
    assert [d["status"] for d in outbox_for(site.store, sub_id)] == ["cancelled"]
    assert deliver(site.store, site.config)["sent"] == 0

    again = client.post(site.link(MANAGE, sub_id), {**paused.form_fields(), "action": "pause"})
    assert again.status == 409 and "nothing was changed" in again.words()

    resumed = client.submit(paused, {"action": "resume"})
    assert "Resumed" in resumed.words() and site.subscription(sub_id)["status"] == "active"
    stopped = client.submit(resumed, {"action": "stop"})
    assert "Unsubscribed" in stopped.words() and site.subscription(sub_id)["status"] == "removed"
    assert client.post(site.link(MANAGE, sub_id), {**resumed.form_fields(), "action": "resume"}).status == 409
    assert [c["what"] for c in site.subscription(sub_id)["history"]] == \
        ["created", "confirmed", "paused", "resumed", "removed"]


def test_a_refused_address_is_told_and_its_sign_up_is_closed(site, smtp):
    smtp.refuse_rcpt["nobody@news.example"] = "550 5.1.1 no such user"
    answer = site.client().sign_up("nobody@news.example")
    assert answer.status == 400 and "refused this address" in answer.words()
    stored = site.subscription("s1")
    assert stored["status"] == "removed" and "550 5.1.1 no such user" in stored["history"][-1]["what"]

    smtp.stop()
    answer = site.client().sign_up(READER)
    assert answer.status == 503 and "could not send" in answer.words()
    assert site.subscription("s2")["status"] == "removed"


def test_every_page_sends_the_security_headers_and_no_subscriber_data(site):
    site.confirmed()
    client = site.client()
    for path in ("/", "/subscribe", "/healthz", "/metrics", "/report/", "/nowhere", "/static/web.css"):
        page = client.get(path)
        assert page.headers["X-Content-Type-Options"] == "nosniff", path
        assert page.headers["X-Frame-Options"] == "DENY", path
        assert page.headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"], path
        assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"], path
        assert READER not in page.text and SECRET not in page.text, path
    assert client.get("/nowhere").status == 404
    refused = client.post("/healthz")
    assert refused.status == 405 and refused.headers["Allow"] and "GET" in refused.headers["Allow"]


def test_the_report_folder_is_served_read_only_with_caching_headers(tmp_path, smtp):
    folder = tmp_path / "report"
    (folder / "states" / "fl").mkdir(parents=True)
    (folder / "feeds").mkdir()
    (folder / "index.html").write_text("<!DOCTYPE html><title>Report</title><h1>287(g) report</h1>")
    (folder / "states" / "fl" / "index.html").write_text("<h1>Florida</h1>")
    (folder / "feeds" / "all.atom").write_text('<feed xmlns="http://www.w3.org/2005/Atom"/>')
    (folder / ".git").write_text("secret history")
    (tmp_path / "outside.txt").write_text("not published")
    site = Site(tmp_path, smtp, web_extra=f'report_dir = "{folder}"')
    try:
        client = site.client()
        page = client.get("/report/")
        assert page.status == 200 and "287(g) report" in page.text
        etag, modified = page.headers["ETag"], page.headers["Last-Modified"]
        assert page.headers["Cache-Control"] == "no-cache"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert client.get("/report/", {"If-None-Match": etag}).status == 304
        assert client.get("/report/", {"If-Modified-Since": modified}).status == 304
        (folder / "index.html").write_text("<h1>a newer report</h1>")
        newer = client.get("/report/", {"If-None-Match": etag})
        assert newer.status == 200 and "a newer report" in newer.text and newer.headers["ETag"] != etag

        assert client.get("/report/states/fl").status in (301, 302, 308)
        assert "Florida" in client.get("/report/states/fl/").text
        feed = client.get("/report/feeds/all.atom")
        assert feed.status == 200 and feed.headers["Content-Type"].startswith("application/atom+xml")
        assert "/report/feeds/all.atom" in client.get("/").text               # the home page lists the feeds
        for path in ("/report/.git", "/report/%2e%2e/outside.txt", "/report/..%2foutside.txt",
                     "/report/missing.html"):
            answer = client.get(path)
            assert answer.status == 404, path
            assert "secret history" not in answer.text and "not published" not in answer.text
        assert client.post("/report/").status == 405
    finally:
        site.close()


def test_without_a_report_folder_report_is_a_plain_404(site):
    page = site.client().get("/report/")
    assert page.status == 404 and "No report is published here yet" in page.words()


def test_healthz_says_why_it_is_unhealthy_and_metrics_count_without_names(site):
    site.confirmed()
    record(site.store, [agreement_event(), agreement_event(ev.TERMINATED, line=3)], site.config)
    client = site.client()
    health = client.get("/healthz")
    assert health.status == 503 and health.headers["Content-Type"] == "application/json"
    assert "the watch287g service is not running" in health.text
    metrics = client.get("/metrics")
    assert metrics.status == 200 and metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = set(metrics.text.splitlines())
    assert 'watch287g_events_total{type="agreement.signed"} 1' in lines
    assert 'watch287g_events_total{type="agreement.terminated"} 1' in lines
    assert 'watch287g_deliveries{state="pending"} 2' in lines
    assert 'watch287g_stored_subscriptions{status="active"} 1' in lines
    assert "watch287g_service_up 0" in lines
    age = next(line for line in lines if line.startswith("watch287g_outbox_oldest_unsent_age_seconds "))
    assert int(age.split()[1]) >= (utcnow() - NOW).total_seconds() - 60     # queued at NOW, never sent
    assert READER not in metrics.text and f"email:{READER}" not in health.text

    # A state written since the last request is read again.
    record(site.store, [agreement_event(agency="LEE COUNTY SHERIFF'S OFFICE", line=4)], site.config)
    assert 'watch287g_events_total{type="agreement.signed"} 2' in client.get("/metrics").text.splitlines()
