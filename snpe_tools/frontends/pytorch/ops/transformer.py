"""aten ops of transformer/sequence models: norms, matmul, attention, embedding, indexing."""
from __future__ import annotations
