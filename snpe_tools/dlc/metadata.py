"""``dlc.metadata``: ``key=value`` lines (converter-command, converter-version, model-copyright, model-version).

Values are single lines; a newline inside a value (a multi-line copyright file) is
stored as the two characters ``\\n`` and a backslash as ``\\\\`` so that line-based
readers such as Netron still see one key per line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

NA = "N/A"
KEY_ORDER = ("converter-command", "converter-version", "model-copyright", "model-version",
             "quantizer-command")


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\r\n", "\n").replace("\r", "\\r").replace("\n", "\\n")


def _unescape(v: str) -> str:
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v) and v[i + 1] in "nr\\":
            out.append({"n": "\n", "r": "\r"}.get(v[i + 1], "\\"))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


@dataclass
class Metadata:
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = NA) -> str:
        return self.values.get(key, default)

    def to_text(self) -> str:
        keys = [k for k in KEY_ORDER if k in self.values] + sorted(k for k in self.values if k not in KEY_ORDER)
        return "".join(f"{k}={_escape(self.values[k])}\n" for k in keys)

    @classmethod
    def from_text(cls, text: str) -> "Metadata":
        values = {}
        for line in text.split("\n"):   # not splitlines(): \f and U+2028 are content here
            if "=" in line:
                k, v = line.split("=", 1)
                values[k] = _unescape(v)
        return cls(values)
