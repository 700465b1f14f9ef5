"""Sending one e-mail over SMTP (smtplib), with the [email] settings.

The envelope recipient is always passed explicitly, never taken from the
message's headers, so no header can widen who receives it.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage

from watch287g.alerts.settings import EmailSettings


def send_email(message: EmailMessage, to: str, settings: EmailSettings) -> str | None:
    """Send; None on success, else a one-line reason (the outbox retries)."""
    password = ""
    if settings.username:
        password = os.environ.get(settings.password_env, "")
        if not password:
            return f"${settings.password_env} is not set (the SMTP password for {settings.username})"
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
        return f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(err).__name__}: {err}"
    return None
