"""ICE's 287(g) page and the two lists it links to.

One check: the page (conditional on its last ETag/Last-Modified), then the
participating workbook, then the pending one (each conditional on its own
validators). The page is read by ``spiders.ice_page``; the workbooks go to the
pipeline as bytes, which hashes, reads and ingests them.

Until early 2025 the list was a table on the page itself: a source with
``format = "html-table"``, or a page that links no workbook but carries a
roster table, is read from that table instead.
"""

from __future__ import annotations

from watch287g.core.records import ListDownload, SourceCheck
from watch287g.readers import html_table, ice_page
from watch287g.spiders.base import BaseSpider, file_name, looks_like_html


class IceSpider(BaseSpider):
    name = "ice"
    source_type = "ice"

    def parse_page(self, response, check: SourceCheck):
        fetch = self.fetched(check, "page", response, url=check.source.url)
        if fetch.error:
            yield from self.advance(check)
            return
        soup = None
        remembered = self.remembered.get((check.source.name, "page")) or {}
        if fetch.not_modified:
            if not remembered.get("record"):
                check.failures.append("page: HTTP 304 Not Modified to a request that was not conditional")
                yield from self.advance(check)
                return
            page = ice_page.IcePage.from_record(remembered["record"])
        elif self._same_page_as_before(check, fetch, remembered):
            # The same bytes from the same address read the same: a page
            # served without validators is hashed, like the lists, and read
            # again only when it changed.
            page = ice_page.IcePage.from_record(remembered["record"])
            self.remember(check, fetch, remembered["record"])     # its validators may be new
        else:
            soup = ice_page.soup_of(response.body)
            page = ice_page.read_page(soup, response.url)
            if page.blocked:
                fetch.error = page.blocked
                check.failures.append(f"page: {page.blocked}")
                yield from self.advance(check)
                return
        if check.source.format == "html-table" or not any(page.links.values()):
            yield from self._read_table(check, fetch, soup, page, response)
            return
        self._note_missing_links(check, page)
        if soup is not None and not check.failures:
            self.remember(check, fetch, page.record())
        for kind in ice_page.KINDS:
            url = page.links[kind]
            if url:
                self.then(check, self.request(check, kind, url, self.parse_list, kind=kind, page=page,
                                              maxsize=self.settings.getint("WATCH287G_MAX_WORKBOOK_SIZE")))
        yield from self.advance(check)

    def parse_list(self, response, check: SourceCheck, kind: str, page: ice_page.IcePage):
        url = page.links[kind]
        fetch = self.fetched(check, kind, response, url=url)
        if fetch.error:
            yield from self.advance(check)
            return
        body = None if fetch.not_modified else response.body
        if body is not None and looks_like_html(body):
            # A CDN's block page or a login wall, not a workbook: a failed
            # fetch rather than a file for the reader to refuse.
            title = ice_page.soup_of(body).title
            title = title.get_text(" ", strip=True)[:80] if title else ""
            page_kind = f"an HTML page titled {title!r}" if title else "an HTML page"
            fetch.error = f"the server sent {page_kind} instead of the workbook (blocked?)"
            check.failures.append(f"{kind}: {fetch.error} ({response.url})")
            yield from self.advance(check)
            return
        name = None if body is None else file_name(response)
        check.lists.append(ListDownload(
            kind=kind, fetch=fetch, body=body, file_name=name,
            provenance=self.provenance(check, fetch, url, file_name=name, as_of=page.as_of[kind],
                                       page_updated=page.updated, link_text=page.link_texts[kind])))
        yield from self.advance(check)

    def _read_table(self, check: SourceCheck, fetch, soup, page: ice_page.IcePage, response):
        if soup is None:  # 304 Not Modified: the table is as it was
            check.lists.append(ListDownload(kind="participating", fetch=fetch, format="html-table"))
            yield from self.advance(check)
            return
        found = html_table.roster_rows(soup, response.url)
        if found is None:
            check.failures.append("page: no link to the participating agencies list and no list table "
                                  "on the page (ICE changed the page?)")
            yield from self.advance(check)
            return
        rows, as_of = found
        check.lists.append(ListDownload(
            kind="participating", fetch=fetch, format="html-table", rows=rows,
            provenance=self.provenance(check, fetch, check.source.url, as_of=as_of, page_updated=page.updated)))
        self.remember(check, fetch, page.record())
        yield from self.advance(check)

    @staticmethod
    def _same_page_as_before(check: SourceCheck, fetch, remembered: dict) -> bool:
        """The page's bytes and final address are those of the last page
        read in full, and that page linked the workbooks."""
        record = remembered.get("record")
        return (check.source.format != "html-table" and record is not None and any(record["links"].values())
                and remembered.get("sha256") == fetch.sha256 and remembered.get("final_url") == fetch.final_url)

    def _note_missing_links(self, check: SourceCheck, page: ice_page.IcePage) -> None:
        if not page.links["participating"]:
            check.failures.append("page: no link to the participating agencies list on the page "
                                  "(ICE changed the page?)")
        if not page.links["pending"]:
            # ICE may really stop publishing pending applications: worth
            # saying, but not a failure of the participating list.
            check.notes.append("the page has no link to the pending agencies list")
