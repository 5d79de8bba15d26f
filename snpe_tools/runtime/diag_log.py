"""The profiling log of snpe-net-run (``<output_dir>/SNPEDiag.log``) and its reader (snpe-diagview).

SNPE's diagnostic log is a binary format of its own, read only by its snpe-diagview.  Ours holds the same
facts in a documented text format, one UTF-8 JSON document::

    {"format": "snpe-tools-diag", "version": 1,
     "created": "2026-12-04T14:00:00Z", "snpe_tools_version": "0.1.0",
     "container": "/abs/model.dlc", "runtime": "CPU", "profiling_level": "detailed", "time_unit": "us",
     "init": {"load": 812.0, "deserialize": 0.0, "create": 1520.3},       # microseconds
     "layers": [{"id": 0, "name": "conv1", "type": "Conv2d"}, ...],
     "inferences": [{"index": 0, "total": 931.5,                          # one per input-list line
                     "layer_times": [120.2, 33.0, ...]}, ...]}           # "detailed"/"moderate" only

``basic`` profiling records the totals only (``layer_times`` absent); ``moderate`` and ``detailed`` record
the wall time of every layer, in the order of ``layers``.  ``load`` is reading the DLC file, ``create`` the
checks and resizing before the first inference (SNPE's builder), ``deserialize`` is 0 (the DLC is read in
one step here).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..errors import SnpeToolsError

FORMAT = "snpe-tools-diag"
VERSION = 1
FILE_NAME = "SNPEDiag.log"
LEVELS = ("off", "basic", "moderate", "detailed")


@dataclass
class DiagLog:
    container: str
    profiling_level: str
    runtime: str = "CPU"
    init: dict[str, float] = field(default_factory=dict)
    layers: list[dict] = field(default_factory=list)
    inferences: list[dict] = field(default_factory=list)
    created: str = ""
    version: str = ""

    @property
    def per_layer(self) -> bool:
        return self.profiling_level in ("moderate", "detailed")

    def add_inference(self, total_s: float, op_times_s: list[float] | None) -> None:
        rec: dict = {"index": len(self.inferences), "total": round(total_s * 1e6, 3)}
        if self.per_layer and op_times_s is not None:
            rec["layer_times"] = [round(t * 1e6, 3) for t in op_times_s]
        self.inferences.append(rec)

    def to_json(self) -> str:
        from .. import __version__

        return json.dumps({
            "format": FORMAT, "version": VERSION,
            "created": self.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "snpe_tools_version": self.version or __version__,
            "container": self.container, "runtime": self.runtime, "profiling_level": self.profiling_level,
            "time_unit": "us", "init": self.init, "layers": self.layers, "inferences": self.inferences,
        }, indent=1) + "\n"


def read_log(path: str, text: str) -> DiagLog:
    """Parse a log written by :meth:`DiagLog.to_json`; anything else is a one-line error."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise SnpeToolsError(f"--input_log {path}: not a snpe-tools diagnostic log (SNPEDiag.log written by "
                             "snpe-tools' snpe-net-run --profiling_level); SNPE's own binary logs are read by "
                             "Qualcomm's snpe-diagview") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnpeToolsError(f"--input_log {path}: not a snpe-tools diagnostic log (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise SnpeToolsError(f"--input_log {path}: log format version {doc.get('version')!r} is not supported "
                             f"(this snpe-diagview reads version {VERSION})")
    try:
        log = DiagLog(str(doc["container"]), str(doc["profiling_level"]), str(doc.get("runtime", "CPU")),
                      {str(k): float(v) for k, v in dict(doc.get("init", {})).items()},
                      [{"id": int(x["id"]), "name": str(x["name"]), "type": str(x["type"])} for x in doc["layers"]],
                      [], str(doc.get("created", "")), str(doc.get("snpe_tools_version", "")))
        for inf in doc["inferences"]:
            rec = {"index": int(inf["index"]), "total": float(inf["total"])}
            if "layer_times" in inf:
                times = [float(t) for t in inf["layer_times"]]
                if len(times) != len(log.layers):
                    raise ValueError("layer_times and layers differ in length")
                rec["layer_times"] = times
            log.inferences.append(rec)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnpeToolsError(f"--input_log {path}: damaged diagnostic log ({exc})") from None
    return log
