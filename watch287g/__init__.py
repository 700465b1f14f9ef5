"""watch287g: watch ICE's 287(g) lists and state pages; alert on real changes."""

from watch287g.core import __version__

__all__ = ["__version__"]
