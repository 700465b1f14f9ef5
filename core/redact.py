"""Secrets kept out of log output.

slack-sdk logs every request at DEBUG ("Sending a request - url: ..."), and an
incoming webhook's URL *is* its secret; a failed call's error can carry it
too. ``RedactSecrets``, installed on the CLI's log handlers, rewrites each
record before it is written: the secret part of any webhook-style address
(the path after ``/services/``, ``/hooks/``, ``/triggers/`` or
``/workflows/``, on any host, so Slack's, Slack GovSlack's and a proxy's
alike) and Slack tokens (``xoxb-...``) become ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_WEBHOOK_PATH = re.compile(r"(\bhttps?://[^\s/'\"<>]+/(?:services|hooks|triggers|workflows)/)[^\s'\"<>,]+")
_SLACK_TOKEN = re.compile(r"\b(xox[a-z]-)[A-Za-z0-9-]+")


def redact(text: str) -> str:
    return _SLACK_TOKEN.sub(rf"\g<1>{REDACTED}", _WEBHOOK_PATH.sub(rf"\g<1>{REDACTED}", text))


class RedactSecrets(logging.Filter):
    """A handler filter: the record's message and traceback, redacted."""

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True   # a malformed record: logging reports it as such, with no message to leak
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger: logging.Logger) -> None:
    """Redact everything the logger's handlers write (once per handler)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
