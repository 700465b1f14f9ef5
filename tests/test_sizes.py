"""Sizes are printed for people, by one helper (core/sizes.py)."""

from __future__ import annotations

import pytest
from watch287g.core.sizes import human_size


@pytest.mark.parametrize("size, shown", [
    (20 * 1024 * 1024, "20 MB"),          # the default workbook limit ([crawl] max_workbook_mb = 20)
    (5 * 1024 * 1024, "5 MB"),
    (int(0.2 * 1024 * 1024), "205 KB"),
    (1536, "1.5 KB"),
    (184_320, "180 KB"),
    (1024, "1 KB"),
    (1023, "1023 bytes"),
    (1, "1 byte"),
    (0, "0 bytes"),
    (1024 * 1024 - 1, "1 MB"),            # rounds up into the next unit, never "1024 KB"
    (int(2.5 * 1024 ** 3), "2.5 GB"),
])
def test_sizes_read_as_people_write_them(size, shown):
    assert human_size(size) == shown
