"""TensorFlow frontend (snpe-tensorflow-to-dlc).

TensorFlow is an optional extra: nothing in this package imports it at module level; the
loader imports it on first use and names the extra to install when it is missing.

Flow: :mod:`.loader` turns a frozen ``.pb``, a ``.meta`` + checkpoint or a SavedModel into
one frozen GraphDef -> :mod:`.model` cuts the subgraph between the ``-d`` inputs and the
``--out_node`` outputs, learns static shapes and evaluates every constant subgraph ->
:mod:`.layers` groups the remaining nodes into layers with the ordered pattern resolvers and
the single-op translators (both in :mod:`.ops`, one module per IR family) -> :mod:`.converter` emits
the layers as QNN ops in NHWC (TensorFlow's own layout, so no Transposes are added).
"""
