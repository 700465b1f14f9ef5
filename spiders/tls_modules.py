"""Import Scrapy's TLS modules without their start-up toll.

``scrapy.core.downloader.tls`` and ``.contextfactory`` define deprecated
class aliases with ``scrapy.utils.deprecate.create_deprecated_class``, which
calls ``inspect.stack()`` only to name its caller's module. ``inspect.stack()``
reads the source of every frame on the stack and, for each frozen importlib
frame, scans all of ``sys.modules``: about a tenth of a second of every cold
check, before the first request, even for plain http (the download handler
imports both modules). Imported here first, with ``inspect.stack`` answering
the two frames that function reads, the aliases get the same ``__module__``
at a fraction of the cost (docs/benchmarks.md, the cold check).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from types import FrameType

TLS_MODULES = ("scrapy.core.downloader.tls", "scrapy.core.downloader.contextfactory")


def _caller_frames(context: int = 1) -> list[tuple[FrameType]]:
    """The first two entries of inspect.stack() as create_deprecated_class
    reads them (``stack()[1][0]``, the frame that called it), nothing more."""
    return [(sys._getframe(1),), (sys._getframe(2),)]


def import_tls_modules() -> None:
    if all(name in sys.modules for name in TLS_MODULES):
        return
    full_stack = inspect.stack
    inspect.stack = _caller_frames
    try:
        for name in TLS_MODULES:
            importlib.import_module(name)
    finally:
        inspect.stack = full_stack
