"""Common IR in the QNN op set."""
from .graph import Encoding, Graph, InputInfo, Op, Tensor

__all__ = ["Encoding", "Graph", "InputInfo", "Op", "Tensor"]
