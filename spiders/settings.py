"""Scrapy settings for watch287g's spiders.

``watch287g check`` starts from this module and overrides the values the
config's [crawl] section controls (``watch287g.check.CrawlSettings``: user
agent contact, delay, timeout, retries, size limits). docs/spiders.md
describes every setting. Everything here is chosen for a watcher that makes a handful of requests to
government sites every few minutes: be identifiable, be slow, never hammer,
never be fooled by a cache.
"""

from __future__ import annotations

from watch287g.core import __version__
from watch287g.readers.xlsx import Limits

BOT_NAME = "watch287g"
SPIDER_MODULES = ["watch287g.spiders.ice", "watch287g.spiders.state_page"]

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
# ...and a workbook larger than the reader's own bound ([crawl]
# max_workbook_mb; applied per request through the download_maxsize meta key).
WATCH287G_MAX_WORKBOOK_SIZE = Limits().max_file_bytes

# -- Caching --------------------------------------------------------------

# No HTTP cache: a cache that answers from disk could hide a real change.
# Conditional requests (ConditionalRequestMiddleware) save the bandwidth
# instead, and every 200 response is hashed.
HTTPCACHE_ENABLED = False
# No cookies: each check is a fresh visitor, and a session cookie could make
# a site serve us something other than what the public sees.
COOKIES_ENABLED = False
# Government sites need no Referer from us. (RefererMiddleware itself stays:
# the redirect middlewares rely on it to strip the header on redirects.)
REFERRER_POLICY = "no-referrer"

# -- Components -----------------------------------------------------------

# Scrapy imports every component its settings name, even one switched off
# with None (it loads each key to normalise it): turning RemoteControl off in
# EXTENSIONS would still import aiohttp, the cookies middleware tldextract.
# So the *_BASE lists below name exactly what a check uses, and a cold
# `watch287g check` does not pay for the rest (about 0.1 s).
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
}
DOWNLOADER_MIDDLEWARES_BASE = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
    # Scrapy's RetryMiddleware, waiting before each retry.
    "watch287g.spiders.middlewares.BackoffRetryMiddleware": 550,
    "watch287g.spiders.middlewares.ConditionalRequestMiddleware": 560,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
    # Honours http_proxy/https_proxy/no_proxy from the environment.
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": 750,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
    # Left out: HttpAuthMiddleware (we send no credentials), CookiesMiddleware
    # (see COOKIES_ENABLED), HttpCacheMiddleware (see HTTPCACHE_ENABLED).
}
# Sources are http(s) addresses (the config reader refuses others).
DOWNLOAD_HANDLERS_BASE = {
    "http": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
    "https": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
}
ITEM_PIPELINES = {"watch287g.spiders.pipelines.CollectPipeline": 300}

# Scrapy reads and parses the source of every generator callback at each
# crawl, to warn about a `return value` inside a generator: a few hundredths
# of a second per check, spent finding what our tests already rule out.
WARN_ON_GENERATOR_RETURN_VALUE = False

# Scrapy's default: the asyncio reactor.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"
STATS_DUMP = False
