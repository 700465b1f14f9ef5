"""spiders/tls_modules.py: Scrapy's TLS modules imported without inspect.stack's toll."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import inspect, json, sys, warnings
full_stack = inspect.stack
from watch287g.spiders.tls_modules import TLS_MODULES, import_tls_modules
assert not any(name in sys.modules for name in TLS_MODULES), "imported before the test"
import_tls_modules()
from scrapy.core.downloader import contextfactory, tls
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    class Subclass(contextfactory.ScrapyClientContextFactory):
        pass
print(json.dumps({
    "restored": inspect.stack is full_stack,
    "modules": [contextfactory.ScrapyClientContextFactory.__module__,
                contextfactory.AcceptableProtocolsContextFactory.__module__,
                tls.ScrapyClientTLSOptions.__module__],
    "subclass_warns": [str(w.message) for w in caught],
}))
"""


def test_the_deprecated_aliases_are_named_as_scrapy_names_them_and_inspect_is_restored():
    out = subprocess.run([sys.executable, "-P", "-c", PROBE], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    assert seen["restored"]
    assert seen["modules"] == ["scrapy.core.downloader.contextfactory", "scrapy.core.downloader.contextfactory",
                               "scrapy.core.downloader.tls"]
    # The alias still works as Scrapy meant: subclassing it warns, naming it by its module.
    assert any("scrapy.core.downloader.contextfactory.ScrapyClientContextFactory" in w
               for w in seen["subclass_warns"]), seen["subclass_warns"]


def test_a_second_call_imports_nothing_and_leaves_inspect_alone(monkeypatch):
    import inspect

    from watch287g.spiders.tls_modules import import_tls_modules

    import_tls_modules()
    sentinel = object()
    monkeypatch.setattr(inspect, "stack", sentinel)
    import_tls_modules()
    assert inspect.stack is sentinel
