"""One script for a CUDA GPU: correctness on the device, then generation and training speed.

    python benchmarks/gpu_check.py                       # on a machine with a CUDA GPU
    python benchmarks/gpu_check.py --device cpu --grids 16x32 --quick   # smoke test anywhere

1. Correctness: the closed-form denoiser of Gaussian data through the sampler on the device
   gives samples of the right mean and variance; the SEEDS network gives the same output on
   the device as on the CPU (float32), and within bf16 rounding under autocast.
2. Generation throughput (quick-budget SEEDS-GEE architecture, 32 evaluations per member)
   at 1 degree (180x360) and 0.25 degree (720x1440): float32, bf16 autocast, and bf16 with
   torch.compile; members per second by batch size, and peak memory.
3. Training step time (forward, backward, AdamW) with bf16 autocast at 1 degree.

Designed to finish in under 8 minutes on one H100. Prints a table to paste into
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

import torch

from forecast.diffusion import DenoiserNetwork, EDMConfig, EDMPreconditioner
from forecast.registry import model_kind
from forecast.train import budget_config

GRIDS = {"1deg": (180, 360), "0.25deg": (720, 1440)}


def quick_model(kind: str = "seeds-gee") -> torch.nn.Module:
    """A model ``kind`` with the quick budget's architecture for 4 variables (random weights)."""
    return model_kind(kind).build(4, budget_config(kind, "quick").architecture)[0]


def check_gaussian_sampler(device: str) -> str:
    """diffusers' EDM DPM-Solver++(2M) on the device, driven by the optimal denoiser."""
    mu, s, sigma_max = 0.5, 0.7, 80.0
    generator = torch.Generator(device=device).manual_seed(0)
    noise = torch.randn(20000, 1, 4, 4, generator=generator, device=device)

    def denoise(x, sigma):
        sigma = sigma.reshape(-1, 1, 1, 1)
        return (s**2 * x + sigma**2 * mu) / (s**2 + sigma**2)

    model = EDMPreconditioner(
        DenoiserNetwork(denoise), EDMConfig(sigma_min=0.002, sigma_max=sigma_max)
    ).to(device)
    samples = model.sample(noise, None, 32)
    mean, std = samples.mean().item(), samples.std().item()
    # the start is N(0, sigma_max^2), not N(mu, s^2 + sigma_max^2): a bias of mu s / sigma_max
    assert abs(mean - mu) < mu * s / sigma_max + 4 * s / noise.numel() ** 0.5, mean
    assert abs(std / s - 1) < 0.025, std
    return f"Gaussian sampler on {device}: mean {mean:.4f} ({mu}), std {std:.4f} ({s})"


def check_network(device: str, shape: tuple[int, int]) -> str:
    model = quick_model()
    model.eval()
    x = torch.randn(2, 4, *shape)
    condition = (torch.randn(2, 8, *shape), torch.tensor([1.0, 5.0]))
    sigma = torch.tensor([0.5, 5.0])
    with torch.inference_mode():
        reference = model(x, sigma, condition)
        on_device = model.to(device)(
            x.to(device), sigma.to(device), (condition[0].to(device), condition[1].to(device))
        )
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            low = model(
                x.to(device), sigma.to(device), (condition[0].to(device), condition[1].to(device))
            )
    scale = reference.abs().max().item()
    fp32 = (on_device.float().cpu() - reference).abs().max().item() / scale
    bf16 = (low.float().cpu() - reference).abs().max().item() / scale
    assert fp32 < 1e-3 and bf16 < 5e-2, (fp32, bf16)
    return f"network {device} vs CPU: float32 {fp32:.1e}, bf16 autocast {bf16:.1e} (relative max)"


def generation_rate(
    device, shape, batch, mode, steps=32, repeats=2, kind="seeds-gee"
) -> tuple[float, float]:
    """Members per second (``steps`` None: the model's default sampler) and peak GiB."""
    model = quick_model(kind)
    model = model.to(device).eval()
    if mode == "bf16+compile":
        model.network = torch.compile(model.network)
    noise = torch.randn(model.noise_shape((batch, 4, *shape)), device=device)
    condition = (torch.randn(batch, 8, *shape, device=device), torch.ones(batch, device=device))
    cuda = device.startswith("cuda")
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=mode != "float32")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode(), autocast:
        model.sample(noise, condition, 2)  # warm-up (and compilation)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            model.sample(noise, condition, steps)
        if cuda:
            torch.cuda.synchronize()
    rate = batch * repeats / (time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return rate, peak


def training_step_seconds(
    device: str, shape: tuple[int, int], batch: int, steps: int, kind: str = "seeds-gee"
) -> float:
    model = quick_model(kind)
    model = model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    target = torch.randn(batch, 4, *shape, device=device)
    condition = (torch.randn(batch, 8, *shape, device=device), torch.ones(batch, device=device))
    generator = torch.Generator(device=device).manual_seed(0)
    autocast = torch.autocast(
        device.split(":")[0], dtype=torch.bfloat16, enabled=device.startswith("cuda")
    )
    for step in range(steps + 1):
        if step == 1:  # the first step warms up
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
        with autocast:
            loss = model.training_loss(target, condition, generator=generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--grids", default="1deg,0.25deg", help="names or HxW, comma-separated")
    parser.add_argument("--quick", action="store_true", help="tiny batches and few steps")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu for a smoke test")
    grids = [
        GRIDS[g] if g in GRIDS else tuple(int(n) for n in g.split("x"))
        for g in args.grids.split(",")
    ]
    if args.device.startswith("cuda"):
        print(torch.cuda.get_device_name(), f"torch {torch.__version__}")
    print(check_gaussian_sampler(args.device))
    print(check_network(args.device, grids[0] if args.quick else (32, 64)))
    batches = (1, 2) if args.quick else (4, 16, 64)
    steps = 2 if args.quick else 32
    print(f"generation, {steps} evaluations per member: members/s (peak GiB)")
    for shape in grids:
        for mode in ("float32", "bf16", "bf16+compile"):
            if args.quick and mode == "bf16+compile":
                continue
            row = []
            for batch in batches if shape[0] < 500 else [b // 4 or 1 for b in batches]:
                rate, peak = generation_rate(args.device, shape, batch, mode, steps=steps)
                row.append(f"batch {batch}: {rate:.2f} ({peak:.1f})")
            print(f"  {shape[0]}x{shape[1]} {mode}: " + ", ".join(row), flush=True)
    seconds = training_step_seconds(
        args.device, grids[0], 2 if args.quick else 16, 2 if args.quick else 10
    )
    print(f"training step, {grids[0][0]}x{grids[0][1]}: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
