"""The subscribe form: ``/287g subscribe`` typed bare opens it as a modal.

Its choices are the same words the command takes (states, models, event
types, counties, cadence); ``read`` turns a submitted view back into them,
for the same validation (alerts.subscriptions.make_filter).
"""

from __future__ import annotations

from dataclasses import dataclass

from watch287g.alerts.describe import SHORT_VERBS
from watch287g.alerts.subscriptions import CADENCES
from watch287g.core import events as ev
from watch287g.core.normalize import MODELS, STATES

CALLBACK_ID = "subscribe"
STATES_BLOCK, MODELS_BLOCK, TYPES_BLOCK, COUNTIES, CADENCE_BLOCK = "states", "models", "types", "counties", "cadence"
MAX_COUNTIES = 20
_CADENCE_LABELS = {"instant": "As they happen", "daily": "Daily digest", "weekly": "Weekly digest"}


class FormError(ValueError):
    """A submitted value to show under its field (``block``)."""

    def __init__(self, block: str, message: str) -> None:
        super().__init__(message)
        self.block = block


@dataclass(frozen=True)
class Choice:
    states: list[str]
    models: list[str]
    types: list[str]
    counties: list[str]
    cadence: str


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def _option(label: str, value: str) -> dict:
    return {"text": _plain(label), "value": value}


def _input(block_id: str, label: str, element: dict, hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "optional": True, "label": _plain(label),
             "element": {**element, "action_id": block_id}}
    if hint:
        block["hint"] = _plain(hint)
    return block


def subscribe_view(channel: str) -> dict:
    """The modal; the channel rides in private_metadata to the submission."""
    default_types = [_option(SHORT_VERBS[t], t) for t in ev.DEFAULT_SUBSCRIBED_TYPES]
    return {
        "type": "modal", "callback_id": CALLBACK_ID, "private_metadata": channel,
        "title": _plain("Subscribe this channel"), "submit": _plain("Subscribe"), "close": _plain("Cancel"),
        "blocks": [
            _input(STATES_BLOCK, "States", {
                "type": "multi_static_select", "placeholder": _plain("Every state"),
                "options": [_option(name, code) for code, name in sorted(STATES.items(), key=lambda s: s[1])]}),
            _input(COUNTIES, "Counties", {"type": "plain_text_input", "placeholder": _plain("e.g. Polk, Lee")},
                   "Separate counties with commas. Empty: every county."),
            _input(MODELS_BLOCK, "Models", {"type": "checkboxes",
                                            "options": [_option(model, model) for model in MODELS]},
                   "None ticked: every model."),
            _input(TYPES_BLOCK, "Events", {"type": "checkboxes", "initial_options": default_types,
                                           "options": [_option(SHORT_VERBS[t], t) for t in ev.SUBSCRIBER_TYPES]}),
            _input(CADENCE_BLOCK, "When", {"type": "radio_buttons",
                                           "initial_option": _option(_CADENCE_LABELS["instant"], "instant"),
                                           "options": [_option(_CADENCE_LABELS[c], c) for c in CADENCES]}),
        ],
    }


def read(view: dict) -> Choice:
    values = view.get("state", {}).get("values", {})

    def chosen(block: str) -> list[str]:
        element = values.get(block, {}).get(block) or {}
        return [option["value"] for option in element.get("selected_options") or []]

    counties_text = (values.get(COUNTIES, {}).get(COUNTIES) or {}).get("value") or ""
    counties = [part.strip() for part in counties_text.split(",") if part.strip()]
    if len(counties) > MAX_COUNTIES:
        raise FormError(COUNTIES, f"at most {MAX_COUNTIES} counties in one subscription")
    cadence = ((values.get(CADENCE_BLOCK, {}).get(CADENCE_BLOCK) or {}).get("selected_option") or {}).get("value")
    if cadence not in CADENCES:
        cadence = "instant"
    types = chosen(TYPES_BLOCK)
    if not types and values.get(TYPES_BLOCK):
        raise FormError(TYPES_BLOCK, "tick at least one kind of event")
    return Choice(states=chosen(STATES_BLOCK), models=chosen(MODELS_BLOCK), types=types, counties=counties,
                  cadence=cadence)
