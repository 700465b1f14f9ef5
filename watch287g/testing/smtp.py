"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives,
and refuses the addresses a test tells it to (at RCPT or at DATA)."""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def email_config(port: int, extra: str = "") -> str:
    """The config's [email] table for this server on ``port``, plain SMTP
    (``extra``: more lines of the table)."""
    return f"""
[email]
smtp_host = "127.0.0.1"
smtp_port = {port}
security = "none"
from_address = "alerts@watch287g.example"
timeout_seconds = 5
{extra}
"""


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


class _Keep:
    def __init__(self, inbox: list[Received], refuse_rcpt: dict[str, str], refuse_data: dict[str, str]) -> None:
        self.inbox = inbox
        self.refuse_rcpt = refuse_rcpt
        self.refuse_data = refuse_data

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.lower() in self.refuse_rcpt:
            return self.refuse_rcpt[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        for address in envelope.rcpt_tos:
            if address.lower() in self.refuse_data:
                return self.refuse_data[address.lower()]
        self.inbox.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class SmtpServer:
    """Start/stop at will on one port: stopped, the port refuses connections."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox: list[Received] = []
        # address -> SMTP reply, e.g. "550 5.1.1 no such user"; tests may change them at any time
        self.refuse_rcpt: dict[str, str] = {}
        self.refuse_data: dict[str, str] = {}
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_Keep(self.inbox, self.refuse_rcpt, self.refuse_data), hostname="127.0.0.1",
                                      port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
