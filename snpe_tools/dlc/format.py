"""Constants of the DLC v4 container as Qualcomm's SNPE/QAIRT 2.x writes it.

Every value here was measured on real files (``shared/reference/dlc-real``) and against
Qualcomm's own 2.25 reader; ``docs/dlc-format.rst`` and ``dlc.fbs`` beside this file describe
the tables in full.  Slots are vtable indices.
"""
from __future__ import annotations

MAGIC = b"\xd5\x0a"
MAJOR = 4
MINOR = 0                     # 4.0: what SNPE 2.x up to QAIRT 2.41 writes and reads
MINOR_41 = 1                  # 4.1 (QAIRT >= 2.42): data positions into model.params.bin; read only
MAJOR_V3 = 3                  # SNPE 1.x; read by snpe-dlc-info only
MODEL_ID = b"NETD"
PARAMS_ID = b"NETP"           # ModelParameters (inline bytes, or 4.1 data positions)
PARAMS64_ID = b"NR64"         # what 2.25 writes: Buffer[] with 64-bit offsets + nested NETP

MEMBER_MODEL = "model"
MEMBER_PARAMS = "model.params"
MEMBER_METADATA = "dlc.metadata"
MEMBER_METADATA_41 = "dlc.metadata2.1.0"
MEMBER_PARAMS_BIN = "model.params.bin"

# Qnn_TensorType_t values used as Tensor.type.  Graph inputs/outputs are marked only by these:
# a real DLC has no Input/Output nodes.
APP_WRITE, APP_READ, NATIVE, STATIC, NULL = 0, 1, 3, 4, 5
TENSOR_TYPE_NAMES = {APP_WRITE: "APP_WRITE", APP_READ: "APP_READ", NATIVE: "NATIVE", STATIC: "STATIC",
                     NULL: "NULL"}

# Attribute.flag: QNN parameter (handed to the backend by the QNN loader) or IR-internal.
FLAG_QNN_PARAM, FLAG_IR = 1, 2
PACKAGE_NAME = "qti.aisw"     # the op package of every built-in op, attribute "packageName" (flag 2)

# QuantizationData.type (Qnn_QuantizationEncoding_t)
ENC_SCALE_OFFSET, ENC_AXIS_SCALE_OFFSET, ENC_UNDEFINED = 0, 1, 0x7FFFFFFF


class Slot:
    """vtable slot of every field we read or write."""

    MODEL_GRAPHS, MODEL_EXTRA = 0, 1
    GRAPH_NAME, GRAPH_NODES, GRAPH_TENSORS, GRAPH_NAME_COPY = 0, 1, 2, 4
    NODE_NAME, NODE_TYPE, NODE_INPUTS, NODE_OUTPUTS, NODE_ATTRS = 0, 1, 2, 3, 4
    ATTR_NAME, ATTR_KIND, ATTR_FLAG, ATTR_SCALAR, ATTR_TENSOR = 0, 1, 2, 3, 4
    SC_KIND, SC_INT, SC_DOUBLE, SC_STRING = 0, 1, 2, 3
    T_ID, T_NAME, T_TYPE, T_DIMS, T_AXIS, T_QUANT, T_DTYPE, T_OUT_DTYPE, T_QUANTIZABLE = range(9)
    T_SRC_AXIS = 12
    T_EXTRA_41 = 14
    Q_TYPE, Q_OVERRIDDEN, Q_FXP, Q_AXIS = 0, 1, 2, 3
    FXP_BW, FXP_MIN, FXP_MAX, FXP_SCALE, FXP_OFFSET, FXP_SYMMETRIC = range(6)
    QA_AXIS, QA_CHANNELS = 0, 1
    # model.params
    MP_GRAPHS = 0
    GP_NAME, GP_TENSORS, GP_NODES = 0, 1, 2
    NP_TENSORS = 0
    TD_NAME, TD_BYTES, TD_INDEX, TD_POSITION = 0, 1, 2, 3
    POS_OFFSET, POS_SIZE = 0, 1
    R64_BUFFERS, R64_NESTED = 0, 1
    BUF_DATA = 0


def header(minor: int = MINOR) -> bytes:
    """8-byte stream header of ``model`` and ``model.params``: D5 0A, major (u16 LE), minor (u16 LE), 0 0."""
    return MAGIC + MAJOR.to_bytes(2, "little") + minor.to_bytes(2, "little") + b"\0\0"
