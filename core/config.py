"""The configuration file: where it is found, and the settings of the core.

One TOML file (docs/configuration.md documents every key). Secrets never
live in it: tokens and passwords come only from the environment, and the file
names the variables to read. Each layer reads its own section through the
small typed getters here, so every error names the exact key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

ENV_CONFIG = "WATCH287G_CONFIG"
ENV_DATA_DIR = "WATCH287G_DATA_DIR"
DEFAULT_CONFIG_NAME = "default_config.toml"


class ConfigError(ValueError):
    """A configuration problem; str() names the file and key."""


@dataclass
class Config:
    raw: dict
    path: Path | None           # None: the built-in default configuration

    @property
    def origin(self) -> str:
        return str(self.path) if self.path else "built-in default configuration"

    def section(self, name: str) -> dict:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.origin}: [{name}] must be a table")
        return value

    def list_of_tables(self, name: str) -> list[dict]:
        value = self.raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{self.origin}: {name} must be an array of tables ([[{name}]])")
        return value

    def data_dir(self, override: str | Path | None = None) -> Path:
        """--data-dir, then $WATCH287G_DATA_DIR, then the file's
        [watch287g] data_dir, then $XDG_DATA_HOME/watch287g."""
        chosen = override or os.environ.get(ENV_DATA_DIR) or self.section("watch287g").get("data_dir")
        if chosen:
            return Path(os.path.expanduser(str(chosen)))
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return Path(base) / "watch287g"


def config_candidates() -> list[Path]:
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return [Path("watch287g.toml"), Path(home) / "watch287g" / "config.toml"]


def load_config(path: str | Path | None = None) -> Config:
    """--config, then $WATCH287G_CONFIG, then ./watch287g.toml, then
    ~/.config/watch287g/config.toml, then the built-in default."""
    explicit = path or os.environ.get(ENV_CONFIG)
    if explicit:
        return _read(Path(os.path.expanduser(str(explicit))))
    for candidate in config_candidates():
        if candidate.is_file():
            return _read(candidate)
    return Config(raw=tomllib.loads(default_config_text()), path=None)


def default_config_text() -> str:
    return resources.files("watch287g").joinpath(DEFAULT_CONFIG_NAME).read_text(encoding="utf-8")


def _read(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return Config(raw=raw, path=path)


def get(table: dict, key: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
    """table[key] checked against kind (bool is not accepted as a number)."""
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{where}.{key} must be {_kind_name(kinds)}, not {value!r}")
    if not isinstance(value, kinds):
        raise ConfigError(f"{where}.{key} must be {_kind_name(kinds)}, not {value!r}")
    return value


def get_number(table: dict, key: str, default: float | None, where: str,
               minimum: float | None = None, maximum: float | None = None) -> float | None:
    value = get(table, key, (int, float), default, where)
    if value is None:
        return None
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{where}.{key} must be {bounds}, not {value!r}")
    return value


def reject_unknown(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "a number", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))
