"""One script for a CUDA GPU: correctness on the device, then generation and training speed
of the quick and full architectures at real grids, and the issue's goals as PASS/FAIL.

    python benchmarks/gpu_check.py                        # on a machine with a CUDA GPU
    python benchmarks/gpu_check.py --device cpu --grids 16x32 --quick   # smoke test anywhere

1. Correctness (exit status 1 if any fails): the closed-form denoiser of Gaussian data
   through the sampler on the device gives samples of the right mean and variance; the
   SEEDS network of each budget, with every zero-initialised output layer given weights (an
   untrained network's zero head would make any device pass), gives the CPU's output on
   the device in float32 (relative max error < 1e-3) and under bf16 autocast (< 5e-2).
2. Generation (SEEDS-GEE, 32 network evaluations per member) at 1 degree (181x360) and
   0.25 degree (721x1440) for the quick and full architectures: float32, bf16 autocast,
   bf16 + torch.compile; members/s by batch, peak memory, and the network's achieved
   TFLOP/s (FLOPs of one evaluation counted by ``torch.utils.flop_counter``) as a share of
   the card's dense bf16 peak.
3. Training step (forward, backward, AdamW; bf16 autocast on CUDA) at 1 degree for both
   architectures, and the full one at 0.25 degree at batch 1 with activation checkpointing.
4. Goals: full architecture in bf16 at 0.25 degree >= 30% of the bf16 peak and >= 1.5x
   float32; a 64-member 1-degree ensemble for one lead time (32 evaluations each) < 10 s.

Designed to finish in under 8 minutes on one H100. Prints one table to paste into
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from forecast.diffusion import DenoiserNetwork, EDMConfig, EDMPreconditioner
from forecast.models import parameter_count
from forecast.registry import model_kind
from forecast.train import budget_config

GRIDS = {"1deg": (181, 360), "0.25deg": (721, 1440)}
N_VARS = 4
EVALUATIONS = 32
# dense bf16 tensor-core peak (TFLOP/s) by the name torch reports
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}


def budget_model(kind: str = "seeds-gee", budget: str = "quick", **overrides) -> torch.nn.Module:
    """A model ``kind`` with ``budget``'s architecture for :data:`N_VARS` variables (random
    weights), and the number of condition channels it takes."""
    architecture = budget_config(kind, budget, **overrides).architecture
    model = model_kind(kind).build(N_VARS, architecture)[0]
    model.condition_channels = architecture.condition_channels(N_VARS)
    return model


def quick_model(kind: str = "seeds-gee") -> torch.nn.Module:
    """The quick budget's ``kind`` (random weights)."""
    return budget_model(kind, "quick")


def condition_for(model: torch.nn.Module, batch: int, shape, device) -> tuple:
    """Random condition fields and lead times for ``model``."""
    return (
        torch.randn(batch, model.condition_channels, *shape, device=device),
        torch.ones(batch, device=device),
    )


def with_nonzero_outputs(model: torch.nn.Module) -> torch.nn.Module:
    """Every all-zero parameter (the head, attention's output projections) given weights, so
    that the network's output depends on every layer."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model


def check_gaussian_sampler(device: str) -> tuple[bool, str]:
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
    passed = abs(mean - mu) < mu * s / sigma_max + 4 * s / noise.numel() ** 0.5
    passed = passed and abs(std / s - 1) < 0.025
    return passed, f"Gaussian sampler on {device}: mean {mean:.4f} ({mu}), std {std:.4f} ({s})"


def device_forward(model, device: str, inputs: tuple, bf16: bool) -> torch.Tensor:
    """The network's output for ``inputs`` (x, sigma, condition) on ``device``, on the CPU."""
    x, sigma, (fields, lead) = (inputs[0], inputs[1], inputs[2])
    model = model.to(device)
    with (
        torch.inference_mode(),
        torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16),
    ):
        out = model(x.to(device), sigma.to(device), (fields.to(device), lead.to(device)))
    return out.float().cpu()


def relative_max_error(reference: torch.Tensor, candidate: torch.Tensor) -> float:
    """max |candidate - reference| / max |reference|."""
    return float((candidate - reference).abs().max() / reference.abs().max())


def check_network(device: str, shape: tuple[int, int], budget: str) -> tuple[bool, str]:
    """The ``budget`` network on ``device`` against the CPU, float32 and bf16 autocast."""
    model = with_nonzero_outputs(budget_model("seeds-gee", budget)).eval()
    generator = torch.Generator().manual_seed(1)
    inputs = (
        torch.randn(2, N_VARS, *shape, generator=generator),
        torch.tensor([0.5, 5.0]),
        (
            torch.randn(2, model.condition_channels, *shape, generator=generator),
            torch.tensor([1.0, 5.0]),
        ),
    )
    reference = device_forward(model, "cpu", inputs, bf16=False)
    fp32 = relative_max_error(reference, device_forward(model, device, inputs, bf16=False))
    bf16 = relative_max_error(reference, device_forward(model, device, inputs, bf16=True))
    passed = fp32 < 1e-3 and bf16 < 5e-2
    return passed, (
        f"{budget} network, {device} vs CPU: float32 {fp32:.1e} (< 1e-3), bf16 autocast "
        f"{bf16:.1e} (< 5e-2), relative max error"
    )


def network_flops(model: torch.nn.Module, shape: tuple[int, int]) -> float:
    """FLOPs of one network evaluation per sample at ``shape``, counted on the meta device
    (no memory, no time): convolutions, matrix products and attention."""
    meta = model.to("meta")
    x = torch.zeros(1, N_VARS, *shape, device="meta")
    condition = condition_for(meta, 1, shape, "meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(x, torch.ones(1, device="meta"), condition)
    return float(counter.get_total_flops())


def generation_rate(
    device, shape, batch, mode, steps=EVALUATIONS, repeats=2, kind="seeds-gee", budget="quick"
) -> tuple[float, float]:
    """Members per second (``steps`` None: the model's default sampler) and peak GiB."""
    model = budget_model(kind, budget).to(device).eval()
    if mode == "bf16+compile":
        model.network = torch.compile(model.network)
    noise = torch.randn(model.noise_shape((batch, N_VARS, *shape)), device=device)
    condition = condition_for(model, batch, shape, device)
    cuda = device.startswith("cuda")
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=mode != "float32")
    if cuda:
        torch.cuda.empty_cache()
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
    device: str,
    shape: tuple[int, int],
    batch: int,
    steps: int,
    kind: str = "seeds-gee",
    budget: str = "quick",
    **overrides,
) -> float:
    """Seconds per optimiser step (the first, warming up, not counted)."""
    model = budget_model(kind, budget, **overrides).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    target = torch.randn(batch, N_VARS, *shape, device=device)
    condition = condition_for(model, batch, shape, device)
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


def bf16_peak_tflops(device: str, override: float | None) -> float | None:
    """The card's dense bf16 peak: ``override``, else looked up by its name."""
    if override or not device.startswith("cuda"):
        return override
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in BF16_PEAK_TFLOPS.items() if key in name), None)


def report(passed: bool, line: str, failures: list[str]) -> None:
    print(("PASS " if passed else "FAIL ") + line, flush=True)
    if not passed:
        failures.append(line)


def parse_grid(name: str) -> tuple[int, int]:
    return GRIDS[name] if name in GRIDS else tuple(int(n) for n in name.split("x"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--grids", default="1deg,0.25deg", help="names or HxW, comma-separated")
    parser.add_argument("--budgets", default="quick,full")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the card's bf16 peak")
    parser.add_argument("--quick", action="store_true", help="tiny batches and few steps")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu for a smoke test")
    grids = [parse_grid(g) for g in args.grids.split(",")]
    budgets = args.budgets.split(",")
    if args.device.startswith("cuda"):
        print(torch.cuda.get_device_name(), f"torch {torch.__version__}")
    failures: list[str] = []
    report(*check_gaussian_sampler(args.device), failures)
    for budget in budgets:
        report(*check_network(args.device, grids[0] if args.quick else (32, 64), budget), failures)
    peak_tflops = bf16_peak_tflops(args.device, args.peak_tflops)
    steps = 2 if args.quick else EVALUATIONS
    modes = ("float32", "bf16") if args.quick else ("float32", "bf16", "bf16+compile")
    rows = ["| budget | grid | mode | batch | members/s | peak GiB | TFLOP/s | % of bf16 peak |"]
    rows.append("|---|---|---|---|---|---|---|---|")
    best: dict[tuple, float] = {}
    for budget in budgets:
        model = budget_model("seeds-gee", budget)
        print(f"{budget}: {parameter_count(model) / 1e6:.1f} M parameters")
        for shape in grids:
            flops = network_flops(budget_model("seeds-gee", budget), shape)
            print(f"  {shape[0]}x{shape[1]}: {flops / 1e9:.1f} GFLOP per evaluation", flush=True)
            large = shape[0] * shape[1] > 200_000
            batches = (1, 2) if args.quick else ((1, 4) if large else (4, 16, 64))
            for mode in modes:
                for batch in batches:
                    try:
                        rate, peak = generation_rate(
                            args.device, shape, batch, mode, steps, 1 if large else 2, budget=budget
                        )
                    except torch.OutOfMemoryError:
                        rows.append(
                            f"| {budget} | {shape[0]}x{shape[1]} | {mode} | {batch} | OOM |"
                        )
                        torch.cuda.empty_cache()
                        continue
                    tflops = rate * steps * flops / 1e12
                    share = f"{100 * tflops / peak_tflops:.0f}" if peak_tflops else "-"
                    rows.append(
                        f"| {budget} | {shape[0]}x{shape[1]} | {mode} | {batch} | {rate:.2f} | "
                        f"{peak:.1f} | {tflops:.1f} | {share} |"
                    )
                    key = (budget, shape, mode)
                    best[key] = max(best.get(key, 0.0), rate)
                print(rows[-1], flush=True)
    print(f"\ngeneration, {steps} evaluations per member, 4 variables")
    print("\n".join(rows))
    print("\ntraining (forward, backward, AdamW)")
    print("| budget | grid | batch | activation checkpointing | ms per step | samples/s |")
    print("|---|---|---|---|---|---|")
    training = [
        (b, grids[0], 2 if args.quick else (16 if b == "quick" else 4), False) for b in budgets
    ]
    if "full" in budgets and len(grids) > 1:
        training.append(("full", grids[-1], 1, True))
    for budget, shape, batch, checkpointing in training:
        try:
            seconds = training_step_seconds(
                args.device,
                shape,
                batch,
                2 if args.quick else 5,
                budget=budget,
                activation_checkpointing=checkpointing or None,
            )
            figures = f"{seconds * 1000:.0f} | {batch / seconds:.1f}"
        except torch.OutOfMemoryError:
            figures, _ = "OOM | -", torch.cuda.empty_cache()
        print(f"| {budget} | {shape[0]}x{shape[1]} | {batch} | {checkpointing} | {figures} |")
    if "full" in budgets and not args.quick:
        fine, coarse = grids[-1], grids[0]
        bf16 = max(
            best.get(("full", fine, "bf16"), 0.0), best.get(("full", fine, "bf16+compile"), 0.0)
        )
        fp32 = best.get(("full", fine, "float32"), 0.0)
        if peak_tflops:
            achieved = bf16 * steps * network_flops(budget_model(budget="full"), fine) / 1e12
            report(
                achieved >= 0.3 * peak_tflops,
                f"goal: full bf16 at {fine} runs at {100 * achieved / peak_tflops:.0f}% of the bf16 peak (>= 30%)",
                [],
            )
        report(
            fp32 > 0 and bf16 >= 1.5 * fp32,
            f"goal: full bf16 at {fine} is {bf16 / max(fp32, 1e-9):.2f}x float32 (>= 1.5x)",
            [],
        )
        rate = max(best.get(("full", coarse, m), 0.0) for m in modes)
        report(
            rate > 0 and 64 / rate < 10,
            f"goal: 64 members at {coarse}, 32 evaluations each, in {64 / max(rate, 1e-9):.1f} s (< 10 s)",
            [],
        )
    if failures:
        print(f"{len(failures)} correctness check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
