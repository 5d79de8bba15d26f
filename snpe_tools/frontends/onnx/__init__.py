"""ONNX frontend (snpe-onnx-to-dlc)."""
