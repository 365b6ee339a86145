"""diffusers' EDM DPM-Solver++(2M) against the hand-written solver it replaced, same noise.

    scripts/in-env python benchmarks/sampler_vs_handwritten.py

The hand-written DPM-Solver++(2M) is read from git history (commit 909c652, the last with
it) and both integrate the same starting noise with the closed-form denoiser of
N(mu, s^2) data, in float32 and float64, at 4 to 256 evaluations. Prints the largest
difference between their samples and each one's std relative to s.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from forecast.diffusion import DenoiserNetwork, EDMConfig, EDMPreconditioner

ROOT = Path(__file__).resolve().parent.parent
HANDWRITTEN = "909c652:forecast/diffusion/sampler.py"
MEAN = torch.tensor([[0.5, -0.3, 0.0]], dtype=torch.float64)
STD = torch.tensor([[0.3, 1.0, 2.0]], dtype=torch.float64)


def optimal(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    s2, sigma2 = STD.to(x.dtype) ** 2, sigma.reshape(-1, 1).to(x.dtype) ** 2
    return (s2 * x + sigma2 * MEAN.to(x.dtype)) / (s2 + sigma2)


def handwritten_sampler():
    source = subprocess.run(
        ["git", "show", HANDWRITTEN], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "handwritten_sampler.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("handwritten_sampler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dpm_solver_2m_sample


def main() -> None:
    old = handwritten_sampler()
    config = EDMConfig()
    model = EDMPreconditioner(DenoiserNetwork(optimal), config)
    print(
        "dtype    evaluations  max |hand-written - diffusers|  std / s (hand-written | diffusers)"
    )
    for dtype in (torch.float32, torch.float64):
        for steps in (4, 8, 16, 32, 64, 256):
            noise = torch.randn(20_000, 3, generator=torch.Generator().manual_seed(0), dtype=dtype)
            a = old(
                lambda x, s: model(x, s),
                tuple(noise.shape),
                steps=steps,
                sigma_min=config.sigma_min,
                sigma_max=config.sigma_max,
                rho=config.rho,
                noise=noise,
                dtype=dtype,
            )
            b = model.sample(noise, None, steps)
            ratios = [
                " ".join(f"{r:.5f}" for r in (v.std(0) / STD[0].to(dtype)).tolist()) for v in (a, b)
            ]
            print(
                f"{str(dtype)[6:]:8s} {steps:11d}  {(a - b).abs().max().item():30.2e}  "
                f"{ratios[0]} | {ratios[1]}"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
