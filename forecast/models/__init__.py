"""Networks: the spherical UNet (:mod:`.unet`) and its padding (:mod:`.sphere`), and the
conditional VAE of VAE-CRPS (:mod:`.vae`)."""

from .sphere import SphereConv2d, sphere_pad
from .unet import SphereUNet, UNetConfig
from .vae import ConditionalVAE, VAEConfig

__all__ = ["ConditionalVAE", "SphereConv2d", "SphereUNet", "UNetConfig", "VAEConfig", "sphere_pad"]
