"""Sending one e-mail over SMTP (smtplib), with the [email] settings.

The envelope recipient is always passed explicitly, never taken from the
message's headers, so no header can widen who receives it.

A failure says whether it is permanent: the server refused the recipient
(RCPT) or the message (DATA) with a 5xx reply. Such an address will not
start working by retrying; the outbox pauses its subscriptions. Bounces
that arrive later as mail (after the server accepted the message) are not
read: docs/web.md says so.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from watch287g.alerts.settings import EmailSettings


@dataclass(frozen=True)
class MailFailure:
    reason: str                 # one line
    permanent: bool = False     # 5xx at RCPT or DATA: this address or message is refused for good


def send_email(message: EmailMessage, to: str, settings: EmailSettings) -> MailFailure | None:
    """Send; None on success, else why not (the outbox retries what is not permanent)."""
    password = ""
    if settings.username:
        password = os.environ.get(settings.password_env, "")
        if not password:
            return MailFailure(f"${settings.password_env} is not set (the SMTP password for {settings.username})")
    try:
        if settings.security == "ssl":
            connection = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                          timeout=settings.timeout_seconds, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)
        with connection:
            if settings.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
            if settings.username:
                connection.login(settings.username, password)
            connection.send_message(message, from_addr=settings.from_address, to_addrs=[to])
    except (smtplib.SMTPException, OSError) as err:
        return MailFailure(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}: {_reply(err)}",
                           permanent=_refused_for_good(err))
    return None


def _refused_for_good(err: Exception) -> bool:
    if isinstance(err, smtplib.SMTPRecipientsRefused):      # every recipient (we send to one) refused at RCPT
        return all(500 <= code < 600 for code, _ in err.recipients.values())
    return isinstance(err, smtplib.SMTPDataError) and 500 <= err.smtp_code < 600


def _reply(err: Exception) -> str:
    """The server's own words, on one line."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {_text(reply)}" for code, reply in err.recipients.values())
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{err.smtp_code} {_text(err.smtp_error)}"
    return str(err)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
