"""docs/tensorflow-support.rst names every TF op type with a translator and every pattern resolver."""
from __future__ import annotations

import os

from helpers import ROOT

from snpe_tools.frontends.tensorflow.registry import resolvers, supported_op_types


def test_support_doc_lists_every_translator_and_resolver():
    with open(os.path.join(ROOT, "docs", "tensorflow-support.rst")) as fh:
        doc = fh.read()
    words = set(doc.replace(",", " ").replace("(", " ").replace(")", " ").replace("/", " ").split())
    missing = [op for op in supported_op_types() if op not in words and op not in doc]
    assert not missing, f"docs/tensorflow-support.rst does not mention: {missing}"
    for r in resolvers():
        assert f"   * - {r.priority}\n     - {r.name}\n" in doc, r.name
