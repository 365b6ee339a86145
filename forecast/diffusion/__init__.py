"""Diffusion: EDM preconditioning and loss (:mod:`.edm`) and sampling with diffusers'
EDM scheduler (:mod:`.sampler`).

The denoiser network is kept apart (:mod:`forecast.models`); the sampler drives the
network under the EDM preconditioning and knows nothing of weather.
"""

from .edm import DenoiserNetwork, EDMConfig, EDMPreconditioner, edm_loss
from .sampler import SAMPLERS, edm_scheduler, sample_edm

__all__ = [
    "SAMPLERS",
    "DenoiserNetwork",
    "EDMConfig",
    "EDMPreconditioner",
    "edm_loss",
    "edm_scheduler",
    "sample_edm",
]
