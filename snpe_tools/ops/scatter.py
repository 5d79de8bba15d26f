"""QNN scatter/sort/cumulative ops: ScatterElements, ScatterNd, GatherNd, TopK, CumulativeSum, OneHot ..."""
from __future__ import annotations
