"""TFLite translators, one module per op family (imported through ``_all``)."""
