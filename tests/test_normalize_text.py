"""The normaliser's text and link rules: what a cell's text becomes, and which
addresses may become links. These run on every cell of every list, so they
take fast paths; the cases here pin the rules those paths must keep."""

from __future__ import annotations

import datetime as dt

import pytest
from watch287g.core import normalize as norm

SAFELINK = "https://gcc02.safelinks.protection.outlook.com/?url={}&data=05%7C02"


@pytest.mark.parametrize("raw, cleaned", [
    ("Polk County", "Polk County"),
    ("  Polk \t County \n", "Polk County"),                         # runs of whitespace folded, ends trimmed
    ("Polk\u00a0County", "Polk County"),                            # NBSP, figure and narrow spaces are spaces
    ("Polk\u2007County\u202f", "Polk County"),
    ("Polk\u200bCounty", "PolkCounty"),                             # zero-width space and BOM dropped
    ("\ufeffPolk County", "Polk County"),
    ("Polk\u200c\u200dCounty", "PolkCounty"),                       # zero-width (non-)joiners dropped
    ("Polk\x00 Cou\x07nty\x1f", "Polk County"),                     # C0 controls dropped
    ("Polk\rCounty", "PolkCounty"),                                 # a carriage return is a control, not a space
    ("Polk\x7f\u0085County", "PolkCounty"),                         # DEL and C1 controls dropped
    ("Polk\u2028County", "PolkCounty"),                             # line separator dropped, not folded
    ("Polk\u2002County", "PolkCounty"),                             # other spaces are not printable: dropped
    ("O\u2019Brien\u2018s \u201cPD\u201d", "O'Brien's \"PD\""),     # curly quotes straightened
    ("O`Brien\u02bcs\u2032", "O'Brien's'"),
    ("Miami\u2013Dade\u2014PD", "Miami-Dade-PD"),                   # en and em dashes
    ("Condé\u0301 Police", "Condé\u0301 Police"),                   # accents and combining marks kept
    ("\u00a0\u200b\t", ""),
])
def test_clean_text(raw, cleaned):
    assert norm.clean_text(raw) == cleaned


@pytest.mark.parametrize("value, cleaned", [
    (None, ""), (12, "12"), (2.5, "2.5"),
    (dt.datetime(2025, 5, 8), "2025-05-08"), (dt.datetime(2025, 5, 8, 13, 30), "2025-05-08T13:30:00"),
])
def test_clean_text_of_values_that_are_not_text(value, cleaned):
    assert norm.clean_text(value) == cleaned


@pytest.mark.parametrize("raw, url", [
    ("https://www.ice.gov/doclib/287gMOA/Polk_MOA.pdf", "https://www.ice.gov/doclib/287gMOA/Polk_MOA.pdf"),
    (" HTTP://www.ice.gov/a.pdf\u00a0", "HTTP://www.ice.gov/a.pdf"),           # cleaned first
    ("https://www.ice.gov/a\u200b.pdf", "https://www.ice.gov/a.pdf"),          # zero-width dropped
    ("https://www.ice.gov/a\x07.pdf", "https://www.ice.gov/a.pdf"),            # a control in the cell dropped
    ("https://www.ice.gov/O\u2019Brien.pdf", "https://www.ice.gov/O'Brien.pdf"),
    (SAFELINK.format("https%3A%2F%2Fwww.ice.gov%2Fa.pdf"), "https://www.ice.gov/a.pdf"),
    (SAFELINK.format(SAFELINK.format("https%3A%2F%2Fwww.ice.gov%2Fa.pdf").replace("%", "%25")
                     .replace("&", "%26").replace("?", "%3F").replace(":", "%3A").replace("/", "%2F")),
     "https://www.ice.gov/a.pdf"),                                              # a wrapped wrapper
    (SAFELINK.upper().replace("URL=", "url=").format("https%3A%2F%2Fwww.ice.gov%2Fa.pdf"),
     "https://www.ice.gov/a.pdf"),                                              # the host in capitals
    (SAFELINK.replace("//", "//u:p@").format("https%3A%2F%2Fwww.ice.gov%2Fa.pdf"),
     "https://www.ice.gov/a.pdf"),                                              # a user before the host
    ("https://www.ice.gov:443/a.pdf?x=1#p", "https://www.ice.gov:443/a.pdf?x=1#p"),
    ("https://[2001:db8::1]/a.pdf", "https://[2001:db8::1]/a.pdf"),
])
def test_document_url_accepts_web_addresses(raw, url):
    assert norm.document_url(raw) == url


@pytest.mark.parametrize("raw", [
    None, "", "link", "www.ice.gov/a.pdf", "javascript:alert(1)", "mailto:a@ice.gov", "ftp://ice.gov/a.pdf",
    "https://", "https://:443/a.pdf", "https:///a.pdf", "https://www.ice.gov/a b.pdf", "https://www.ice.gov/a\t b.pdf",
    'https://www.ice.gov/a".pdf', "https://www.ice.gov/<a>.pdf", "https://www.ice.gov\\a.pdf",
    SAFELINK.format("https%3A%2F%2Fwww.ice.gov%2Fa%0A.pdf"),        # unwrapped, a control: refused
    SAFELINK.format("https%3A%2F%2Fwww.ice.gov%2Fa%1F.pdf"),
    SAFELINK.format("https%3A%2F%2Fwww.ice.gov%2Fa%22.pdf"),
    SAFELINK.format("javascript%3Aalert(1)"),
    "https://gcc02.safelinks.protection.outlook.com/?data=05",         # a wrapper with no address in it
])
def test_document_url_refuses_what_is_not_a_safe_web_address(raw):
    assert norm.document_url(raw) is None
