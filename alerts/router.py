"""Which destinations an event goes to.

Subscriber events go to every delivering (active) subscription whose filter
matches; operator
events (quarantines, failing sources or deliveries) go only to the [operator]
destinations, never to subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass

from watch287g.alerts.settings import OperatorSettings
from watch287g.alerts.subscriptions import Subscription
from watch287g.core import events as ev

OPERATOR_PREFIX = "operator:"


@dataclass(frozen=True)
class Route:
    subscription_id: str
    destination: str
    cadence: str


def operator_routes(operator: OperatorSettings) -> list[Route]:
    # One pseudo-subscription per operator destination: operator alerts are
    # always instant, and each destination is tracked (and retried) on its own.
    return [Route(OPERATOR_PREFIX + dest, dest, "instant") for dest in operator.destinations()]


def routes_for(event: dict, subscriptions: list[Subscription], operator: OperatorSettings) -> list[Route]:
    if ev.is_operator_event(event):
        return operator_routes(operator)
    return [Route(s.id, s.destination, s.cadence) for s in subscriptions if s.delivers and s.filter.matches(event)]


def is_operator_route(subscription_id: str) -> bool:
    return subscription_id.startswith(OPERATOR_PREFIX)
