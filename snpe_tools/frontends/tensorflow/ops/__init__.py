"""Single-op translators, one module per op family; importing :mod:`._all` registers them all."""
