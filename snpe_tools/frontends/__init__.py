"""Framework frontends: each parses its format and maps ops into the common IR."""
