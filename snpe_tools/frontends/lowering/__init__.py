"""Lowering helpers shared by every frontend (padding, conv/pool, attention)."""
