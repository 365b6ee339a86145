"""Samplers on the EDM noise schedule: DPM-Solver++(2M) (the default: one denoiser
evaluation per step) and Heun's second-order method (Karras et al. 2022, Algorithm 1:
N steps cost 2N - 1 evaluations).

Noise levels sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
then sigma_N = 0; the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma is
integrated from pure noise x ~ N(0, sigma_max^2) down to sigma = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """The ``steps`` noise levels from sigma_max to sigma_min, then a final 0."""
    if steps < 1:
        raise ValueError("the sampler needs at least one step")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    inv_rho = 1.0 / rho
    sigmas = (sigma_max**inv_rho + ramp * (sigma_min**inv_rho - sigma_max**inv_rho)) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


@torch.no_grad()
def heun_sample(
    denoiser: Denoiser,
    shape: tuple[int, ...],
    *,
    steps: int = 16,
    sigma_min: float = 0.02,
    sigma_max: float = 20.0,
    rho: float = 7.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw samples of ``shape`` with ``denoiser(x, sigma)`` (sigma: one value per sample).

    16 steps (the default) cost 31 evaluations, within the 32-evaluation budget.
    """
    sigmas = karras_sigmas(steps, sigma_min, sigma_max, rho).to(device=device, dtype=dtype)
    x = torch.randn(shape, generator=generator, device=device, dtype=dtype) * sigmas[0]
    batch = shape[0]
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        slope = (x - denoiser(x, sigma.expand(batch))) / sigma
        proposal = x + (sigma_next - sigma) * slope
        if sigma_next > 0:
            slope_next = (proposal - denoiser(proposal, sigma_next.expand(batch))) / sigma_next
            proposal = x + (sigma_next - sigma) * 0.5 * (slope + slope_next)
        x = proposal
    return x


@torch.no_grad()
def dpm_solver_2m_sample(
    denoiser: Denoiser,
    shape: tuple[int, ...],
    *,
    steps: int = 32,
    sigma_min: float = 0.02,
    sigma_max: float = 20.0,
    rho: float = 7.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095, Algorithm 2) on the EDM schedule:
    one denoiser evaluation per step, second order from the second step on.

    In data prediction with lambda = -ln sigma and h = lambda_next - lambda,
    x_next = (sigma_next / sigma) x + (1 - sigma_next / sigma) D', where D' = D(x; sigma)
    on the first step and (1 + 1/(2r)) D_i - 1/(2r) D_(i-1), r = h_prev / h, after it.
    The exponential-integrator form is exact for the linear part of the flow, which is why
    it needs far fewer evaluations than Heun's method in sigma.
    """
    sigmas = karras_sigmas(steps, sigma_min, sigma_max, rho).to(device=device, dtype=torch.float64)
    if noise is None:  # a standard normal start; pass ``noise`` to fix it independently of batching
        noise = torch.randn(shape, generator=generator, device=device, dtype=torch.float64)
    x = (noise.to(device=device, dtype=torch.float64) * sigmas[0]).to(dtype)
    batch = shape[0]
    previous, h_previous = None, None
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma.to(dtype).expand(batch))
        if sigma_next == 0:
            x = denoised
            break
        h = torch.log(sigma / sigma_next)
        if previous is None:
            estimate = denoised
        else:
            r = h_previous / h
            estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
        ratio = (sigma_next / sigma).to(dtype)
        x = ratio * x + (1 - ratio) * estimate
        previous, h_previous = denoised, h
    return x
