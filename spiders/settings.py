"""Scrapy settings for watch287g's spiders.

``watch287g check`` starts from this module and overrides the values the
config's [crawl] section controls (``watch287g.check.CrawlSettings``: user
agent contact, delay, timeout, retries, size limits). docs/spiders.md describes every setting.
Everything here is chosen for a watcher that makes a handful of requests to
government sites every few minutes: be identifiable, be slow, never hammer,
never be fooled by a cache.
"""

from __future__ import annotations

from watch287g import __version__

BOT_NAME = "watch287g"
SPIDER_MODULES = ["spiders.ice", "spiders.state_page"]

# -- Identity and manners -------------------------------------------------

PROJECT_URL = "https://github.com/watch287g/watch287g"  # not a setting: part of the user agent
# An honest user agent: who we are and how to reach the operator. The
# contact comes from [crawl] contact in the config.
USER_AGENT = f"watch287g/{__version__} (+{PROJECT_URL})"
# Obey robots.txt, matched against our product token rather than the whole
# user agent string.
ROBOTSTXT_OBEY = True
ROBOTSTXT_USER_AGENT = "watch287g"

# One request at a time per site, with a pause between requests
# ([crawl] download_delay), varied at random by ±50% so the requests do not
# tick like a clock.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 2.0
DOWNLOAD_DELAY_JITTER = 0.5
# A check makes four requests per site: a fixed delay is polite enough, and
# AutoThrottle's 5 s start delay would only slow every check down. Back-off
# for a struggling server is the retry middleware's job.
AUTOTHROTTLE_ENABLED = False

# -- Failures ---------------------------------------------------------------

# Give up on a silent server after this many seconds ([crawl] timeout).
DOWNLOAD_TIMEOUT = 30
# Transient failures are retried ([crawl] retries), waiting
# WATCH287G_RETRY_BACKOFF seconds before the first retry, doubling after
# each, at most WATCH287G_RETRY_BACKOFF_MAX (and honouring Retry-After).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
WATCH287G_RETRY_BACKOFF = 5.0
WATCH287G_RETRY_BACKOFF_MAX = 60.0
# A failed check is reported once, as one line, by `watch287g check`;
# Scrapy's own "gave up retrying" message would only repeat it.
RETRY_GIVE_UP_LOG_LEVEL = "INFO"

# -- Size limits ----------------------------------------------------------

# A page larger than this is refused ([crawl] max_page_mb)...
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
# ...and a workbook larger than this ([crawl] max_workbook_mb; applied per
# request through the download_maxsize meta key).
WATCH287G_MAX_WORKBOOK_SIZE = 20 * 1024 * 1024

# -- Caching --------------------------------------------------------------

# No HTTP cache: a cache that answers from disk could hide a real change.
# Conditional requests (ConditionalRequestMiddleware) save the bandwidth
# instead, and every 200 response is hashed.
HTTPCACHE_ENABLED = False
# No cookies: each check is a fresh visitor, and a session cookie could make
# a site serve us something other than what the public sees.
COOKIES_ENABLED = False

# -- Components -----------------------------------------------------------

DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.ConditionalRequestMiddleware": 560,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    # No credentials are ever sent: nothing for HttpAuthMiddleware to do.
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
}
# Government sites need no Referer from us (the middleware stays enabled:
# the redirect middlewares rely on it to strip the header on redirects).
REFERRER_POLICY = "no-referrer"
ITEM_PIPELINES = {"spiders.pipelines.StatePipeline": 300}
# Extensions a short, unattended crawl has no use for. TelnetConsole would
# also open a local port on every check.
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.memusage.MemoryUsage": None,
    "scrapy.extensions.memdebug.MemoryDebugger": None,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.logstats.LogStats": None,
    "scrapy.extensions.spiderstate.SpiderState": None,
    "scrapy.extensions.closespider.CloseSpider": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}

# Scrapy's default: the asyncio reactor.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"
STATS_DUMP = False
