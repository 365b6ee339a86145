"""Real scale on a laptop: prepare a 0.25-degree reanalysis, train and generate from a 20 GB store.

    scripts/in-env python benchmarks/real_scale.py --out /tmp/real-scale

1. ``prepare``: a synthetic ERA5-like 0.25-degree (721 x 1440, poles included) reanalysis
   of one year (366 daily fields, z500 and t500; 3 GB of float32 in a zarr source), then
   `forecast prepare` of it under ``/usr/bin/time -v``: peak RSS, wall time.
2. ``forecast``: a synthetic prepared 1-degree (181 x 360) forecast store of ``--inits``
   daily init times x 10 daily lead times x 5 members x 4 variables (400 inits: 20.9 GB of
   members), made by `forecast prepare`'s own writer from lazily drawn random fields (the
   source is never on disk). Then, each in its own process: `forecast train --read stream
   --workers 2` for ``--steps`` steps, `forecast generate` for 3 init times, peak RSS
   (largest process and whole process tree); and the loader alone (2 workers) against the
   training step, and its MB/s against a plain zarr read of the same chunks.

The parts are kept in ``--out`` and skipped when done: delete a folder to measure again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import dask.array as dask_array
import numpy as np
import pandas as pd
import xarray as xr
from streaming_training import loader_speed, timed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_fields(
    shape: tuple[int, ...], chunks: tuple[int, ...], mean: float, std: float, seed: int
):
    """Lazily drawn N(mean, std^2) float32 fields, the same for the same seed and chunks."""
    draws = dask_array.random.default_rng(seed).standard_normal(shape, chunks=chunks)
    return (mean + std * draws).astype(np.float32)


def quarter_degree_source(path: Path, days: int) -> None:
    """An ERA5-like zarr: latitude descending with poles, longitude -180..180, one level."""
    lat, lon = np.linspace(90, -90, 721), np.linspace(-180, 180, 1440, endpoint=False)
    shape, chunks = (days, 1, lat.size, lon.size), (1, 1, lat.size, lon.size)
    coords = {
        "time": pd.date_range("2021-01-01", periods=days, freq="D"),
        "level": [500],
        "latitude": lat,
        "longitude": lon,
    }
    dims = ("time", "level", "latitude", "longitude")
    ds = xr.Dataset(
        {
            "geopotential": (
                dims,
                synthetic_fields(shape, chunks, 5.5e4, 500.0, 0),
                {"units": "m**2 s**-2"},
            ),
            "temperature": (dims, synthetic_fields(shape, chunks, 260.0, 5.0, 1), {"units": "K"}),
        },
        coords=coords,
    )
    ds.to_zarr(path, mode="w", zarr_format=3, consolidated=False)


def measure_prepare(out: Path, days: int) -> dict:
    folder = out / "prepare"
    result_file = folder / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "era5-quarter.zarr"
    if not source.exists():
        quarter_degree_source(source, days)
    (folder / "catalog.yaml").write_text(
        "era5:\n  role: reanalysis\n  format: zarr\n  path: era5-quarter.zarr\n"
        "  variables: [z500, t500]\n"
    )
    result = timed(
        [
            "prepare",
            "era5",
            "--catalog",
            str(folder / "catalog.yaml"),
            "--out",
            str(folder / "prepared"),
            "-q",
        ]
    )
    result["store_gb"] = _size(folder / "prepared" / "era5.zarr") / 1e9
    result_file.write_text(json.dumps(result))
    return result


def forecast_store(out: Path, inits: int) -> Path:
    """The 1-degree store, written by `forecast prepare`'s writer from lazy random sources."""
    import pipelines.prepare as prepare_module
    from pipelines import load_catalog

    store = out / "prepared" / "ens.zarr"
    if store.exists():
        return store
    out.mkdir(parents=True, exist_ok=True)
    lat, lon = np.linspace(-90, 90, 181), np.linspace(0, 360, 360, endpoint=False)
    starts = pd.date_range("2020-01-01", periods=inits, freq="D")
    leads = pd.to_timedelta(np.arange(1, 11), unit="D")
    times = pd.date_range(starts[0], starts[-1] + leads[-1], freq="D")
    variables = {
        "z500": (5.5e4, 500.0),
        "t850": (270.0, 5.0),
        "u850": (0.0, 8.0),
        "v850": (0.0, 8.0),
    }

    def open_entry(entry, progress=True):
        if entry.role == "reanalysis":
            shape, chunks = (times.size, lat.size, lon.size), (1, lat.size, lon.size)
            dims, coords = ("time", "lat", "lon"), {"time": times, "lat": lat, "lon": lon}
        else:
            shape = (starts.size, leads.size, 5, lat.size, lon.size)
            chunks = (1, 1, 5, lat.size, lon.size)
            dims = ("init_time", "lead_time", "member", "lat", "lon")
            coords = {
                "init_time": starts,
                "lead_time": leads,
                "member": np.arange(5),
                "lat": lat,
                "lon": lon,
            }
        offset = 0 if entry.role == "reanalysis" else 10
        return xr.Dataset(
            {
                name: (dims, synthetic_fields(shape, chunks, mean, std, offset + i))
                for i, (name, (mean, std)) in enumerate(variables.items())
            },
            coords=coords,
            attrs={"entry": entry.name, "role": entry.role, "source": "synthetic"},
        )

    (out / "catalog.yaml").write_text(
        "rean:\n  role: reanalysis\n  format: zarr\n  path: nowhere.zarr\n"
        "ens:\n  role: ensemble_forecast\n  format: zarr\n  path: nowhere.zarr\n  truth: rean\n"
    )
    prepare_module.open_entry = open_entry
    return prepare_module.prepare_entry("ens", load_catalog(out / "catalog.yaml"), out / "prepared")


def measure_forecast(out: Path, inits: int, steps: int) -> dict:
    folder = out / "forecast"
    result_file = folder / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    store = forecast_store(folder, inits)
    result = {"store_gb": _size(store) / 1e9, "members_gb": _size(store, "") / 1e9}
    print(f"store {store}: {result['store_gb']:.1f} GB on disk", flush=True)
    checkpoint = folder / "checkpoint"
    result["train"] = timed([
        "train", "--data", str(store), "--out", str(checkpoint), "--budget", "quick",
        "--batch-size", "2", "--steps", str(steps), "--read", "stream", "--workers", "2", "-q",
    ])  # fmt: skip
    print("train", result["train"], flush=True)
    result["generate"] = timed([
        "generate", "--checkpoint", str(checkpoint), "--from", str(store), "--init", "0,1,2",
        "--leads", "24h,120h", "--members", "8", "--steps", "8", "--out", str(folder / "generated"),
        "-q",
    ])  # fmt: skip
    print("generate", result["generate"], flush=True)
    result["loader"] = loader_speed(store, 12, batch_size=2)
    result_file.write_text(json.dumps(result))
    return result


def _size(path: Path, group: str | None = None) -> int:
    """Bytes on disk under ``path``; with ``group=""`` only the root group's arrays."""
    files = [f for f in path.rglob("*") if f.is_file()]
    if group == "":
        groups = {"truth", "climatology", "stats"}
        files = [f for f in files if f.relative_to(path).parts[0] not in groups]
    return sum(f.stat().st_size for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("runs/real-scale"))
    parser.add_argument("--parts", default="prepare,forecast")
    parser.add_argument("--days", type=int, default=366, help="days of 0.25-degree reanalysis")
    parser.add_argument("--inits", type=int, default=400, help="init times of the forecast store")
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    args = parser.parse_args()
    if "prepare" in args.parts:
        print("prepare:", measure_prepare(args.out, args.days), flush=True)
    if "forecast" in args.parts:
        print("forecast:", measure_forecast(args.out, args.inits, args.steps), flush=True)


if __name__ == "__main__":
    main()
