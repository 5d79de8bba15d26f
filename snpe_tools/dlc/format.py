"""Constants of the DLC v4 container (see docs/dlc-format.rst and dlc.fbs beside this file)."""
from __future__ import annotations

MAGIC = b"\xd5\x0a"
MAJOR = 4
MINOR = 0
MODEL_ID = b"NETD"
PARAMS_ID = b"NETP"
PARAMS64_ID = b"NR64"

MEMBER_MODEL = "model"
MEMBER_PARAMS = "model.params"
MEMBER_METADATA = "dlc.metadata"
MEMBER_PARAMS_BIN = "model.params.bin"

# Above this many bytes of weights a DLC uses the 64-bit form: minor version 1, model.params wrapped
# as NR64, and tensors of at least BIN_TENSOR_BYTES stored raw in model.params.bin (a flatbuffer
# cannot exceed 2 GiB).
LARGE_MODEL_BYTES = 1 << 30
BIN_TENSOR_BYTES = 1 << 20
BIN_ALIGN = 64
MINOR_LARGE = 1

# Qnn_TensorType_t values used as Tensor.type
APP_WRITE, APP_READ, NATIVE, STATIC = 0, 1, 3, 4

# Node types marking graph inputs and outputs
INPUT_NODE, OUTPUT_NODE = "Input", "Output"

# vtable slots (field index) of every table we read or write
class Slot:
    MODEL_GRAPHS = 0
    GRAPH_NAME, GRAPH_NODES, GRAPH_TENSORS = 0, 1, 2
    NODE_NAME, NODE_TYPE, NODE_INPUTS, NODE_OUTPUTS, NODE_ATTRS = 0, 1, 2, 3, 4
    ATTR_NAME, ATTR_KIND, ATTR_FLAG, ATTR_VALUE, ATTR_TENSOR = 0, 1, 2, 3, 4
    VAL_KIND, VAL_INT, VAL_FLOAT, VAL_STRING = 0, 1, 2, 3
    T_ID, T_NAME, T_TYPE, T_SHAPE, T_AXIS, T_QUANT, T_DTYPE, T_OUT_DTYPE, T_FLAG = range(9)
    Q_ENC, Q_FLAG, Q_TENSOR, Q_AXIS = 0, 1, 2, 3
    SO_BW, SO_MIN, SO_MAX, SO_SCALE, SO_OFFSET, SO_FLAG = range(6)
    QA_AXIS, QA_CHANNELS = 0, 1
    MP_GRAPHS = 0
    GP_NAME, GP_TENSORS, GP_NODES = 0, 1, 2
    NP_TENSORS = 0
    TB_NAME, TB_BYTES, TB_BIN_OFFSET, TB_BIN_SIZE = 0, 1, 2, 3
    P64_BUFFERS, P64_PARAMS = 0, 1


def header(minor: int = MINOR) -> bytes:
    """8-byte stream header: D5 0A, major (u16 LE), minor (u16 LE), two zero bytes."""
    return MAGIC + MAJOR.to_bytes(2, "little") + minor.to_bytes(2, "little") + b"\0\0"
