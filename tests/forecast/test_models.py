"""The spherical UNet: shapes, the sphere's symmetries, and a denoiser that learns."""

import pytest
import torch

from forecast.diffusion import EDMPreconditioner, edm_loss
from forecast.models import SphereConv2d, SphereUNet, UNetConfig, parameter_count, sphere_pad


def test_sphere_pad_wraps_longitude_and_crosses_the_poles():
    n_lat, n_lon = 6, 8
    x = torch.arange(n_lat * n_lon, dtype=torch.float32).reshape(1, 1, n_lat, n_lon)
    padded = sphere_pad(x, 1)
    assert padded.shape == (1, 1, n_lat + 2, n_lon + 2)
    inner = padded[..., 1:-1, :]
    torch.testing.assert_close(inner[..., 0], x[..., -1])  # west of lon 0 is the last longitude
    torch.testing.assert_close(inner[..., -1], x[..., 0])
    # beyond the first row, at longitude j, lies the first row at longitude j + 180 degrees
    for j in range(n_lon):
        assert padded[0, 0, 0, j + 1] == x[0, 0, 0, (j + n_lon // 2) % n_lon]
        assert padded[0, 0, -1, j + 1] == x[0, 0, -1, (j + n_lon // 2) % n_lon]


def test_sphere_conv_commutes_with_longitude_rotation():
    conv = SphereConv2d(2, 3)
    x = torch.randn(1, 2, 8, 16)
    torch.testing.assert_close(conv(x.roll(5, dims=-1)), conv(x).roll(5, dims=-1))


def make_unet(**kwargs) -> SphereUNet:
    torch.manual_seed(0)
    return SphereUNet(
        UNetConfig(in_channels=2, cond_channels=3, out_channels=2, width=16, **kwargs)
    )


def test_unet_shapes_parameters_and_rotation_equivariance():
    unet = make_unet()
    for (
        parameter
    ) in unet.head.parameters():  # the head starts at zero; give it weights for this test
        torch.nn.init.normal_(parameter, std=0.1)
    x, fields = torch.randn(2, 2, 16, 32), torch.randn(2, 3, 16, 32)
    lead, c_noise = torch.tensor([1.0, 5.0]), torch.tensor([0.1, -0.5])
    out = unet(x, (fields, lead), c_noise)
    assert out.shape == x.shape
    assert 10_000 < parameter_count(unet) < 1_000_000
    # a rotation by a multiple of the coarsest cell (4 cells with 3 levels) commutes with the network
    rotated = unet(x.roll(8, dims=-1), (fields.roll(8, dims=-1), lead), c_noise)
    torch.testing.assert_close(rotated, out.roll(8, dims=-1), atol=1e-5, rtol=1e-4)


def test_unet_refuses_a_grid_it_cannot_halve():
    with pytest.raises(ValueError, match="must divide by 4"):
        make_unet()(
            torch.randn(1, 2, 10, 32), (torch.randn(1, 3, 10, 32), torch.ones(1)), torch.zeros(1)
        )


def test_denoiser_training_reduces_the_loss_on_structured_fields():
    torch.manual_seed(0)
    unet = SphereUNet(
        UNetConfig(in_channels=1, cond_channels=1, out_channels=1, width=8, multipliers=(1, 2))
    )
    denoiser = EDMPreconditioner(unet)
    optimiser = torch.optim.Adam(unet.parameters(), lr=3e-3)
    lat = torch.linspace(-1.4, 1.4, 8).reshape(1, 1, 8, 1)
    lon = torch.linspace(0, 6.28, 16 + 1)[:-1].reshape(1, 1, 1, 16)
    generator = torch.Generator().manual_seed(1)

    def batch():
        phase = torch.rand(32, 1, 1, 1, generator=generator) * 6.28
        target = torch.cos(lat) * torch.sin(
            2 * lon + phase
        )  # waves whose phase the condition gives away
        condition = torch.cos(lat) * torch.cos(2 * lon + phase)
        return target, (condition, torch.ones(32))

    def loss_now():
        with torch.no_grad():
            target, condition = batch()
            return float(
                edm_loss(denoiser, target, condition, generator=torch.Generator().manual_seed(5))
            )

    before = loss_now()
    for _ in range(60):
        target, condition = batch()
        loss = edm_loss(denoiser, target, condition, generator=generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss_now() < 0.7 * before
