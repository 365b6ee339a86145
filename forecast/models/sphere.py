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

    Latitude must be ordered (either way) and the number of longitudes even. For grids
    whose rows sit half a cell from the poles this is exact; for grids with points on the
    poles the pole row itself is repeated once.
    """
    if pad == 0:
        return x
    n_lon = x.shape[-1]
    if n_lon % 2:
        raise DataError(f"padding across the poles needs an even number of longitudes, got {n_lon}")
    first = torch.flip(x[..., :pad, :], dims=[-2]).roll(n_lon // 2, dims=-1)
    last = torch.flip(x[..., -pad:, :], dims=[-2]).roll(n_lon // 2, dims=-1)
    x = torch.cat([first, x, last], dim=-2)
    return torch.cat([x[..., -pad:], x, x[..., :pad]], dim=-1)


class SphereConv2d(torch.nn.Conv2d):
    """A 2-D convolution with odd kernel on (lat, lon) fields, padded with :func:`sphere_pad`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, **kwargs) -> None:
        if kernel_size % 2 == 0:
            raise ValueError("SphereConv2d needs an odd kernel size")
        super().__init__(in_channels, out_channels, kernel_size, padding=0, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(sphere_pad(x, self.kernel_size[0] // 2), self.weight, self.bias)
