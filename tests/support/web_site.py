"""The web app running for real on loopback (waitress on 127.0.0.1), with
a real SMTP server and a real state, for tests that talk to it over HTTP."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from watch287g.alerts.links import LinkSettings
from watch287g.settings import Settings
from watch287g.state.store import Store
from watch287g.testing.smtp import SmtpServer, email_config, free_port
from watch287g.web.app import create_app
from watch287g.testing.web_client import Client, links_in
from watch287g.web.server import WebServer

from tests.support.alerts_env import write_config

READER = "reader@news.example"


class Site:
    def __init__(self, tmp_path: Path, smtp: SmtpServer, web_extra: str = "", extra: str = "") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.smtp = smtp
        self.config = write_config(tmp_path, email_config(smtp.port) + f"""
[web]
listen = "127.0.0.1:{self.port}"
public_url = "{self.base}"
{web_extra}
{extra}
""")
        self.settings = Settings(self.config)
        self.store = Store(tmp_path / "data")
        self.server = WebServer(create_app(self.settings, self.store), ("127.0.0.1", self.port))
        self.server.start()

    def close(self) -> None:
        self.server.stop()

    def client(self) -> Client:
        return Client(self.base)

    @property
    def links(self) -> LinkSettings:
        return self.settings.web.links

    def link(self, purpose: str, subject: str, age_seconds: float = 0) -> str:
        """A link signed as the service signs them, issued ``age_seconds`` ago."""
        issued = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)
        return self.links.url(purpose, subject, issued)

    def subscription(self, sub_id: str = "s1") -> dict:
        doc = self.store.read().subscriptions.get(sub_id)
        return dict(doc) if doc else {}

    def mails_to(self, address: str) -> list:
        return [r.message for r in list(self.smtp.inbox) if address in r.rcpt_tos]

    def wait_mails(self, address: str, count: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while len(self.mails_to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails_to(address)

    def confirmed(self, address: str = READER, **choices) -> str:
        """Sign up and confirm as a reader would; returns the subscription id."""
        client = self.client()
        before = len(self.mails_to(address))
        answer = client.sign_up(address, **choices)
        assert answer.status == 200, answer.words()
        mail = self.wait_mails(address, before + 1)[-1]
        [confirm] = links_in(mail.get_content(), "/confirm/")
        done = client.submit(client.get(confirm))
        assert "You are subscribed" in done.words(), done.words()
        return confirm.rsplit("/", 1)[1].split(".", 1)[0]
