"""Regenerate the Slack app pictures in docs/slack-app.md from the real code.

    .venv/bin/python docs/examples/render_slack_app.py

Replays two real ICE workbooks (tests/fixtures/replay, 6 and 7 March 2025)
into a scratch state, subscribes two channels as the Slack app does, and
renders the app's own Block Kit: the Home tab, a subscribe reply and a check
result. Writes beside this script slack_app_home.json, slack_app_replies.json,
slack_app.html (a mock of how Slack lays them out, for the picture only) and,
when Chromium is installed, slack_app.png. The manifest is printed by
`watch287g slack-manifest`.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from render_examples import MESSAGE_CSS, blocks_to_html, post, screenshot  # noqa: E402

from watch287g.alerts.subscriptions import add_subscription, make_filter  # noqa: E402
from watch287g.check_runner import CheckOutcome  # noqa: E402
from watch287g.core.config import Config  # noqa: E402
from watch287g.replay import run_replay  # noqa: E402
from watch287g.report import status_report  # noqa: E402
from watch287g.service_status import status_section  # noqa: E402
from watch287g.settings import Settings  # noqa: E402
from watch287g.slackapp import blocks  # noqa: E402
from watch287g.state.store import Store  # noqa: E402

REPLAY = ROOT / "tests" / "fixtures" / "replay" / "participating"
LISTS = [("2025-03-06T09:00:00", "20250306T0900_participatingAgencies03062025am.xlsx"),
         ("2025-03-07T09:00:00", "20250307T0900_participatingAgencies03072025am.xlsx")]
CHANNELS = {"C0FLORIDA1": "fl-287g-alerts", "C0NEWSDESK": "newsdesk"}


def scratch_state(folder: Path) -> tuple[Store, list, list[dict]]:
    manifest = folder / "manifest.csv"
    manifest.write_text("observed_at,kind,file\n" + "".join(
        f"{when},participating,{REPLAY / name}\n" for when, name in LISTS))
    settings = Settings(Config({}, None))
    store = Store(folder / "data")
    run_replay(settings, store, manifest, "ice", lambda step: None)
    with store.write() as db:
        made = [add_subscription(db, (), "slack:C0FLORIDA1", "instant", make_filter(["FL"], (), "", (), ["signed"]),
                                 None, "2025-03-05T14:02:00Z", by="slack:U0ALICE01", origin="slack"),
                add_subscription(db, (), "slack:C0NEWSDESK", "daily", make_filter(["TX", "GA"], ["Harris"], "",
                                                                                   ["TFM"], ()),
                                 None, "2025-03-05T15:30:00Z", by="slack:U0BOB0001", origin="slack")]
    events = [dict(e) for e in store.read().events.in_order()]
    return store, made, events


PEOPLE = {"U0ALICE01": "alice", "U0BOB0001": "bob"}


def mentions(text: str) -> str:
    """`code`, <#C…> and <@U…> as Slack shows them."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"<#(C[A-Z0-9]+)>", lambda m: f'<span class="mention">#{CHANNELS[m[1]]}</span>', text)
    return re.sub(r"<@(U[A-Z0-9]+)>", lambda m: f'<span class="mention">@{PEOPLE[m[1]]}</span>', text)


def app_blocks_to_html(shown: list[dict]) -> str:
    """blocks_to_html, plus the Home tab's buttons and Slack's mentions."""
    parts = []
    for block in shown:
        if block["type"] == "actions":
            parts.append('<div class="actions">' + "".join(
                f'<span class="button {element.get("style", "")}">{html.escape(element["text"]["text"])}</span>'
                for element in block["elements"]) + "</div>")
        else:
            parts.append(mentions(blocks_to_html([block])))
    return "".join(parts)


def page(home_view: dict, subscribed: list[dict], result: list[dict]) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
{MESSAGE_CSS}body {{ display: flex; gap: 24px; padding: 16px; align-items: flex-start; }}
.pane {{ width: 520px; background: #fff; border-radius: 12px; padding: 12px 16px;
         box-shadow: 0 2px 12px rgba(0,0,0,.15); }}
.title {{ font-weight: 700; border-bottom: 1px solid #ddd; padding-bottom: 8px; margin-bottom: 8px; }}
.section {{ margin: 6px 0; }}
.actions {{ margin: 2px 0 10px; }} .button {{ display: inline-block; border: 1px solid #bbb; border-radius: 4px;
           padding: 2px 12px; margin-right: 8px; font-weight: 700; font-size: 13px; }}
.button.danger {{ color: #e01e5a; }} .mention {{ background: #e8f5fa; color: #1264a3; border-radius: 3px; }}
code {{ font-size: 12px; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px; color: #c01343; }}
.eph {{ color: #777; font-size: 12px; margin-left: 44px; margin-top: -14px; }}
</style></head><body>
<div class="pane"><div class="title">watch287g · Home</div>{app_blocks_to_html(home_view["blocks"])}</div>
<div class="pane"><div class="title"># fl-287g-alerts</div>
<div class="label">/287g subscribe FL signed</div>{post(app_blocks_to_html(subscribed), "2:02 PM")}
<div class="eph">Only visible to you</div>
<div class="label">/287g check</div>{post(app_blocks_to_html(result), "2:05 PM")}
</div></body></html>"""


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        store, (florida, desk), events = scratch_state(Path(scratch))
        report, service = status_report(store.read()), status_section(store)
    service["service"].update(running=True, started_at="2025-03-07T08:00:00Z")
    service["sources"] = [{"source": "ice", "failure_streak": {"failures": 0}, "stale": {},
                           "last_check": {"finished_at": "2025-03-07T09:00:12Z", "ok": True, "message": ""}}]
    home_view = blocks.home([florida], [desk], report, service)
    subscribed = blocks.subscribed(florida)
    outcome = CheckOutcome("ice", "ok", "2025-03-07T09:00:00Z", "2025-03-07T09:00:12Z", 0,
                           "participating accepted (12 events), pending unchanged", events)
    _, result = blocks.check_result([outcome], "U0ALICE01")
    (HERE / "slack_app_home.json").write_text(json.dumps(home_view, indent=2, ensure_ascii=False) + "\n")
    (HERE / "slack_app_replies.json").write_text(json.dumps(
        {"subscribe": subscribed, "check": result}, indent=2, ensure_ascii=False) + "\n")
    (HERE / "slack_app.html").write_text(page(home_view, subscribed, result))
    print(f"wrote examples to {HERE}")
    screenshot(HERE / "slack_app.html", HERE / "slack_app.png", "1140,640")


if __name__ == "__main__":
    main()
