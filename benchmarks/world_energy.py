"""Energy and enstrophy of the world's truth run over time: steady, no drift, no blow-up.

Area-mean kinetic energy (u^2 + v^2)/2, enstrophy vo^2/2 and eddy geopotential variance
of the truth, one line per independent segment, as a PNG and as a per-segment summary
(first-half and second-half means). Uses the cached world (builds it if needed).

    scripts/in-env python benchmarks/world_energy.py --profile default --out benchmarks/world_energy.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from forecast.scoring.regions import area_weights
from pipelines.store import open_complete
from pipelines.world import PROFILES, WorldSettings, build_world


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="default", choices=sorted(PROFILES))
    parser.add_argument("--cache", type=Path, default=Path("data/world"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "world_energy.png")
    args = parser.parse_args()
    folder = build_world(WorldSettings(profile=args.profile), args.cache)
    truth = open_complete(folder / "truth.zarr").load()
    weights = area_weights(truth)

    def mean(da):
        return da.weighted(weights).mean(["lat", "lon"]).values

    series = {
        "kinetic energy (J/kg)": mean(0.5 * (truth.u500**2 + truth.v500**2)),
        "enstrophy (1e-11 s-2)": mean(0.5 * truth.vo500**2) * 1e11,
        "eddy z500 variance (1e4 m4 s-4)": mean((truth.z500 - truth.z500.mean("lon")) ** 2) / 1e4,
    }
    profile = PROFILES[args.profile]
    per_segment = profile.segment_days * 24 // profile.output_hours
    days = np.arange(per_segment) * profile.output_hours / 24
    figure, axes = plt.subplots(len(series), 1, figsize=(8, 7), sharex=True)
    for axis, (name, values) in zip(axes, series.items(), strict=True):
        segments = values.reshape(profile.segments, per_segment)
        for index, segment in enumerate(segments):
            axis.plot(days, segment, lw=1, label=f"segment {index}")
            half = per_segment // 2
            print(
                f"{name:34s} segment {index}: {segment[:half].mean():9.3f} -> {segment[half:].mean():9.3f}"
            )
        axis.set_ylabel(name, fontsize=8)
        axis.set_ylim(0, None)
    axes[0].legend(fontsize=7, ncol=profile.segments)
    axes[-1].set_xlabel("days after spin-up")
    figure.suptitle(
        f"World truth run ({args.profile} profile, {profile.nlat}x{profile.nlon}): steady after spin-up"
    )
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=90)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
