"""Axis formats: how a tensor's dimensions are to be read.

Legacy SNPE converters track, for every buffer, whether it is in the source
framework's order (NCHW = ``NCS``) or SNPE's native spatial-first order (NHWC =
``NSC``).  The layout pass uses these tags to decide which Transposes can vanish.
"""
from __future__ import annotations

NCDHW, NDHWC = "NCDHW", "NDHWC"
NCS, NSC = "NCS", "NSC"
NCF, NFC = "NCF", "NFC"
TNF, NTF = "TNF", "NTF"
NF, NC, ANY, NONTRIVIAL = "NF", "NC", "ANY", "NONTRIVIAL"

# Weight layouts (QNN/SNPE names): spatial dims, then I(nput) and O(utput) channels in the order given.
DHWIO, DHWOI, IODHW, OIDHW = "DHWIO", "DHWOI", "IODHW", "OIDHW"
HWIO, HWOI, IOHW, OIHW = "HWIO", "HWOI", "IOHW", "OIHW"
FIO, FOI, IOF, OIF = "FIO", "FOI", "IOF", "OIF"
NOT_YET_DEFINED = "NOT_YET_DEFINED"

ALL = (NCDHW, NDHWC, NCS, NSC, NCF, NFC, TNF, NTF, NF, NC, ANY, NONTRIVIAL,
       DHWIO, DHWOI, IODHW, OIDHW, HWIO, HWOI, IOHW, OIHW, FIO, FOI, IOF, OIF)
# Integer codes of the DLC tensor table: Qualcomm's enum, measured with its 2.25 reader
# (dlc_compat.md section 4.7): the activation formats 0..11, then the weight formats 12..23,
# and 0xFFFFFFFF for "not yet defined".
CODES = {name: i for i, name in enumerate(ALL)}
CODES[NOT_YET_DEFINED] = 0xFFFFFFFF
FROM_CODE = {i: name for name, i in CODES.items()}
# The names Qualcomm's tools print (snpe-dlc-info) for our tags that differ from them.
DISPLAY = {NCS: "NCHW", NSC: "NHWC"}

# Source (channel-first) format -> spatial-first format, with the permutation that
# turns the first into the second.
TO_SPATIAL_FIRST = {
    NCS: (NSC, (0, 2, 3, 1)),
    NCDHW: (NDHWC, (0, 2, 3, 4, 1)),
    NCF: (NFC, (0, 2, 1)),
}
SPATIAL_FIRST = {v[0]: (k, v[1]) for k, v in TO_SPATIAL_FIRST.items()}
# What the legacy rewrite makes of a graph input in a source format, with the permutation from the
# source order: the spatial-first moves above, and sequence-major RNN inputs [T,N,F] -> NTF [N,T,F].
INPUT_REWRITE = dict(TO_SPATIAL_FIRST, **{TNF: (NTF, (1, 0, 2))})
_FROM_SOURCE = {v[0]: v[1] for v in INPUT_REWRITE.values()}


def from_source_perm(fmt: str, rank: int) -> tuple[int, ...] | None:
    """Permutation source order -> DLC order of a tensor the legacy rewrite tagged ``fmt`` (None: same)."""
    perm = _FROM_SOURCE.get(fmt)
    return perm if perm is not None and len(perm) == rank else None

# User-facing --input_layout names -> our format tags
LAYOUT_NAMES = {
    "NCDHW": NCDHW, "NDHWC": NDHWC, "NCHW": NCS, "NHWC": NSC, "NFC": NFC, "NCF": NCF,
    "NTF": NTF, "TNF": TNF, "NF": NF, "NC": NC, "F": ANY, "NONTRIVIAL": NONTRIVIAL,
}


def channel_last_default(rank: int) -> str:
    """Default source format of a tensor of this rank in an already spatial-last framework (TF, TFLite)."""
    return {1: ANY, 2: NF, 3: NFC, 4: NSC, 5: NDHWC}.get(rank, NONTRIVIAL)


def onnx_default(rank: int) -> str:
    """Default source format of an ONNX tensor of this rank (channel-first family)."""
    return {1: ANY, 2: NF, 3: NCF, 4: NCS, 5: NCDHW}.get(rank, NONTRIVIAL)


def spatial_first_perm(rank: int) -> tuple[int, ...]:
    """Permutation channel-first -> channel-last for a rank-3/4/5 tensor."""
    return (0,) + tuple(range(2, rank)) + (1,)


def channel_first_perm(rank: int) -> tuple[int, ...]:
    """Permutation channel-last -> channel-first (inverse of :func:`spatial_first_perm`)."""
    return (0, rank - 1) + tuple(range(1, rank - 1))


def permute_format(fmt: str, perm: tuple[int, ...]) -> str:
    """Format of a tensor after a Transpose with ``perm`` (NONTRIVIAL if not a known move)."""
    rank = len(perm)
    if rank < 3:
        return fmt if tuple(perm) == tuple(range(rank)) else NONTRIVIAL
    if tuple(perm) == tuple(range(rank)):
        return fmt
    if fmt in TO_SPATIAL_FIRST and tuple(perm) == spatial_first_perm(rank):
        return TO_SPATIAL_FIRST[fmt][0]
    if fmt in SPATIAL_FIRST and tuple(perm) == channel_first_perm(rank):
        return SPATIAL_FIRST[fmt][0]
    if fmt == ANY:
        return ANY
    return NONTRIVIAL
