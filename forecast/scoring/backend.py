"""The few array operations the scoring kernels need, for numpy and torch alike.

Kernels are written once against these functions; the backend is picked from the
type of the input, so the same CRPS serves the xarray layer (numpy/dask) and the
VAE loss (torch, differentiable).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_torch(x: Any) -> bool:
    """True for a torch tensor; never imports torch (a tensor implies torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _torch() -> Any:
    return sys.modules["torch"]


def sort(x: Any, axis: int = -1) -> Any:
    """Ascending sort with NaN last (both libraries agree on that)."""
    return _torch().sort(x, dim=axis).values if is_torch(x) else np.sort(x, axis=axis)


def isnan(x: Any) -> Any:
    return _torch().isnan(x) if is_torch(x) else np.isnan(x)


def where(condition: Any, a: Any, b: Any) -> Any:
    if is_torch(condition):
        return _torch().where(condition, a, b)
    return np.where(condition, a, b)


def sum_(x: Any, axis: int = -1, keepdims: bool = False) -> Any:
    return x.sum(dim=axis, keepdim=keepdims) if is_torch(x) else x.sum(axis=axis, keepdims=keepdims)


def cumsum(x: Any, axis: int = -1) -> Any:
    return _torch().cumsum(x, dim=axis) if is_torch(x) else np.cumsum(x, axis=axis)


def abs_(x: Any) -> Any:
    return x.abs() if is_torch(x) else np.abs(x)


def to_float(mask: Any, like: Any) -> Any:
    return mask.to(like.dtype) if is_torch(mask) else mask.astype(like.dtype)


def zeros_like(x: Any) -> Any:
    return _torch().zeros_like(x) if is_torch(x) else np.zeros_like(x)


def nan_like(x: Any) -> Any:
    return _torch().full_like(x, float("nan")) if is_torch(x) else np.full_like(x, np.nan)


def as_float(x: Any) -> Any:
    """Floating-point view: integer inputs become float64 (numpy) or the default dtype (torch)."""
    if is_torch(x):
        return x if x.is_floating_point() else x.to(_torch().get_default_dtype())
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)
