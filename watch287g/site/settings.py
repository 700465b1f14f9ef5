"""The [report] section of the config (docs/configuration.md)."""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from watch287g.core.config import Config, ConfigError, get, reject_unknown

WHERE = "[report]"


@dataclass(frozen=True)
class ReportSettings:
    out_dir: Path | None        # where `run` writes the report after each check; None: it does not
    base_url: str | None        # where the folder is published, for the feeds' absolute links
    with_archive: bool          # publish the archived workbooks the report cites

    @classmethod
    def from_config(cls, config: Config) -> "ReportSettings":
        table = config.section("report")
        reject_unknown(table, {"out_dir", "base_url", "with_archive"}, WHERE)
        out_dir = get(table, "out_dir", str, "", WHERE)
        return cls(out_dir=Path(os.path.expanduser(out_dir)) if out_dir else None,
                   base_url=check_base_url(get(table, "base_url", str, "", WHERE), f"{WHERE}.base_url"),
                   with_archive=get(table, "with_archive", bool, False, WHERE))


def check_base_url(text: str | None, where: str) -> str | None:
    """An absolute http(s) URL without a trailing slash, or None."""
    if not text:
        return None
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{where} must be an http(s) address like https://example.org/287g, not {text!r}")
    return text.strip().rstrip("/")
