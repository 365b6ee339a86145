"""Diffusion: EDM preconditioning and loss (:mod:`.edm`) and samplers (:mod:`.sampler`).

The denoiser network is kept apart (:mod:`forecast.models`); the sampler wraps the
preconditioned denoiser and knows nothing of weather.
"""

from .edm import EDMConfig, EDMPreconditioner, edm_loss
from .sampler import dpm_solver_2m_sample, heun_sample, karras_sigmas

__all__ = [
    "EDMConfig",
    "EDMPreconditioner",
    "dpm_solver_2m_sample",
    "edm_loss",
    "heun_sample",
    "karras_sigmas",
]
