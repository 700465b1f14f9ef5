"""Any other page worth watching: a state board's page, a bill's text.

Each ``[[sources]]`` entry with ``type = "page"`` is fetched (conditionally)
and reduced by ``spiders.pages`` to its main content's text and the documents
it links to; the pipeline compares that with the last reading and records a
``page.changed`` event. A page that publishes its 287(g) roster as a table
(``format = "html-table"``) is read like ICE's old page instead, into an
agreement list that goes through the gate and differ.
"""

from __future__ import annotations

from watch287g.core.records import ListDownload, SourceCheck
from watch287g.readers import html_table, ice_page, pages
from watch287g.spiders.base import BaseSpider


class StatePageSpider(BaseSpider):
    name = "state_page"
    source_type = "page"

    def parse_page(self, response, check: SourceCheck):
        source = check.source
        fetch = self.fetched(check, "page", response, url=source.url)
        if fetch.error:
            yield from self.advance(check)
            return
        if fetch.not_modified:
            if source.format == "html-table":
                check.lists.append(ListDownload(kind=source.kind, fetch=fetch, format="html-table"))
            else:
                check.page_not_modified = True
            yield from self.advance(check)
            return
        soup = ice_page.soup_of(response.body)
        blocked = ice_page.blocked_reason(soup)
        if blocked:
            fetch.error = blocked
            check.failures.append(f"page: {blocked}")
        elif source.format == "html-table":
            self._read_table(check, fetch, soup, response)
        else:
            try:
                check.page = pages.read_page(soup, response.url, source.selector)
            except pages.PageError as err:
                check.failures.append(f"page: {err}")
        if not check.failures:
            self.remember(check, fetch)
        yield from self.advance(check)

    def _read_table(self, check: SourceCheck, fetch, soup, response) -> None:
        found = html_table.roster_rows(soup, response.url)
        if found is None:
            check.failures.append("page: no table with STATE and LAW ENFORCEMENT AGENCY columns on the page")
            return
        rows, as_of = found
        check.lists.append(ListDownload(
            kind=check.source.kind, fetch=fetch, format="html-table", rows=rows,
            provenance=self.provenance(check, fetch, check.source.url, as_of=as_of)))
