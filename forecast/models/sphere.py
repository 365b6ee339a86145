"""Convolutions on a latitude/longitude grid that respect the sphere.

Longitude is periodic: the padding wraps around. The poles are not edges: the rows
beyond a pole are the rows just before it, seen from the other side of the pole, i.e.
mirrored in latitude and shifted by 180 degrees of longitude. Zero padding would make
the network see a wall at the poles and at the date line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipelines.errors import DataError


def sphere_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad (..., lat, lon) by ``pad`` cells on every side: periodic in longitude, across the poles in latitude.

    Latitude must be ordered (either way). The rows beyond a pole are the rows before it
    turned by half the longitudes: exact for an even number of longitudes on grids whose
    rows sit half a cell from the poles; with an odd number the turn is half a cell short
    of 180 degrees, and on grids with points on the poles the pole row is repeated once.
    """
    if pad == 0:
        return x
    n_lon = x.shape[-1]
    first = torch.flip(x[..., :pad, :], dims=[-2]).roll(n_lon // 2, dims=-1)
    last = torch.flip(x[..., -pad:, :], dims=[-2]).roll(n_lon // 2, dims=-1)
    x = torch.cat([first, x, last], dim=-2)
    return torch.cat([x[..., -pad:], x, x[..., :pad]], dim=-1)


def sphere_downsample(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling of (..., lat, lon) on any grid: (H, W) -> (ceil(H/2), ceil(W/2)).

    An odd number of rows gains the row beyond the last pole (:func:`sphere_pad`'s), an
    odd number of longitudes the first column again (periodic): the last coarse cells
    straddle the pole and the date line instead of being dropped. Even sizes are plain
    average pooling.
    """
    if x.shape[-2] % 2:
        beyond = torch.flip(x[..., -1:, :], dims=[-2]).roll(x.shape[-1] // 2, dims=-1)
        x = torch.cat([x, beyond], dim=-2)
    if x.shape[-1] % 2:
        x = torch.cat([x, x[..., :1]], dim=-1)
    return F.avg_pool2d(x, 2)


def upsample_to(x: torch.Tensor, size: tuple[int, int], factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling by ``factor`` cropped to ``size``: each fine cell takes
    the value of the coarse cell that ``log2(factor)`` :func:`sphere_downsample` steps
    pooled it into (row i of the fine grid is row i // factor of the coarse one)."""
    return F.interpolate(x, scale_factor=factor, mode="nearest")[..., : size[0], : size[1]]


def coarsened(size: tuple[int, int], times: int) -> tuple[int, int]:
    """The grid after ``times`` :func:`sphere_downsample` steps."""
    height, width = size
    for _ in range(times):
        height, width = -(-height // 2), -(-width // 2)
    return height, width


def check_grid(size: tuple[int, int], levels: int) -> None:
    """A grid too small for ``levels`` resolutions is one clear error."""
    smallest = 2 ** (levels - 1)
    if min(size) < smallest:
        raise DataError(
            f"grid {tuple(size)} is too small for a network of {levels} levels: it needs "
            f"at least {smallest} points in latitude and longitude; use a finer grid or "
            "fewer levels (a smaller architecture)"
        )


class SphereDownsample(torch.nn.Module):
    """:func:`sphere_downsample` as a layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sphere_downsample(x)


class SphereConv2d(torch.nn.Conv2d):
    """A 2-D convolution with odd kernel on (lat, lon) fields, padded with :func:`sphere_pad`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, **kwargs) -> None:
        if kernel_size % 2 == 0:
            raise ValueError("SphereConv2d needs an odd kernel size")
        super().__init__(in_channels, out_channels, kernel_size, padding=0, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(sphere_pad(x, self.kernel_size[0] // 2), self.weight, self.bias)
