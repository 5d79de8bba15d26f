"""Imports every resolver module so each registers itself (the order that matters is ``priority``)."""
from . import activation, conv, detection, linear, norm  # noqa: F401
