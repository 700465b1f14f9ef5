"""Regenerate the examples in docs/alerts.md from the real renderers.

    .venv/bin/python docs/examples/render_examples.py

writes, beside this script:
  slack_message.json   Block Kit payload of one alert (what chat.postMessage gets)
  slack_burst.json     a burst: the summary post and its first threaded reply
  slack_message.html   a mock of how Slack shows both (for the screenshot only)
  digest_email.html    the HTML part of a daily digest e-mail
  digest_email.txt     its plain-text part
and, when Chromium is installed, slack_message.png and digest_email.png.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from watch287g.alerts.render_email import footer_lines, render_email  # noqa: E402
from watch287g.alerts.render_slack import render_batch  # noqa: E402
from watch287g.alerts.settings import EmailSettings, SlackSettings  # noqa: E402
from watch287g.alerts.subscriptions import Filter, Subscription  # noqa: E402
from watch287g.core import events as ev  # noqa: E402

SOURCE = {"kind": "participating", "file_name": "participatingAgencies-20250301180751.xlsx",
          "sha256": "9e262e64fd7f5756e897e1bdf1f18e01c90a03abab8f5844f2f6c44997f3cfdd",
          "observed_at": "2025-03-01T18:07:51Z"}
MOA = "https://www.ice.gov/doclib/about/offices/ero/pdf/287gMOA/r_287g{}.pdf"


def event(event_id: int, event_type: str, agency: str, state: str, county: str | None, model: str,
          signed: str, line: int, **extra) -> dict:
    record = {"uid": f"{state}-{line}", "state": state, "agency": agency, "model": model, "signed": signed,
              "county": county, "agency_type": "County", "moa_url": MOA.format(agency.split()[0].title() + state),
              "addendum_url": None}
    made = ev.record_event(event_type, record, SOURCE["observed_at"], SOURCE,
                           {"line": line, "values": {"LAW ENFORCEMENT AGENCY": agency}}, **extra)
    made["id"] = event_id
    return made


def examples() -> tuple[list[dict], list[dict]]:
    digest = [
        event(101, ev.SIGNED, "POLK COUNTY SHERIFF'S OFFICE", "FL", "Polk County", "Task Force Model",
              "2025-02-26", 412),
        event(102, ev.SIGNED, "MIAMI-DADE POLICE DEPARTMENT", "FL", "Miami-Dade County", "Task Force Model",
              "2025-02-27", 388),
        event(103, ev.RENEWED, "COBB COUNTY SHERIFF'S OFFICE", "GA", "Cobb County", "Jail Enforcement Model",
              "2025-02-20", 251, previous_signed="2020-02-18",
              changes={"signed": {"old": "2020-02-18", "new": "2025-02-20"}}),
        event(104, ev.SIGNED, "MCLENNAN COUNTY SHERIFF'S OFFICE", "TX", "McLennan County", "Warrant Service Officer",
              "2025-02-25", 1102),
        event(105, ev.TERMINATED, "O'BRIEN COUNTY SHERIFF'S OFFICE", "IA", "O'Brien County",
              "Warrant Service Officer", "2023-06-01", 233, missing_since="2025-02-21T18:05:12Z",
              last_listed={"file_name": "participatingAgencies-20250220183301.xlsx", "line": 233,
                           "observed_at": "2025-02-20T18:33:01Z"}),
    ]
    burst = [event(200 + i, ev.SIGNED, name, "FL", county, "Task Force Model", "2025-02-26", 300 + i)
             for i, (name, county) in enumerate([
                 ("ALACHUA COUNTY SHERIFF'S OFFICE", "Alachua County"), ("BAKER COUNTY SHERIFF'S OFFICE", "Baker County"),
                 ("BAY COUNTY SHERIFF'S OFFICE", "Bay County"), ("BRADFORD COUNTY SHERIFF'S OFFICE", "Bradford County"),
                 ("BREVARD COUNTY SHERIFF'S OFFICE", "Brevard County"),
                 ("CITY OF CAPE CANAVERAL POLICE DEPARTMENT", "Brevard County"),
             ] * 11)][:64]
    return digest, burst


def mrkdwn_to_html(text: str) -> str:
    """Enough of Slack's rendering for a picture. The text is escaped
    mrkdwn already (&, <, > as entities), so only our own links remain."""
    out = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r'<a href="\1">\2</a>', text)
    out = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w/])_([^_\n]+)_(?!\w)", r"<i>\1</i>", out)
    return out.replace("\n", "<br>")


def blocks_to_html(blocks: list[dict]) -> str:
    parts = []
    for block in blocks:
        if block["type"] == "header":
            parts.append(f'<div class="header">{html.escape(block["text"]["text"])}</div>')
        elif block["type"] == "section" and "fields" in block:
            cells = "".join(f'<div>{mrkdwn_to_html(f["text"])}</div>' for f in block["fields"])
            parts.append(f'<div class="fields">{cells}</div>')
        elif block["type"] == "section":
            parts.append(f'<div class="section">{mrkdwn_to_html(block["text"]["text"])}</div>')
        elif block["type"] == "context":
            parts.append(f'<div class="context">{mrkdwn_to_html(block["elements"][0]["text"])}</div>')
        elif block["type"] == "divider":
            parts.append("<hr>")
    return "".join(parts)


# How Slack draws a message and its blocks (shared with render_slack_app.py).
MESSAGE_CSS = """body { font: 15px/1.46 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1c1d;
       margin: 0; background: #f4f4f4; }
.msg { display: flex; gap: 8px; margin: 10px 0 18px; }
.avatar { flex: none; width: 36px; height: 36px; border-radius: 6px; background: #1d4ed8; color: #fff;
           font-weight: 700; font-size: 12px; display: flex; align-items: center; justify-content: center; }
.who { font-weight: 700; } .app { font-size: 10px; background: #eee; color: #666; padding: 1px 3px; }
.time { font-weight: 400; color: #777; font-size: 12px; }
.header { font-size: 18px; font-weight: 800; margin: 4px 0; }
.section { margin: 4px 0; } .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 12px; margin: 6px 0; }
.context { font-size: 12px; color: #616061; margin: 4px 0; }
a { color: #1264a3; text-decoration: none; } hr { border: 0; border-top: 1px solid #ddd; }
.label { color: #777; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; margin: 14px 0 4px; }
"""


def post(body: str, time: str = "2:10 PM", extra: str = "") -> str:
    """One message from the app, as Slack lays it out."""
    return (f'<div class="msg"><div class="avatar">287</div><div><div class="who">watch287g '
            f'<span class="app">APP</span> <span class="time">{time}</span></div>{body}{extra}</div></div>')


def slack_mock(single: dict, summary: dict, reply: dict, replies: int) -> str:
    thread = f'<div class="replies">{replies} replies · View thread</div>'
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
.phone {{ width: 400px; margin: 16px auto; background: #fff; border-radius: 18px; padding: 12px 14px;
          box-shadow: 0 2px 12px rgba(0,0,0,.15); }}
.channel {{ font-weight: 700; border-bottom: 1px solid #ddd; padding-bottom: 8px; margin-bottom: 8px; }}
{MESSAGE_CSS}.replies {{ color: #1264a3; font-weight: 700; font-size: 13px; margin-top: 4px; }}
.thread {{ border-left: 3px solid #ddd; padding-left: 10px; margin-left: 44px; }}
</style></head><body><div class="phone"><div class="channel"># fl-287g-alerts</div>
<div class="label">One alert</div>{post(blocks_to_html(single["blocks"]))}
<div class="label">A burst of 64: one post, details in its thread</div>{post(blocks_to_html(summary["blocks"]), extra=thread)}
<div class="thread">{post(blocks_to_html(reply["blocks"][:4]))}</div>
</div></body></html>"""


def screenshot(page: Path, png: Path, size: str) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print(f"chromium not found: skipped {png.name}")
        return
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--hide-scrollbars", f"--screenshot={png}", f"--window-size={size}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    print(f"wrote {png}")


def main() -> None:
    digest, burst = examples()
    slack = SlackSettings()
    [single] = render_batch(digest[:1], "instant", slack, can_thread=True)
    burst_messages = render_batch(burst, "instant", slack, can_thread=True)
    payload = lambda m: {"text": m.text, "blocks": m.blocks}  # noqa: E731
    (HERE / "slack_message.json").write_text(json.dumps(payload(single), indent=2, ensure_ascii=False) + "\n")
    (HERE / "slack_burst.json").write_text(json.dumps(
        {"summary": payload(burst_messages[0]), "first_reply": payload(burst_messages[1]),
         "replies": len(burst_messages) - 1}, indent=2, ensure_ascii=False) + "\n")
    (HERE / "slack_message.html").write_text(slack_mock(payload(single), payload(burst_messages[0]),
                                                        payload(burst_messages[1]), len(burst_messages) - 1))
    reporter = Subscription(id="s2", destination="email:reporter@news.example", cadence="daily",
                            filter=Filter(states=("FL", "GA", "TX", "IA")))
    email = EmailSettings(from_address="alerts@watch287g.example")
    mail = render_email(digest, footer_lines([reporter], False, email), "daily", "reporter@news.example",
                        "3f2a9c0d5e6b47a1", dt.datetime(2025, 3, 2, 13, 0, tzinfo=dt.timezone.utc), email)
    (HERE / "digest_email.html").write_text(mail.get_body(("html",)).get_content())
    headers = "".join(f"{k}: {v}\n" for k, v in mail.items() if k in ("From", "To", "Subject", "List-Unsubscribe"))
    (HERE / "digest_email.txt").write_text(headers + "\n" + mail.get_body(("plain",)).get_content())
    print(f"wrote examples to {HERE}")
    screenshot(HERE / "digest_email.html", HERE / "digest_email.png", "900,1200")
    screenshot(HERE / "slack_message.html", HERE / "slack_message.png", "520,1150")


if __name__ == "__main__":
    main()
