"""TFLite frontend: ``.tflite`` flatbuffers (float, fp16-weight, dynamic-range, int8/int16x8) -> IR."""
