"""A small HTTP client for the web app, as a browser without JavaScript
would behave: it keeps cookies, reads forms and posts them. The web tests and
benchmarks/bench_web.py drive the app with it."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from bs4 import BeautifulSoup

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = "another-secret-0123456789-abcdefghijklmnopqrstuv"


@dataclass
class Page:
    status: int
    headers: http.client.HTTPMessage       # case-insensitive, as HTTP's header names are
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.text, "html.parser")

    def form_fields(self, index: int = 0) -> dict[str, str]:
        """The hidden fields of the page's ``index``-th form (its CSRF token)."""
        form = self.soup.find_all("form")[index]
        return {field["name"]: field.get("value", "") for field in form.find_all("input", type="hidden")}

    def words(self) -> str:
        return " ".join(self.soup.get_text(" ").split())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """One browser: its own cookie jar."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def request(self, method: str, path: str, data: dict | list | bytes | None = None,
                headers: dict[str, str] | None = None) -> Page:
        body = data if isinstance(data, bytes) or data is None else urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(self.url(path), data=body, method=method, headers=headers or {})
        if body is not None and "Content-Type" not in (headers or {}):
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=30) as response:
                return Page(response.status, response.headers, response.read(), response.url)
        except urllib.error.HTTPError as err:
            return Page(err.code, err.headers, err.read(), self.url(path))

    def get(self, path: str, headers: dict[str, str] | None = None) -> Page:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict | list | bytes | None = None, headers: dict[str, str] | None = None) -> Page:
        return self.request("POST", path, data if data is not None else {}, headers)

    def submit(self, page: Page, extra: dict | list | None = None, index: int = 0) -> Page:
        """Post the page's form (its hidden fields plus ``extra``) to its action."""
        form = page.soup.find_all("form")[index]
        action = urllib.parse.urljoin(page.url, form.get("action") or page.url)
        fields = list(page.form_fields(index).items())
        fields += list(extra.items()) if isinstance(extra, dict) else list(extra or [])
        return self.post(action, fields)

    def sign_up(self, email: str, **choices) -> Page:
        """Fill the sign-up form as a person would and send it: the boxes
        checked by default stay checked unless ``choices`` names that field."""
        form = self.get("/subscribe")
        checked = [(box["name"], box["value"]) for box in form.soup.select("input[checked]")]
        fields = [("email", email)] + [(name, value) for name, value in checked if name not in choices]
        for name, values in choices.items():
            fields += [(name, value) for value in (values if isinstance(values, list) else [values])]
        return self.submit(form, fields)


def links_in(text: str, path: str) -> list[str]:
    """Every address in ``text`` whose path starts with ``path`` (/confirm/, /u/...)."""
    return re.findall(r"https?://[^\s<>\"]+" + re.escape(path) + r"[A-Za-z0-9_.-]+", text)
