"""The spherical UNet: shapes, the sphere's symmetries, and a denoiser that learns."""

import pytest
import torch
from networks import random_head

from forecast.diffusion import EDMPreconditioner, edm_loss
from forecast.models import SphereConv2d, SphereUNet, UNetConfig, parameter_count, sphere_pad
from forecast.models.sphere import sphere_downsample, upsample_to
from pipelines.errors import DataError


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


REAL_GRIDS = [(721, 1440), (361, 720), (181, 360), (121, 240), (61, 120), (33, 64)]


@pytest.mark.parametrize("grid", REAL_GRIDS, ids=lambda g: f"{g[0]}x{g[1]}")
def test_both_networks_take_any_grid_with_poles_and_stay_periodic(grid):
    """SEEDS' UNet (4 levels) and the VAE (latent grid coarsened twice) on native grids
    with pole rows and odd latitude counts: same shape out, and rotating the input by a
    multiple of the coarsest cell (8 longitudes) rotates the output."""
    from forecast.models.vae import ConditionalVAE, VAEConfig

    torch.manual_seed(0)
    unet = random_head(
        SphereUNet(
            UNetConfig(
                in_channels=1, cond_channels=2, out_channels=1, width=4, multipliers=(1, 1, 1, 1)
            )
        )
    )
    x, fields = torch.randn(1, 1, *grid), torch.randn(1, 2, *grid)
    lead, c_noise = torch.ones(1), torch.zeros(1)
    with torch.no_grad():
        out = unet(x, (fields, lead), c_noise)
        rotated = unet(x.roll(8, dims=-1), (fields.roll(8, dims=-1), lead), c_noise)
    assert out.shape == x.shape and torch.isfinite(out).all()
    torch.testing.assert_close(rotated, out.roll(8, dims=-1), atol=1e-5, rtol=1e-4)

    vae = ConditionalVAE(
        VAEConfig(
            variables=1,
            cond_channels=2,
            width=4,
            latent_channels=2,
            latent_levels=2,
            multipliers=(1, 1, 1),
        )
    )
    random_head(vae.decoder)
    shape = vae.noise_shape((1, 1, *grid))
    assert shape[-2:] == (-(-grid[0] // 4), grid[1] // 4)
    noise = torch.randn(shape)
    with torch.no_grad():
        members = vae.sample(noise, (fields, lead))
        turned = vae.sample(noise.roll(2, dims=-1), (fields.roll(8, dims=-1), lead))
    assert members.shape == x.shape
    torch.testing.assert_close(turned, members.roll(8, dims=-1), atol=1e-5, rtol=1e-4)


def test_the_network_sees_across_the_pole():
    """A one-level network reaches 4 cells (its group norms couple every point, weakly): a
    change at the north pole row at longitude 0 reaches the pole row at longitude 180
    degrees, 32 cells away along the row, across the pole, and not 16 cells away."""
    torch.manual_seed(0)
    unet = random_head(make_unet(multipliers=(1,)))
    x, fields = torch.randn(1, 2, 33, 64), torch.randn(1, 3, 33, 64)
    lead, c_noise = torch.ones(1), torch.zeros(1)
    bumped = x.clone()
    bumped[0, 0, -1, 0] += 3.0
    with torch.no_grad():
        change = unet(bumped, (fields, lead), c_noise) - unet(x, (fields, lead), c_noise)
    across, along = change[0, :, -1, 32].abs().max(), change[0, :, -1, 16].abs().max()
    assert across > 100 * along, (across, along)


def test_shape_aware_pooling_is_average_pooling_and_its_padding():
    x = torch.randn(1, 1, 7, 9)
    coarse = sphere_downsample(x)
    assert coarse.shape == (1, 1, 4, 5)
    torch.testing.assert_close(
        coarse[..., :3, :4], torch.nn.functional.avg_pool2d(x[..., :6, :8], 2)
    )
    # the last row pools with the row beyond the pole (turned by 4 of 9 longitudes), the last
    # column with the first (periodic)
    beyond = x[0, 0, -1].roll(4)
    torch.testing.assert_close(coarse[0, 0, -1, 0], (x[0, 0, -1, :2].sum() + beyond[:2].sum()) / 4)
    torch.testing.assert_close(
        coarse[0, 0, 0, -1], (x[0, 0, :2, 8].sum() + x[0, 0, :2, 0].sum()) / 4
    )
    torch.testing.assert_close(upsample_to(coarse, (7, 9))[..., ::2, ::2], coarse)


def test_a_grid_too_small_for_the_network_is_one_clear_error():
    with pytest.raises(DataError, match=r"grid \(3, 32\) is too small for a network of 3 levels"):
        make_unet()(
            torch.randn(1, 2, 3, 32), (torch.randn(1, 3, 3, 32), torch.ones(1)), torch.zeros(1)
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


def brute_force_attention(attention, x: torch.Tensor) -> torch.Tensor:
    """x + W_o softmax(q k^T / sqrt(d)) v per head over all points, written out."""
    batch, channels, height, width = x.shape
    tokens = attention.norm(x).flatten(2).transpose(1, 2)  # (B, N, C)
    q, k, v = attention.qkv(tokens).chunk(3, dim=-1)
    heads, d = attention.heads, channels // attention.heads
    out = []
    for h in range(heads):
        part = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[..., part] @ k[..., part].transpose(1, 2) / d**0.5, dim=-1)
        out.append(weights @ v[..., part])
    mixed = attention.out(torch.cat(out, dim=-1))
    return x + mixed.transpose(1, 2).reshape(batch, channels, height, width)


def test_global_attention_is_multi_head_attention_over_every_point():
    from forecast.models.unet import SphereAttention

    torch.manual_seed(0)
    attention = SphereAttention(16, heads=4, max_tokens=1000)
    torch.nn.init.normal_(attention.out.weight, std=0.2)
    x = torch.randn(2, 16, 5, 8)
    torch.testing.assert_close(attention(x), brute_force_attention(attention, x))


def test_attention_gives_the_network_global_reach_and_convolutions_alone_do_not():
    """A change at one point of a 32x64 grid reaches the far side of the globe through the
    coarsest level's attention (global, or axial beyond max_tokens); a network of the same
    depth without attention (reach about 17 cells) leaves it untouched."""

    def change_far_away(**kwargs) -> float:
        torch.manual_seed(0)
        unet = random_head(make_unet(multipliers=(1, 1), **kwargs))
        for module in list(unet.modules()):
            if hasattr(module, "qkv"):  # attention starts as the identity: give it weights
                torch.nn.init.normal_(module.out.weight, std=0.2)
            for name, child in module.named_children():
                # group norms couple every point weakly through their statistics; without
                # them the convolutions' reach is exact
                if isinstance(child, torch.nn.GroupNorm):
                    setattr(module, name, torch.nn.Identity())
        x, fields = torch.randn(1, 2, 32, 64), torch.randn(1, 3, 32, 64)
        lead, c_noise = torch.ones(1), torch.zeros(1)
        bumped = x.clone()
        bumped[0, 0, 8, 0] += 3.0
        with torch.no_grad():
            change = unet(bumped, (fields, lead), c_noise) - unet(x, (fields, lead), c_noise)
        return float(change[0, :, 23:26, 30:35].abs().max())

    assert change_far_away(attention_levels=0) == 0.0
    assert (
        change_far_away(attention_levels=1) > 1e-6
    )  # exactly 0 without attention: any change is reach
    assert change_far_away(attention_levels=1, max_tokens=16) > 1e-6  # axial


def test_activation_checkpointing_gives_the_same_gradients():
    x, fields = torch.randn(2, 2, 16, 32), torch.randn(2, 3, 16, 32)
    lead, c_noise = torch.tensor([1.0, 5.0]), torch.tensor([0.1, -0.5])
    gradients = []
    for checkpointing in (False, True):
        unet = random_head(make_unet(attention_levels=2, activation_checkpointing=checkpointing))
        unet.train()
        (unet(x, (fields, lead), c_noise) ** 2).sum().backward()
        gradients.append([p.grad.clone() for p in unet.parameters()])
    for plain, recomputed in zip(*gradients, strict=True):
        torch.testing.assert_close(plain, recomputed)
