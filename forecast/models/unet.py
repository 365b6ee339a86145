"""A UNet on the sphere with global attention at its coarse levels, conditioned on noise
level and lead time.

Input: the (preconditioned) noisy target channels concatenated with conditioning
fields (seed-ensemble statistics and the :mod:`forecast.context` fields: position, time,
climatology, static fields); scalars (noise level, lead time) enter
through sinusoidal embeddings (diffusers' ``Timesteps`` and ``TimestepEmbedding``) that
scale and shift every residual block (FiLM). All convolutions are
:class:`~forecast.models.sphere.SphereConv2d`; resolution is halved by 2x2 average
pooling made shape-aware (:func:`~forecast.models.sphere.sphere_downsample`: odd sizes
gain a row across the pole or a column across the date line), so any grid of at least
2^(levels - 1) points each way goes through and comes out the same shape.

Convolutions alone see a few dozen cells, less than one weather system at 1 degree. At the
``attention_levels`` coarsest levels (and the middle) the residual blocks are followed by
multi-head self-attention (:class:`SphereAttention`) over all points of that grid, so one layer
reaches across the globe at any resolution (SEEDS used axial attention for the same
reason: Li et al. 2024, Sci. Adv. 10, eadk4489); above ``max_tokens`` points it is axial
(along each latitude row, then each meridian) so memory stays linear in the grid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
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
    # 0 for checkpoints made before attention: what a missing key means
    attention_levels: int = 0
    heads: int = 4
    max_tokens: int = 8192  # global attention up to this many points, axial beyond
    # recompute each block's activations in the backward pass: memory for time
    activation_checkpointing: bool = False

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


class SphereAttention(torch.nn.Module):
    """x + W_o MHA(GroupNorm(x)) over the points of a (B, C, H, W) grid.

    Global: every point attends to every other (H W tokens), through torch's
    scaled-dot-product attention (flash or memory-efficient kernels on a GPU). Above
    ``max_tokens`` points, axial: each latitude row attends along itself, then each
    meridian, with the same projections: two layers reach everywhere at O(H W (H + W))
    cost. Starts as the identity (zero output projection), as the UNet's head does.
    """

    def __init__(self, channels: int, heads: int, max_tokens: int) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads, self.max_tokens = heads, max_tokens
        self.norm = torch.nn.GroupNorm(min(8, channels), channels)
        self.qkv = torch.nn.Linear(channels, 3 * channels)
        self.out = torch.nn.Linear(channels, channels)
        torch.nn.init.zeros_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def _attend(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, L, C) -> (N, L, C): multi-head self-attention along L."""
        n, length, channels = tokens.shape
        q, k, v = self.qkv(tokens).reshape(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v)  # (N, heads, L, C / heads)
        return self.out(mixed.transpose(1, 2).reshape(n, length, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        h = self.norm(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        if height * width <= self.max_tokens:
            mixed = self._attend(h.reshape(batch, height * width, channels))
            mixed = mixed.reshape(batch, height, width, channels)
        else:
            rows = self._attend(h.reshape(batch * height, width, channels))
            h = h + rows.reshape(batch, height, width, channels)
            columns = self._attend(h.transpose(1, 2).reshape(batch * width, height, channels))
            mixed = rows.reshape(batch, height, width, channels) + columns.reshape(
                batch, width, height, channels
            ).transpose(1, 2)
        return x + mixed.permute(0, 3, 1, 2)


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
        levels = len(channels)
        self.down = torch.nn.ModuleList()
        self.down_attention = torch.nn.ModuleList()
        current = width
        for level, ch in enumerate(channels):
            blocks = torch.nn.ModuleList()
            for _ in range(config.blocks_per_level):
                blocks.append(ResidualBlock(current, ch, emb))
                current = ch
            self.down.append(blocks)
            self.down_attention.append(self._attention(ch, levels - 1 - level))
        self.middle = ResidualBlock(current, current, emb)
        self.middle_attention = self._attention(current, 0)
        self.up = torch.nn.ModuleList()
        self.up_attention = torch.nn.ModuleList()
        for level, ch in enumerate(reversed(channels)):
            blocks = torch.nn.ModuleList()
            for index in range(config.blocks_per_level):
                blocks.append(ResidualBlock(current + (ch if index == 0 else 0), ch, emb))
                current = ch
            self.up.append(blocks)
            self.up_attention.append(self._attention(ch, level))
        self.head_norm = torch.nn.GroupNorm(min(8, current), current)
        self.head = SphereConv2d(current, config.out_channels)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def _attention(self, channels: int, depth_from_bottom: int) -> torch.nn.Module:
        """Attention at the ``attention_levels`` coarsest levels, else nothing."""
        config = self.config
        if depth_from_bottom >= config.attention_levels:
            return torch.nn.Identity()
        return SphereAttention(channels, config.heads, config.max_tokens)

    @property
    def levels(self) -> int:
        return len(self.config.multipliers)

    def _run(self, layer: torch.nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
        """``layer(*inputs)``, its activations recomputed in the backward pass when asked."""
        if isinstance(layer, torch.nn.Identity):
            return inputs[0]
        if self.config.activation_checkpointing and self.training and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(layer, *inputs, use_reentrant=False)
        return layer(*inputs)

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
                h = self._run(block, h, embedding)
            h = self._run(self.down_attention[level], h)
            skips.append(h)
            if level < self.levels - 1:
                h = sphere_downsample(h)
        h = self._run(self.middle_attention, self._run(self.middle, h, embedding))
        for level, blocks in enumerate(self.up):
            skip = skips[-1 - level]
            if level > 0:
                h = upsample_to(h, skip.shape[-2:])
            h = torch.cat([h, skip], dim=1)
            for block in blocks:
                h = self._run(block, h, embedding)
            h = self._run(self.up_attention[level], h)
        return self.head(F.silu(self.head_norm(h)))
