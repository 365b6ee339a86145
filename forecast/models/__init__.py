"""Networks: the spherical UNet (:mod:`.unet`) and its padding (:mod:`.sphere`), and the
conditional VAE of VAE-CRPS (:mod:`.vae`)."""

import torch

from .sphere import SphereConv2d, sphere_pad
from .unet import SphereUNet, UNetConfig
from .vae import ConditionalVAE, VAEConfig


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable values of ``model``."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "ConditionalVAE",
    "SphereConv2d",
    "SphereUNet",
    "UNetConfig",
    "VAEConfig",
    "parameter_count",
    "sphere_pad",
]
