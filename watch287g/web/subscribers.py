"""E-mail subscribers on the web: sign up (double opt-in), confirm, manage,
and stop with one click (RFC 8058).

* ``/subscribe``: the form. A valid sign-up is stored ``unconfirmed`` (the
  router delivers nothing to it) and a confirmation e-mail with a signed
  link is sent; nothing else is ever sent before that link is used. The
  answer is the same whether or not the address is known. Limits: per IP
  (in memory) and per address (counted from the stored sign-ups of the
  last day, so a stranger cannot flood someone's inbox).
* ``/confirm/TOKEN``: a page with a button (mail scanners fetch links; only
  a person presses buttons); the POST makes it ``active``, once.
* ``/manage/TOKEN`` (expires): pause, resume or stop one subscription.
* ``/u/TOKEN`` (lasts): GET shows a button, POST stops every subscription
  the token names; the POST needs no CSRF token (the signed token in the
  address authorises it), so mail providers can send the RFC 8058 one-click
  POST themselves.

A forged, altered or expired token changes nothing and the page says which.
Every change is kept in the subscription's history ``by web``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from flask import Blueprint, render_template, request

from watch287g.alerts.links import CONFIRM, MANAGE, STOP, STORED_ID, SUBJECT_SEPARATOR
from watch287g.alerts.outbox import cancel_undeliverable
from watch287g.alerts.subscriptions import (
    ACTIVE,
    CADENCES,
    PAUSED,
    REMOVED,
    UNCONFIRMED,
    Filter,
    Subscription,
    SubscriptionError,
    add_subscription,
    make_destination,
    make_filter,
    set_status,
    stored_subscriptions,
)
from watch287g.core import events as ev
from watch287g.core.normalize import MODEL_CODES, STATES
from watch287g.core.timeutil import parse_iso, to_iso, utcnow
from watch287g.core.tokens import TokenError, verify
from watch287g.state.store import StoreBusy
from watch287g.web.context import WebContext, message_page, web_context
from watch287g.web.guards import CsrfError, check_csrf, csrf_token
from watch287g.web.mail import send_confirmation
from watch287g.web.wording import CADENCE_LABELS, TYPE_LABELS, address, describe

blueprint = Blueprint("subscribers", __name__)
BY = "web"
WRITE_WAIT_SECONDS = 10         # a check holding the state lock longer: "busy, try again"
# Letters in any script (Doña Ana), spaces and . ' - : never a link or markup.
COUNTY = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ .'’-]){0,59}$")
MAX_COUNTIES = 20


class Refused(Exception):
    """A request that changes nothing: the page says why."""

    def __init__(self, title: str, text: str, status: int) -> None:
        super().__init__(text)
        self.title, self.text, self.status = title, text, status


@blueprint.errorhandler(Refused)
def refused(err: Refused):
    return message_page(err.title, err.text, err.status)


@blueprint.errorhandler(StoreBusy)
def busy(err: StoreBusy):
    return message_page("Busy", "The service is busy recording a check. Nothing was changed: "
                        "please try again in a minute.", 503)


# --- sign-up ------------------------------------------------------------------


@dataclass
class SignupForm:
    email: str = ""
    states: list[str] = field(default_factory=list)
    counties: str = ""
    models: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=lambda: list(ev.DEFAULT_SUBSCRIBED_TYPES))
    cadence: str = "instant"

    @classmethod
    def from_request(cls) -> SignupForm:
        form = request.form
        return cls(email=form.get("email", "").strip(), states=form.getlist("state"),
                   counties=form.get("counties", ""), models=form.getlist("model"),
                   types=form.getlist("type"), cadence=form.get("cadence", ""))

    def county_names(self) -> list[str]:
        return [name.strip() for name in self.counties.split(",") if name.strip()]

    def parse(self) -> tuple[str, Filter, str]:
        """(destination, filter, cadence), or SubscriptionError naming the field."""
        if not self.email:
            raise SubscriptionError("enter your e-mail address")
        if len(self.email) > 254:
            raise SubscriptionError("that e-mail address is too long")
        destination = make_destination(None, None, self.email)
        counties = self.county_names()
        if len(counties) > MAX_COUNTIES:
            raise SubscriptionError(f"name at most {MAX_COUNTIES} counties")
        for name in counties:
            if not COUNTY.match(name):
                raise SubscriptionError(f"{name[:60]!r} is not a county name (letters, spaces, . ' - only)")
        if not self.types:
            raise SubscriptionError("choose at least one kind of change")
        if any(t not in TYPE_LABELS for t in self.types) or any(m not in MODEL_CODES for m in self.models):
            raise SubscriptionError("choose kinds of change and models from the lists")
        if self.cadence not in CADENCES:
            raise SubscriptionError("choose how often")
        return destination, make_filter(self.states, counties, "", self.models, self.types), self.cadence


def _signup_page(form: SignupForm, error: str | None = None, status: int = 200):
    context = web_context()
    return render_template("subscribe.html", title="Sign up for 287(g) alerts", form=form, error=error,
                           states=sorted(STATES.items(), key=lambda item: item[1]), models=MODEL_CODES,
                           types=TYPE_LABELS, cadences=CADENCE_LABELS, csrf=csrf_token(context.secret)), status


@blueprint.get("/subscribe")
def signup_form():
    return _signup_page(SignupForm())


@blueprint.post("/subscribe")
def signup():
    context = web_context()
    _require_csrf(context)
    form = SignupForm.from_request()
    try:
        destination, filter_, cadence = form.parse()
    except SubscriptionError as err:
        return _signup_page(form, str(err), 400)
    if not context.signups_per_ip.allow(request.remote_addr or "?", time.time()):
        raise Refused("Too many sign-ups", "Too many sign-ups came from your network in the last hour. "
                      "Nothing was sent; please try again later.", 429)
    now = utcnow()
    with context.store.write(timeout=WRITE_WAIT_SECONDS) as db:
        _expire_unconfirmed(db, context, now)
        if _recent_signups(db, destination, now) >= context.web.signups_per_address_per_day:
            raise Refused("Too many sign-ups", "This address was signed up too many times in the last day. "
                          "Nothing was sent; please try again tomorrow.", 429)
        subscription = add_subscription(db, context.settings.subscriptions, destination, cadence, filter_, None,
                                        to_iso(now), by=BY, origin=BY, status=UNCONFIRMED)
    failure = send_confirmation(context, subscription, now)
    if failure:
        with context.store.write(timeout=WRITE_WAIT_SECONDS) as db:
            set_status(db, context.settings.subscriptions, subscription.id, REMOVED, BY, to_iso(utcnow()),
                       why=f"the confirmation e-mail was not sent: {failure.reason}")
        if failure.permanent:
            raise Refused("Address refused", "Our mail server refused this address, so nothing was sent. "
                          "Please check it and sign up again.", 400)
        raise Refused("Not sent", "We could not send the confirmation e-mail just now. Nothing was stored; "
                      "please try again later.", 503)
    return message_page("Check your inbox", f"We sent a confirmation link to {form.email}. Nothing more will "
                        f"be sent until you use it; it works for {context.web.confirm_link_hours:g} hours.")


def _expire_unconfirmed(db, context: WebContext, now) -> None:
    """Sign-ups whose confirmation link has expired are removed (kept in history)."""
    limit = context.web.confirm_link_hours * 3600
    for subscription in stored_subscriptions(db):
        if subscription.status == UNCONFIRMED and (now - parse_iso(subscription.created_at)).total_seconds() > limit:
            set_status(db, context.settings.subscriptions, subscription.id, REMOVED, BY, to_iso(now),
                       why="not confirmed in time")


def _recent_signups(db, destination: str, now) -> int:
    return sum(1 for s in stored_subscriptions(db, include_removed=True)
               if s.origin == BY and s.destination == destination
               and (now - parse_iso(s.created_at)).total_seconds() < 86400)


# --- links ------------------------------------------------------------------


def _require_csrf(context: WebContext) -> None:
    try:
        check_csrf(context.secret)
    except CsrfError as err:
        raise Refused("Form expired", f"This form {err}. Nothing was changed: reload the page and try again.",
                      400) from None


def _verified(context: WebContext, purpose: str, token: str, max_age_seconds: float | None) -> list[str]:
    """The subscription ids a genuine, unexpired token names, or Refused."""
    try:
        subject = verify(context.secret, purpose, token, time.time(), max_age_seconds)
    except TokenError as err:
        advice = ("" if purpose == STOP else
                  " Every alert e-mail carries fresh links; its unsubscribe link always works.")
        raise Refused("Link not valid", f"This link {err}. Nothing was changed.{advice}", 400) from None
    ids = subject.split(SUBJECT_SEPARATOR) if purpose == STOP else [subject]
    if not all(STORED_ID.match(sub_id) for sub_id in ids):
        raise Refused("Link not valid", "This link is not a subscription link. Nothing was changed.", 400)
    return ids


def _subscriptions(db, ids: list[str]) -> list[Subscription]:
    found = [Subscription.from_doc(doc) for doc in (db.subscriptions.get(sub_id) for sub_id in ids) if doc]
    if not found:
        raise Refused("Not found", "This subscription no longer exists. Nothing was changed.", 404)
    return found


def _one(context: WebContext, purpose: str, token: str, max_age_seconds: float | None) -> Subscription:
    return _subscriptions(context.store.read(), _verified(context, purpose, token, max_age_seconds))[0]


def _confirm_age(context: WebContext) -> float:
    return context.web.confirm_link_hours * 3600


def _manage_age(context: WebContext) -> float:
    return context.web.manage_link_days * 86400


@blueprint.get("/confirm/<token>")
def confirm_page(token: str):
    context = web_context()
    subscription = _one(context, CONFIRM, token, _confirm_age(context))
    if subscription.status != UNCONFIRMED:
        return _already(subscription)
    return _subscription_page("confirm.html", "Confirm your sign-up", subscription, context)


@blueprint.post("/confirm/<token>")
def confirm(token: str):
    context = web_context()
    _require_csrf(context)
    [sub_id] = _verified(context, CONFIRM, token, _confirm_age(context))
    with context.store.write(timeout=WRITE_WAIT_SECONDS) as db:
        [subscription] = _subscriptions(db, [sub_id])
        if subscription.status != UNCONFIRMED:      # a second use changes nothing
            return _already(subscription)
        subscription = set_status(db, context.settings.subscriptions, sub_id, ACTIVE, BY, to_iso(utcnow()))
    manage = context.web.links.url(MANAGE, sub_id, utcnow())
    return message_page("You are subscribed", "Alerts for what you chose will come to "
                        f"{address(subscription)} from now on. Every alert e-mail has links to pause or stop "
                        "them.", link=(manage, "Manage this subscription"))


def _already(subscription: Subscription):
    if subscription.status == REMOVED:
        return message_page("Sign-up closed", "This sign-up was cancelled or has expired. Nothing was changed; "
                            "you can sign up again.", 409)
    return message_page("Already confirmed", "This sign-up was already confirmed. Nothing was changed.", 200)


@blueprint.get("/manage/<token>")
def manage_page(token: str):
    context = web_context()
    subscription = _one(context, MANAGE, token, _manage_age(context))
    return _subscription_page("manage.html", "Your subscription", subscription, context)


MANAGE_ACTIONS = {"pause": (PAUSED, (ACTIVE,)), "resume": (ACTIVE, (PAUSED,)), "stop": (REMOVED, (ACTIVE, PAUSED))}


@blueprint.post("/manage/<token>")
def manage(token: str):
    context = web_context()
    _require_csrf(context)
    [sub_id] = _verified(context, MANAGE, token, _manage_age(context))
    action = request.form.get("action", "")
    if action not in MANAGE_ACTIONS:
        raise Refused("Unknown action", "Nothing was changed.", 400)
    status, allowed_from = MANAGE_ACTIONS[action]
    with context.store.write(timeout=WRITE_WAIT_SECONDS) as db:
        [subscription] = _subscriptions(db, [sub_id])
        if subscription.status not in allowed_from:
            raise Refused("Nothing changed", f"This subscription is {subscription.status}; nothing was changed.",
                          409)
        now = to_iso(utcnow())
        subscription = set_status(db, context.settings.subscriptions, sub_id, status, BY, now)
        cancel_undeliverable(db, context.settings.alerts, context.settings.subscriptions, now)
    return _subscription_page("manage.html", "Your subscription", subscription, context,
                              done={"pause": "Paused: nothing is sent until you resume.",
                                    "resume": "Resumed: you get what happens from now on.",
                                    "stop": "Unsubscribed: nothing more is sent."}[action])


@blueprint.get("/u/<token>")
def stop_page(token: str):
    context = web_context()
    found = _subscriptions(context.store.read(), _verified(context, STOP, token, None))
    if all(s.status == REMOVED for s in found):
        return message_page("Already unsubscribed", "You are already unsubscribed. Nothing was changed.")
    return render_template("unsubscribe.html", title="Unsubscribe", subscriptions=found, describe=describe)


@blueprint.post("/u/<token>")
def stop(token: str):
    """RFC 8058 one-click unsubscribe (and the button of the page above)."""
    context = web_context()
    ids = _verified(context, STOP, token, None)
    with context.store.write(timeout=WRITE_WAIT_SECONDS) as db:
        found = _subscriptions(db, ids)
        now = to_iso(utcnow())
        stopped = [set_status(db, context.settings.subscriptions, s.id, REMOVED, BY, now, why="unsubscribe link")
                   for s in found if s.status != REMOVED]
        cancel_undeliverable(db, context.settings.alerts, context.settings.subscriptions, now)
    if not stopped:
        return message_page("Already unsubscribed", "You are already unsubscribed. Nothing was changed.")
    return message_page("Unsubscribed", f"{address(stopped[0])} gets no more of these alerts.")


def _subscription_page(template: str, title: str, subscription: Subscription, context: WebContext, **extra):
    return render_template(template, title=title, subscription=subscription, lines=describe(subscription),
                           csrf=csrf_token(context.secret), **extra)
