"""The confirmation e-mail of a web sign-up: sent by the web app itself
(not through the outbox: it is not an alert, and must go before anything is
recorded as deliverable), through the same SMTP settings as the alerts.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from flask import render_template

from watch287g.alerts.links import CONFIRM
from watch287g.alerts.mailer import MailFailure, send_email
from watch287g.alerts.render_email import MAIL_POLICY, header_text
from watch287g.alerts.subscriptions import Subscription
from watch287g.web.context import WebContext
from watch287g.web.wording import address, describe

SUBJECT = "Confirm your 287(g) alerts"


def confirmation_message(context: WebContext, subscription: Subscription, now: dt.datetime) -> EmailMessage:
    email = context.settings.alerts.email
    to = address(subscription)
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = formataddr((header_text(email.from_name, 64), email.from_address))
    message["To"] = to
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(now.astimezone(dt.timezone.utc))
    message["Message-ID"] = make_msgid("watch287g.confirm", domain=email.message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template("confirm_email.txt", lines=describe(subscription),
                                        url=context.web.links.url(CONFIRM, subscription.id, now),
                                        hours=context.web.confirm_link_hours, home=context.web.public_url))
    return message


def send_confirmation(context: WebContext, subscription: Subscription, now: dt.datetime) -> MailFailure | None:
    message = confirmation_message(context, subscription, now)
    return send_email(message, address(subscription), context.settings.alerts.email)
