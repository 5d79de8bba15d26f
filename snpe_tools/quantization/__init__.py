"""Post-training quantization of a float DLC graph, as SNPE's snpe-dlc-quant / qairt-quantizer do it.

* :mod:`.calibration` - streaming per-tensor statistics over calibration inputs, run on the float graph;
  :mod:`.statistics` the streaming histograms the range searches need;
* :mod:`.algorithms`  - which range a tensor gets from its statistics (tf, enhanced, sqnr, mse, ...);
* :mod:`.quantizer`   - which tensor gets which encoding, and the rewrite of the graph into its
  fixed-point form (integer storage + encodings, QNN convention ``real = (q + offset) * scale``);
  the arithmetic of encodings lives with the IR (:mod:`snpe_tools.ir.encodings`);
* :mod:`.source`, :mod:`.overrides`, :mod:`.preset` - encodings given before calibration (quantized
  source models, AIMET override files) and the float fallback / mixed precision built on them;
* :mod:`.float_io`    - float graph inputs/outputs around a fixed-point graph (``--preserve_io_datatype``);
* :mod:`.cle`         - cross-layer equalization; :mod:`.report` - the per-layer SQNR report.

The command-line tools live in :mod:`snpe_tools.tools.dlc_quantize`.
"""
from ..ir.encodings import (bias_encoding, quantize_array, symmetric_encoding, symmetric_per_channel,
                            tf_encoding)
from .calibration import RangeStats, calibrate
from .quantizer import QuantOptions, QuantSummary, quantize_graph

__all__ = ["RangeStats", "calibrate", "tf_encoding", "symmetric_encoding", "symmetric_per_channel",
           "bias_encoding", "quantize_array", "QuantOptions", "QuantSummary", "quantize_graph"]
