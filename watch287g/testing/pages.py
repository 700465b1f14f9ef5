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


DEMO_PAGE_PATH = "/identify-and-arrest/287g"
DEMO_LIST_PATHS = {"participating": "/doclib/participatingAgencies.xlsx", "pending": "/doclib/pendingAgencies.xlsx"}
_CAPTURED_HREF = "https://www.ice.gov/doclib/about/offices/ero/287g/{kind}Agencies06052025pm.xlsx"


def serve_demo_capture(server, participating: str, pending: str, validators: bool = True) -> str:
    """Serve on ``server`` (a LocalServer) the real 2025 page capture from
    watch287g/demo_data, its two buttons pointing at the demo workbooks
    named ``participating`` and ``pending``, each with an ETag when
    ``validators``; returns the page's address."""
    import gzip
    import hashlib
    from importlib import resources

    def data(name: str) -> bytes:
        return resources.files("watch287g").joinpath("demo_data", name).read_bytes()

    page = gzip.decompress(data("ice-287g-2025-06-06.html.gz"))
    bodies = []
    for kind, name in (("participating", participating), ("pending", pending)):
        page = page.replace(_CAPTURED_HREF.format(kind=kind).encode(), DEMO_LIST_PATHS[kind].encode())
        bodies.append((DEMO_LIST_PATHS[kind], data(name)))
    for path, body in [(DEMO_PAGE_PATH, page), *bodies]:
        server.route(path, body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:16]}"' if validators else None)
    return server.url(DEMO_PAGE_PATH)
