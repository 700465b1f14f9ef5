"""Readers: plain functions from bytes (a workbook, an HTML page) to records.
No Scrapy, no state: the spiders and ``watch287g replay`` both call them."""
