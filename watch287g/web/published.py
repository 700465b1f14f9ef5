"""The home page, and the published report folder with its Atom feeds,
read-only, at /report/.

Whatever folder ``[web] report_dir`` (by default ``[report] out_dir``, where
``watch287g run`` writes the report) names is served as static files, with
ETag and Last-Modified so browsers and feed readers revalidate cheaply
(304 Not Modified). Nothing outside the folder, and no hidden file in it,
is ever served; a folder's address serves its index.html.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, send_from_directory, url_for

from watch287g.web.context import web_context
from watch287g.web.guards import REPORT_CSP

blueprint = Blueprint("published", __name__)
mimetypes.add_type("application/atom+xml", ".atom")
FEED_LIMIT = 200        # feeds listed on the home page


@blueprint.get("/")
def home():
    return render_template("index.html", title="287(g) alerts", report=report_folder() is not None, feeds=feeds())


def report_folder() -> Path | None:
    folder = web_context().web.report_dir
    return folder if folder is not None and folder.is_dir() else None


@blueprint.get("/report/", defaults={"path": ""})
@blueprint.get("/report/<path:path>")
def report(path: str):
    folder = report_folder()
    if folder is None:
        abort(404, "No report is published here yet.")
    parts = path.split("/")
    if any(part.startswith(".") for part in parts if part):
        abort(404)
    if path and not path.endswith("/") and (folder / path).is_dir():
        return redirect(url_for("published.report", path=path + "/"))
    if not path or path.endswith("/"):
        path += "index.html"
    response = send_from_directory(folder, path, conditional=True, etag=True, max_age=None)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["Cache-Control"] = "no-cache"      # keep it, but ask each time (ETag / Last-Modified)
    return response


def feeds() -> list[tuple[str, str]]:
    """(file name, address) of the Atom feeds in the report folder: its
    *.atom files, and the .xml files under feeds/."""
    folder = report_folder()
    if folder is None:
        return []
    found = sorted(name for name in (p.relative_to(folder).as_posix() for p in folder.rglob("*.*"))
                   if (name.endswith(".atom") or name.startswith("feeds/") and name.endswith(".xml"))
                   and not any(part.startswith(".") for part in name.split("/")))
    return [(name, url_for("published.report", path=name)) for name in found[:FEED_LIMIT]]
