"""The item pipeline: collects each finished check for ``watch287g check``.

The spiders fetch; what a check found is recorded after the crawl, outside
Scrapy, by the application step (watch287g/commit.py). The pipeline only
hands the items over: each finished ``SourceCheck`` goes to the spider's
``collected`` list, and a check whose chain never finished is handed over as
a failed check rather than lost.
"""

from __future__ import annotations

from watch287g.core.records import SourceCheck
from watch287g.core.timeutil import now_iso


class CollectPipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: SourceCheck):
        self.crawler.spider.collected.append(item)
        return item

    def close_spider(self) -> None:
        # A chain can only stop early through a bug or a shutdown.
        spider = self.crawler.spider
        for check in list(spider.open_checks.values()):
            check.failures.append("the check did not finish")
            check.finished_at = now_iso()
            spider.collected.append(check)
        spider.open_checks.clear()
