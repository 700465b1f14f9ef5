"""The thresholds that decide what counts as a change, from [gate] and [debounce].

Defaults are measured on the 391 real ICE lists of 2025; docs/identity.md
gives the numbers behind each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown


@dataclass(frozen=True)
class GatePolicy:
    """When a snapshot is too suspicious to diff (see state/gate.py)."""

    min_rows: int = 0
    # Quarantine a list with more than this fraction fewer agreements than the
    # last good one. 2025's largest real drop was 9 of 1,162 (0.8%).
    max_drop_fraction: float | None = None
    # Quarantine a list that keeps less than this fraction of the last good
    # list's agreements (by exact key). 2025's lowest was 94% (17 March).
    min_kept_fraction: float | None = None
    # Ratio checks say little about small lists: only apply them when the last
    # good list had at least this many agreements.
    ratio_floor: int = 20
    # Quarantine when more than this fraction of rows have no readable state
    # or model: the sign of shifted or relabelled columns.
    max_unreadable_fraction: float = 0.2


@dataclass(frozen=True)
class Debounce:
    """How long a row must stay off its list before the change is reported.

    ICE never marks an ending; rows also vanish for a list or two and come
    back. In 2025 no agreement that came back with the same signing date had
    been gone from more than 4 consecutive lists or for more than 4.7 days."""

    min_missing_snapshots: int = 4
    min_missing_days: float = 7.0


PARTICIPATING_GATE = GatePolicy(min_rows=50, max_drop_fraction=0.10, min_kept_fraction=0.80)
# ICE's pending list really does fall to zero rows (November 2025) and churns
# completely as applications are signed: only its shape is checked.
PENDING_GATE = GatePolicy(min_rows=0)


@dataclass(frozen=True)
class Policy:
    gates: dict[str, GatePolicy] = field(default_factory=lambda: {
        "participating": PARTICIPATING_GATE, "pending": PENDING_GATE})
    debounce: Debounce = Debounce()
    # A new SIGNED date at least this many days after the old one is a
    # renewal; smaller moves (and any move backwards) fix a typo and read as
    # corrections. 2025's fixes moved dates by 1 to 12 days.
    renewal_min_days: int = 14

    def gate_for(self, kind: str) -> GatePolicy:
        return self.gates.get(kind, PENDING_GATE)

    @classmethod
    def from_config(cls, config: Config) -> "Policy":
        gate_table = config.section("gate")
        reject_unknown(gate_table, {"participating", "pending"}, "[gate]")
        gates = {}
        for kind, default in (("participating", PARTICIPATING_GATE), ("pending", PENDING_GATE)):
            gates[kind] = _gate(gate_table.get(kind, {}), default, f"[gate.{kind}]")
        table = config.section("debounce")
        where = "[debounce]"
        reject_unknown(table, {"min_missing_snapshots", "min_missing_days", "renewal_min_days"}, where)
        debounce = Debounce(
            min_missing_snapshots=int(get_number(table, "min_missing_snapshots", 4, where, minimum=1)),
            min_missing_days=float(get_number(table, "min_missing_days", 7.0, where, minimum=0)),
        )
        renewal = int(get_number(table, "renewal_min_days", 14, where, minimum=1))
        return cls(gates=gates, debounce=debounce, renewal_min_days=renewal)


def _gate(table: dict, default: GatePolicy, where: str) -> GatePolicy:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    reject_unknown(table, {"min_rows", "max_drop_fraction", "min_kept_fraction", "ratio_floor",
                           "max_unreadable_fraction"}, where)
    off = get(table, "max_drop_fraction", (int, float, bool), None, where)
    kept = get(table, "min_kept_fraction", (int, float, bool), None, where)
    return GatePolicy(
        min_rows=int(get_number(table, "min_rows", default.min_rows, where, minimum=0)),
        max_drop_fraction=_fraction(off, default.max_drop_fraction, where, "max_drop_fraction"),
        min_kept_fraction=_fraction(kept, default.min_kept_fraction, where, "min_kept_fraction"),
        ratio_floor=int(get_number(table, "ratio_floor", default.ratio_floor, where, minimum=1)),
        max_unreadable_fraction=float(get_number(table, "max_unreadable_fraction",
                                                 default.max_unreadable_fraction, where, 0, 1)),
    )


def _fraction(value, default: float | None, where: str, key: str) -> float | None:
    """A fraction between 0 and 1, or false to switch the check off."""
    if value is None:
        return default
    if value is False:
        return None
    if value is True or not 0 <= value <= 1:
        raise ConfigError(f"{where}.{key} must be a fraction between 0 and 1, or false, not {value!r}")
    return float(value)
