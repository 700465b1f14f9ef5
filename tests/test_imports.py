"""Every module of the installed code imports. The service loads some of
its parts only in a child process or on first use, so a name that a merge
moved away would otherwise surface only when `watch287g run` starts."""

from __future__ import annotations

import importlib

from tests.test_layers import project_files


def test_every_module_imports():
    names = list(project_files())
    assert {"watch287g.site.after_check", "watch287g.state.store", "watch287g.cli"} <= set(names)
    for name in names:
        importlib.import_module(name)
