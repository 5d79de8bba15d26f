"""Which SNPE runtime a run asks for, and what this host can give it.

SNPE picks the runtime from ``--use_gpu`` / ``--use_dsp`` / ``--use_aip`` (CPU when none is given) or from
``--runtime_order`` (tried in order).  A runtime that the device lacks is an error unless
``--enable_cpu_fallback`` lets the CPU runtime take over.  snpe-tools has one runtime: the reference CPU
runtime (numpy), so a host is a device with a CPU and nothing else.  The GPU's float16 storage, the DSP's
and AIP's fixed-point execution are not emulated; asking for them fails (or falls back) as on a phone
without that accelerator.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import RuntimeInputError

#: runtime_order spellings (SNPE 2.x and the older 1.x names) -> runtime
RUNTIME_NAMES = {
    "cpu": "cpu", "cpu_float32": "cpu",
    "gpu": "gpu", "gpu_float32_16_hybrid": "gpu", "gpu_float16": "gpu",
    "dsp": "dsp", "dsp_fixed8_tf": "dsp",
    "aip": "aip", "aip_fixed8_tf": "aip",
}
AVAILABLE = ("cpu",)
LABEL = {"cpu": "CPU", "gpu": "GPU", "dsp": "DSP", "aip": "AIP"}


@dataclass
class Selection:
    """The runtime that will run, and the one line to tell the user when it is not the one asked first."""

    runtime: str
    note: str | None = None


def requested(use_cpu: bool, use_gpu: bool, use_dsp: bool, use_aip: bool, runtime_order: str | None) -> list[str]:
    """The runtimes asked for, in order of preference."""
    flags = [n for n, on in (("cpu", use_cpu), ("gpu", use_gpu), ("dsp", use_dsp), ("aip", use_aip)) if on]
    if runtime_order is not None:
        if flags:
            raise RuntimeInputError("--runtime_order cannot be combined with --use_cpu/--use_gpu/--use_dsp/--use_aip; "
                                    "give the runtimes in --runtime_order only")
        order = []
        for tok in runtime_order.split(","):
            name = tok.strip().lower()
            if name not in RUNTIME_NAMES:
                raise RuntimeInputError(f"--runtime_order: unknown runtime '{tok.strip()}'; valid: "
                                        + ", ".join(RUNTIME_NAMES))
            if RUNTIME_NAMES[name] not in order:
                order.append(RUNTIME_NAMES[name])
        if not order:
            raise RuntimeInputError("--runtime_order is empty; give e.g. --runtime_order=dsp,cpu")
        return order
    if len(flags) > 1:
        raise RuntimeInputError(f"--use_{flags[0]} and --use_{flags[1]} both given; choose one runtime or give "
                                "--runtime_order with several")
    return flags or ["cpu"]


def select(order: list[str], cpu_fallback: bool) -> Selection:
    """The first available runtime of ``order``; CPU with ``cpu_fallback``; else SNPE's error."""
    for rt in order:
        if rt in AVAILABLE:
            skipped = [LABEL[r] for r in order[:order.index(rt)]]
            note = (f"{', '.join(skipped)} runtime not available on this host (snpe-tools runs the reference CPU "
                    f"runtime only); using the next runtime of --runtime_order: {LABEL[rt]}") if skipped else None
            return Selection(rt, note)
    asked = ", ".join(LABEL[r] for r in order)
    if cpu_fallback:
        return Selection("cpu", f"{asked} runtime not available on this host (snpe-tools runs the reference CPU "
                                "runtime only); --enable_cpu_fallback: running on CPU")
    raise RuntimeInputError(f"the {asked} runtime is not available on this host (snpe-tools has only the reference "
                            "CPU runtime); add --enable_cpu_fallback to run on the CPU, or drop the runtime flag")
