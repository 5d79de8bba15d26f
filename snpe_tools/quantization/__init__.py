"""Post-training quantization of a float DLC graph, as SNPE's snpe-dlc-quant / qairt-quantizer do it.

* :mod:`.encodings`   - SNPE's range rules and the arithmetic of encodings (tf min/max, symmetric,
  per-channel, 32-bit bias) and the quantization of static data;
* :mod:`.calibration` - streaming per-tensor statistics over calibration inputs, run on the float graph;
* :mod:`.quantizer`   - which tensor gets which encoding, and the rewrite of the graph into its
  fixed-point form (integer storage + encodings, QNN convention ``real = (q + offset) * scale``).

The command-line tools live in :mod:`snpe_tools.tools.dlc_quantize`.
"""
from ..ir.encodings import (bias_encoding, quantize_array, symmetric_encoding, symmetric_per_channel,
                            tf_encoding)
from .calibration import RangeStats, calibrate
from .quantizer import QuantOptions, QuantSummary, quantize_graph

__all__ = ["RangeStats", "calibrate", "tf_encoding", "symmetric_encoding", "symmetric_per_channel",
           "bias_encoding", "quantize_array", "QuantOptions", "QuantSummary", "quantize_graph"]
