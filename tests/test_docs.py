"""Generated documentation is current."""
from __future__ import annotations

import os
import sys

from helpers import ROOT


def test_onnx_support_doc_is_current():
    sys.path.insert(0, os.path.join(ROOT, "docs"))
    import gen_onnx_support

    with open(os.path.join(ROOT, "docs", "onnx-support.rst")) as fh:
        committed = fh.read()
    assert committed == gen_onnx_support.render(), "run: python docs/gen_onnx_support.py"


def test_tflite_support_doc_is_current():
    import pytest

    pytest.importorskip("tflite")
    sys.path.insert(0, os.path.join(ROOT, "docs"))
    import gen_tflite_support

    with open(os.path.join(ROOT, "docs", "tflite-support.rst")) as fh:
        committed = fh.read()
    assert committed == gen_tflite_support.render(), "run: python docs/gen_tflite_support.py"
