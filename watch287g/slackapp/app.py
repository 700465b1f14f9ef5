"""The Bolt app: ``/287g``, the App Home and the subscribe form.

One synchronous Bolt ``App`` serves both modes (frontends.py hosts it over
Socket Mode or HTTP). Every handler acknowledges first — Slack waits 3
seconds at most — then does its work and replies through the command's
``response_url`` (ephemeral: only the person sees it) or the Web API.

Permissions (docs/slack-app.md): anyone in a channel manages that channel's
subscriptions (Slack only lets people type a command in a channel they are
in; the Home tab asks Slack which channels the person is in). ``check`` and
changing other channels' subscriptions are for ``[slack_app] admins`` (user
or user group IDs); an empty list lets everyone. Every change is stored with
the subscription: by ``slack:USER``, when, what.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Protocol

from slack_bolt import Ack, App, Respond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watch287g import report
from watch287g.alerts import outbox
from watch287g.alerts.render_slack import section_block
from watch287g.alerts.slack import describe_error, retry_handlers
from watch287g.alerts.subscriptions import (
    ACTIVE,
    PAUSED,
    REMOVED,
    Subscription,
    SubscriptionError,
    add_subscription,
    all_subscriptions,
    check_changeable,
    make_destination,
    make_filter,
    set_status,
)
from watch287g.check_runner import CheckOutcome
from watch287g.core import events as ev
from watch287g.core.config import ConfigError
from watch287g.core.errors import UserError
from watch287g.core.timeutil import to_iso, utcnow
from watch287g.service_status import status_section
from watch287g.settings import Settings
from watch287g.slackapp import blocks, form
from watch287g.slackapp.commands import CommandError, Request, parse
from watch287g.state.store import Store, StoreError

log = logging.getLogger("watch287g.slackapp")
_MEMBER_PAGES = 10          # users.conversations pages of 200 read for the Home tab
_NOT_FOUND = ("channel_not_found", "not_in_channel", "method_not_supported_for_channel_type")


class _SameTokenNotice(logging.Filter):
    """Bolt warns that $SLACK_BOT_TOKEN goes unused whenever it is set beside
    a client; the client we give it carries the bot token already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


log.addFilter(_SameTokenNotice())


class Checker(Protocol):
    """What runs a check for ``/287g check``: the service (Service.check_now)."""

    def check_now(self, on_done: Callable[[list[CheckOutcome]], None] | None = None,
                  min_age_seconds: float | None = None) -> str: ...


class Refusal(Exception):
    """A request the app turns down; str() is the reply."""


class SlackApp:
    """The handlers, with what they share: settings, the store, the checker."""

    def __init__(self, settings: Settings, store: Store, checker: Checker | None) -> None:
        self.settings = settings
        self.app_settings = settings.slack_app
        self.store = store
        self.checker = checker

    # --- who may do what --------------------------------------------------

    def is_admin(self, client: WebClient, user: str) -> bool:
        admins = self.app_settings.admins
        if not admins or user in admins:
            return True
        for group in (admin for admin in admins if admin.startswith("S")):
            if user in client.usergroups_users_list(usergroup=group).get("users", []):
                return True
        return False

    def channels_of(self, client: WebClient, user: str) -> set[str]:
        """The conversations the user is in that the bot can see."""
        found: set[str] = set()
        cursor = None
        for _ in range(_MEMBER_PAGES):
            page = client.users_conversations(user=user, types="public_channel,private_channel,mpim,im",
                                              exclude_archived=True, limit=200, cursor=cursor)
            found.update(channel["id"] for channel in page.get("channels", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found

    @staticmethod
    def require_member(client: WebClient, channel: str, bot_user: str | None) -> None:
        """Refuse when the bot cannot post in the channel: alerts would never arrive."""
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except SlackApiError as err:
            if err.response.get("error") not in _NOT_FOUND:
                raise
            info = {}
        if not (info.get("is_member") or info.get("is_im")):
            me = f"<@{bot_user}>" if bot_user else "the watch287g app"
            raise Refusal(f"I'm not in this channel, so my alerts could not be posted here. Invite me "
                          f"(`/invite` {me}, or channel details → Integrations → Add apps), then subscribe "
                          "again. Nothing was saved.")

    # --- subscriptions ----------------------------------------------------

    def channel_subscriptions(self, channel: str) -> list[Subscription]:
        db = self.store.read()
        return [s for s in all_subscriptions(db, self.settings.subscriptions) if s.destination == f"slack:{channel}"]

    def subscribe(self, channel: str, user: str, request: Request) -> Subscription:
        with self.store.write() as db:
            return add_subscription(db, self.settings.subscriptions, make_destination(channel, None, None),
                                    request.cadence, request.filter, None, to_iso(utcnow()),
                                    by=f"slack:{user}", origin="slack")

    def change(self, idents: list[str], status: str, user: str) -> list[Subscription]:
        """Pause, resume or remove stored subscriptions; cancel what they no
        longer get (as ``watch287g unsubscribe`` does)."""
        fixed, now = self.settings.subscriptions, to_iso(utcnow())
        with self.store.write() as db:
            changed = [set_status(db, fixed, ident, status, f"slack:{user}", now) for ident in idents]
            outbox.cancel_undeliverable(db, self.settings.alerts, fixed, now)
        return changed

    def unsubscribe(self, channel: str, user: str, target: str | None) -> list[dict]:
        mine = [s for s in self.channel_subscriptions(channel) if not s.from_config]
        if target is None and len(mine) > 1:
            raise Refusal(f"This channel has {len(mine)} subscriptions; say which: "
                          + ", ".join(f"`/287g unsubscribe {s.id}`" for s in mine) + ", or `all`.")
        if target is None or target.lower() == "all":
            chosen = mine
        else:
            chosen = [check_changeable(self.store.read(), self.settings.subscriptions, target)]
            if chosen[0].destination != f"slack:{channel}":
                raise Refusal(f"{chosen[0].id} is not this channel's subscription: unsubscribe it in its own "
                              "channel (or from the app's Home tab, if you are an admin).")
        if not chosen:
            raise Refusal("This channel has no subscriptions to stop (`/287g list`).")
        removed = self.change([s.id for s in chosen], REMOVED, user)
        return [section_block("Unsubscribed: " + ", ".join(f"*{s.id}*" for s in removed)
                                     + ". Nothing more will be posted for them; undelivered alerts were "
                                       "cancelled.")]

    # --- the command --------------------------------------------------------

    def on_command(self, ack: Ack, command: dict, respond: Respond, client: WebClient, context) -> None:
        try:
            request = parse(command.get("text", ""))
        except CommandError as err:
            ack(response_type="ephemeral", text=str(err))
            return
        if request.action == "help":
            ack(response_type="ephemeral", text=blocks.HELP)
            return
        if request.action == "check":
            ack(response_type="ephemeral", text=self.ask_for_check(client, command, respond))
            return
        ack()
        reply = self.replying(respond)
        channel, user = command["channel_id"], command["user_id"]
        if request.action == "subscribe" and request.bare:
            reply(lambda: self.open_form(client, channel, command["trigger_id"], context.get("bot_user_id")))
        elif request.action == "subscribe":
            reply(lambda: self.do_subscribe(client, channel, user, request, context.get("bot_user_id")))
        elif request.action == "unsubscribe":
            reply(lambda: self.unsubscribe(channel, user, request.target))
        elif request.action == "list":
            reply(lambda: blocks.channel_list(self.channel_subscriptions(channel)))
        elif request.action == "status":
            reply(lambda: blocks.status(*self.status_parts()))
        else:
            reply(lambda: blocks.latest(self.latest_events(request.target), request.target))

    @staticmethod
    def replying(respond: Respond) -> Callable[[Callable[[], list[dict] | None]], None]:
        """Run an action and send its blocks (or its refusal) to the person."""
        def run(action: Callable[[], list[dict] | None]) -> None:
            try:
                shown = action()
            except (Refusal, SubscriptionError, UserError, ConfigError, StoreError) as err:
                respond(response_type="ephemeral", replace_original=False, text=str(err))
                return
            except SlackApiError as err:
                log.warning("Slack refused a call: %s", describe_error(err))
                respond(response_type="ephemeral", replace_original=False,
                        text=f"Slack refused my request ({describe_error(err)}); nothing was changed.")
                return
            if shown:
                respond(response_type="ephemeral", replace_original=False, blocks=shown,
                        text=blocks.fallback(shown))
        return run

    def do_subscribe(self, client: WebClient, channel: str, user: str, request: Request,
                     bot_user: str | None) -> list[dict]:
        self.require_member(client, channel, bot_user)
        return blocks.subscribed(self.subscribe(channel, user, request))

    def open_form(self, client: WebClient, channel: str, trigger_id: str, bot_user: str | None) -> None:
        self.require_member(client, channel, bot_user)
        client.views_open(trigger_id=trigger_id, view=form.subscribe_view(channel))

    def status_parts(self) -> tuple[dict, dict]:
        return report.status_report(self.store.read()), status_section(self.store)

    def latest_events(self, state: str | None) -> list[dict]:
        chosen = report.select_events(self.store.read(), types=set(ev.SUBSCRIBER_TYPES),
                                      states={state} if state else None)
        return chosen[-blocks.LATEST_EVENTS:]

    def ask_for_check(self, client: WebClient, command: dict, respond: Respond) -> str:
        user = command["user_id"]
        if self.checker is None:
            return "Checks from Slack need the app to run inside `watch287g run`."
        if not self.is_admin(client, user):
            return "Only the admins named in the server's config may run `/287g check`."
        every = self.app_settings.check_every_minutes

        def post_result(outcomes: list[CheckOutcome]) -> None:
            text, shown = blocks.check_result(outcomes, user)
            respond(response_type="in_channel", replace_original=False, text=text, blocks=shown)

        return blocks.check_answer(self.checker.check_now(post_result, every * 60), every)

    # --- the subscribe form --------------------------------------------------

    def on_form(self, ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        channel, user = view["private_metadata"], body["user"]["id"]
        try:
            choice = form.read(view)
            filter_ = make_filter(choice.states, choice.counties, "", choice.models, choice.types)
        except (SubscriptionError, form.FormError) as err:
            ack(response_action="errors", errors={getattr(err, "block", form.COUNTIES): str(err)})
            return
        ack()
        try:
            subscription = self.subscribe(channel, user, Request("subscribe", filter=filter_,
                                                                 cadence=choice.cadence))
            shown = blocks.subscribed(subscription)
        except (SubscriptionError, StoreError) as err:
            shown = [section_block(f"Nothing was saved: {err}")]
        client.chat_postEphemeral(channel=channel, user=user, blocks=shown, text=blocks.fallback(shown))

    # --- the Home tab ----------------------------------------------------------

    def on_home_opened(self, event: dict, client: WebClient) -> None:
        if event.get("tab") == "home":
            self.publish_home(client, event["user"])

    def publish_home(self, client: WebClient, user: str, notice: str | None = None) -> None:
        channels = self.channels_of(client, user)
        slack = [s for s in all_subscriptions(self.store.read(), self.settings.subscriptions)
                 if s.destination.startswith("slack:")]
        mine = [s for s in slack if s.destination.split(":", 1)[1] in channels]
        others = [s for s in slack if s not in mine] if self.is_admin(client, user) else None
        client.views_publish(user_id=user, view=blocks.home(mine, others, *self.status_parts(), notice=notice))

    def on_home_button(self, ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        user, ident = body["user"]["id"], action["value"]
        status = {"subscription.pause": PAUSED, "subscription.resume": ACTIVE,
                  "subscription.remove": REMOVED}[action["action_id"]]
        notice = None
        try:
            subscription = check_changeable(self.store.read(), self.settings.subscriptions, ident)
            channel = subscription.destination.split(":", 1)[1]
            if channel not in self.channels_of(client, user) and not self.is_admin(client, user):
                raise Refusal(f"{ident} belongs to a channel you are not in; only admins may change it.")
            self.change([ident], status, user)
        except (Refusal, SubscriptionError, StoreError) as err:
            notice = str(err)
        self.publish_home(client, user, notice)


def build_app(settings: Settings, store: Store, checker: Checker | None, signing_secret: str | None) -> App:
    """The Bolt app, its Web API calls made with the bot token to
    ``[slack] api_base_url``. ``signing_secret`` None: Socket Mode, where
    Slack's websocket replaces request signing."""
    slack = settings.alerts.slack
    # Retrying is safe here: the app reads, publishes views (idempotent) and
    # posts ephemeral notes (a rare duplicate is shown once to one person).
    client = WebClient(token=os.environ.get(slack.bot_token_env), base_url=slack.api_base_url,
                       timeout=int(slack.timeout_seconds), retry_handlers=retry_handlers(slack))
    app = App(client=client, signing_secret=signing_secret, request_verification_enabled=signing_secret is not None,
              token_verification_enabled=False, logger=log)
    handlers = SlackApp(settings, store, checker)
    app.command(blocks.COMMAND)(handlers.on_command)
    app.view(form.CALLBACK_ID)(handlers.on_form)
    app.event("app_home_opened")(handlers.on_home_opened)
    for action_id in ("subscription.pause", "subscription.resume", "subscription.remove"):
        app.action(action_id)(handlers.on_home_button)
    return app
