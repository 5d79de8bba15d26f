"""docs/tensorflow-support.rst names every TF op type with a translator and every pattern resolver."""
from __future__ import annotations

import os
import re

from helpers import ROOT

from snpe_tools.frontends.tensorflow.registry import resolvers, supported_op_types


def _names_in(text: str) -> set[str]:
    """Whole identifiers in the text (``AddV2`` does not document ``Add``)."""
    return set(re.findall(r"[A-Za-z0-9_]+", text))


def test_op_names_match_whole_words():
    assert "Add" not in _names_in("``AddV2``, ``BiasAdd`` (Conv2D/BiasAdd)")
    assert {"AddV2", "BiasAdd", "Conv2D"} <= _names_in("``AddV2``, ``BiasAdd`` (Conv2D/BiasAdd)")


def test_support_doc_lists_every_translator_and_resolver():
    with open(os.path.join(ROOT, "docs", "tensorflow-support.rst")) as fh:
        doc = fh.read()
    words = _names_in(doc)
    missing = [op for op in supported_op_types() if op not in words]
    assert not missing, f"docs/tensorflow-support.rst does not mention: {missing}"
    for r in resolvers():
        assert f"   * - {r.priority}\n     - {r.name}\n" in doc, r.name
