"""Byte counts as people read them.

One rule for every size watch287g prints (limits, downloads, zip members):
binary units, as the config's ``max_page_mb``/``max_workbook_mb`` mean them
(1 MB = 1024 KB = 1,048,576 bytes), at most three significant digits, no
trailing zeros: ``20 MB``, ``1.5 MB``, ``180 KB``, ``900 bytes``.
"""

from __future__ import annotations

_UNITS = ("KB", "MB", "GB", "TB")
_STEP = 1024


def human_size(size: int | float) -> str:
    """``20 * 1024 * 1024`` -> ``20 MB``; ``1536`` -> ``1.5 KB``; ``1`` -> ``1 byte``."""
    if size < _STEP:
        count = int(size)
        return f"{count} byte{'' if count == 1 else 's'}"
    value, unit = float(size), "bytes"
    for unit in _UNITS:
        value /= _STEP
        if round(value, 1 if value < 10 else 0) < _STEP or unit == _UNITS[-1]:
            break
    shown = f"{value:.1f}".removesuffix(".0") if value < 10 else f"{value:.0f}"
    return f"{shown} {unit}"
