"""The Atom (RFC 4287) RELAX NG schema, from the RFC's Appendix B
(tests/fixtures/atom/rfc4287.rnc), compiled for lxml."""

from __future__ import annotations

from functools import lru_cache

from lxml import etree

from tests.conftest import FIXTURES

ATOM = "{http://www.w3.org/2005/Atom}"


@lru_cache(maxsize=1)
def atom_schema() -> etree.RelaxNG:
    import rnc2rng

    rng = rnc2rng.dumps(rnc2rng.loads((FIXTURES / "atom" / "rfc4287.rnc").read_text()))
    # The compact schema binds the prefix "local" to no namespace, which XML
    # cannot express; its one use (local:*) comes out as <nsName ns=""/>.
    rng = rng.replace('xmlns:local=""', "")
    return etree.RelaxNG(etree.fromstring(rng.encode()))


def assert_valid_atom(content: bytes) -> etree._Element:
    document = etree.fromstring(content)
    schema = atom_schema()
    assert schema.validate(document), schema.error_log
    return document
