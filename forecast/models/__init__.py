"""Networks: the spherical UNet denoiser backbone (:mod:`.unet`) and its padding (:mod:`.sphere`)."""

from .sphere import SphereConv2d, sphere_pad
from .unet import SphereUNet, UNetConfig

__all__ = ["SphereConv2d", "SphereUNet", "UNetConfig", "sphere_pad"]
