"""A small UNet on the sphere, conditioned on noise level and lead time.

Input: the (preconditioned) noisy target channels concatenated with conditioning
fields (seed-ensemble statistics, climatology); scalars (noise level, lead time) enter
through sinusoidal embeddings (diffusers' ``Timesteps`` and ``TimestepEmbedding``) that
scale and shift every residual block (FiLM). All convolutions are
:class:`~forecast.models.sphere.SphereConv2d`; resolution is halved by 2x2 average
pooling made shape-aware (:func:`~forecast.models.sphere.sphere_downsample`: odd sizes
gain a row across the pole or a column across the date line), so any grid of at least
2^(levels - 1) points each way goes through and comes out the same shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import TimestepEmbedding, Timesteps

from .sphere import SphereConv2d, check_grid, sphere_downsample, upsample_to


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int
    cond_channels: int
    out_channels: int
    width: int = 32
    multipliers: tuple[int, ...] = (1, 2, 2)
    blocks_per_level: int = 1
    embedding: int = 128

    def as_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(torch.nn.Module):
    def __init__(self, channels_in: int, channels_out: int, embedding: int) -> None:
        super().__init__()
        self.norm1 = torch.nn.GroupNorm(min(8, channels_in), channels_in)
        self.conv1 = SphereConv2d(channels_in, channels_out)
        self.film = torch.nn.Linear(embedding, 2 * channels_out)
        self.norm2 = torch.nn.GroupNorm(min(8, channels_out), channels_out)
        self.conv2 = SphereConv2d(channels_out, channels_out)
        self.skip = (
            torch.nn.Conv2d(channels_in, channels_out, 1)
            if channels_in != channels_out
            else torch.nn.Identity()
        )

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(embedding)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class SphereUNet(torch.nn.Module):
    """F(x, condition, c_noise) for :class:`forecast.diffusion.EDMPreconditioner`.

    ``condition`` is a pair (fields, lead): fields (B, cond_channels, lat, lon), lead (B,)
    in days.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        width, emb = config.width, config.embedding
        self.noise_features = Timesteps(emb, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.lead_features = Timesteps(emb, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.embed = TimestepEmbedding(2 * emb, emb)
        self.stem = SphereConv2d(config.in_channels + config.cond_channels, width)
        channels = [width * m for m in config.multipliers]
        self.down = torch.nn.ModuleList()
        current = width
        for ch in channels:
            blocks = torch.nn.ModuleList()
            for _ in range(config.blocks_per_level):
                blocks.append(ResidualBlock(current, ch, emb))
                current = ch
            self.down.append(blocks)
        self.middle = ResidualBlock(current, current, emb)
        self.up = torch.nn.ModuleList()
        for ch in reversed(channels):
            blocks = torch.nn.ModuleList()
            for index in range(config.blocks_per_level):
                blocks.append(ResidualBlock(current + (ch if index == 0 else 0), ch, emb))
                current = ch
            self.up.append(blocks)
        self.head_norm = torch.nn.GroupNorm(min(8, current), current)
        self.head = SphereConv2d(current, config.out_channels)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    @property
    def levels(self) -> int:
        return len(self.config.multipliers)

    def forward(
        self, x: torch.Tensor, condition: tuple[torch.Tensor, torch.Tensor], c_noise: torch.Tensor
    ) -> torch.Tensor:
        fields, lead = condition
        check_grid(x.shape[-2:], self.levels)
        # sinusoidal features of c_noise = ln(sigma)/4 and of the lead time (days), scaled
        # so that their useful ranges span the embedding's frequencies
        features = torch.cat(
            [self.noise_features(c_noise * 250.0), self.lead_features(lead * 10.0)], dim=-1
        )
        embedding = self.embed(features.to(x.dtype))
        h = self.stem(torch.cat([x, fields], dim=1))
        skips = []
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, embedding)
            skips.append(h)
            if level < self.levels - 1:
                h = sphere_downsample(h)
        h = self.middle(h, embedding)
        for level, blocks in enumerate(self.up):
            skip = skips[-1 - level]
            if level > 0:
                h = upsample_to(h, skip.shape[-2:])
            h = torch.cat([h, skip], dim=1)
            for block in blocks:
                h = block(h, embedding)
        return self.head(F.silu(self.head_norm(h)))
