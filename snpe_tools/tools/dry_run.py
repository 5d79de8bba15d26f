"""``--dry_run [info|debug]`` of every converter (snpe-<framework>-to-dlc and qairt-converter): one path.

The frontend surveys the model without converting it (``survey(path, opts, debug)`` in its
``converter.py``, returning a :class:`~snpe_tools.frontends.front_half.OpSurvey`); this module prints the
survey the same way for every framework: a table of op types (count, supported or not), the per-node
lines at level ``debug``, the frontend's notes, then whether the whole model is convertible.  Nothing is
written to disk and the exit code is 0 either way (the report is the result).
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from ..errors import ConversionError
from ..frontends.front_half import OpSurvey

# framework -> module whose ``survey(path, opts, debug)`` describes a model of that framework
_SURVEYS = {"onnx": "..frontends.onnx.converter", "tensorflow": "..frontends.tensorflow.converter",
            "tflite": "..frontends.tflite.converter", "pytorch": "..frontends.pytorch.converter"}


def _survey_fn(framework: str) -> Callable[[str, Any, bool], OpSurvey]:
    return importlib.import_module(_SURVEYS[framework], __package__).survey


def print_survey(survey: OpSurvey, debug: bool) -> None:
    """The dry-run report of one survey, on stdout."""
    width = max([len(t) for t, _, _ in survey.rows] + [len(survey.column)])
    print(f"{survey.column:<{width}}  Count  Status")
    for name, n, ok in survey.rows:
        print(f"{name:<{width}}  {n:>5}  {'supported' if ok else 'unsupported'}")
    for line in survey.details if debug else []:
        print(f"  {line}")
    for line in survey.notes:
        print(line)
    try:
        survey.check()
        print("All ops are supported.")
    except ConversionError as exc:
        print(f"Unsupported: {exc}")


def dry_run(framework: str, path: str, opts: Any, level: str) -> int:
    """``--dry_run LEVEL`` on the ``framework`` model at ``path`` with the converter's options; returns 0."""
    debug = level == "debug"
    print_survey(_survey_fn(framework)(path, opts, debug), debug)
    return 0
