"""Generated ICE-style pages for tests and benchmarks."""

from __future__ import annotations


def ice_page_with_links(count: int) -> str:
    """ICE's 2026 page form (lists behind opaque download addresses, told
    apart by their headings) after ``count`` other generic "Download"
    buttons for spreadsheets: each such button needs its heading read."""
    others = "".join(f'<p><a href="/doclib/report{i}.xlsx">Download</a></p>' for i in range(count))
    return f"""<html><body><main><h3>Detention statistics</h3>{others}
    <h3>287(g) Participating Agencies</h3><p>As of April 9, 2026, ICE has signed 1,412 agreements.</p>
    <p><a href="/file-download/download/public/58213">View</a></p>
    <h3>287(g) Pending Agencies</h3>
    <p><a href="/file-download/download/public/58214">Download spreadsheet</a></p></main></body></html>"""
