"""watch287g: watch ICE's 287(g) lists and state pages; alert on real changes."""

__version__ = "0.1.0"
