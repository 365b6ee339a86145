"""Prepare throughput: MB/s from GRIB (and netCDF) into a prepared zarr store, next to
the time it takes merely to decode the same input.

The GRIB input is the real ERA5 ensemble sample (tests/data), or ``--copies N`` copies of
it laid end to end in time (each copy's messages re-dated by 2 days); the netCDF input is
the same data written once to netCDF. Each figure is the best of ``--repeat`` runs.

    scripts/in-env python benchmarks/prepare_throughput.py
    scripts/in-env python benchmarks/prepare_throughput.py --copies 100 --repeat 1
    scripts/in-env python benchmarks/prepare_throughput.py --copies 60 --scheduler local
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import xarray as xr

from pipelines.catalog import Catalog, Entry
from pipelines.cluster import dask_scheduler
from pipelines.prepare import prepare_entry

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "era5-levels-members.grib"


def best_of(repeat: int, action) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def repeated_grib(copies: int, out: Path) -> Path:
    """``copies`` copies of the sample, copy k dated 2k days later (a longer record)."""
    import datetime

    import eccodes

    with open(SAMPLE, "rb") as source, open(out, "wb") as target:
        messages = []
        while (handle := eccodes.codes_grib_new_from_file(source)) is not None:
            messages.append(handle)
        for k in range(copies):
            for handle in messages:
                clone = eccodes.codes_clone(handle)
                date = datetime.datetime.strptime(
                    str(eccodes.codes_get(handle, "dataDate")), "%Y%m%d"
                ) + datetime.timedelta(days=2 * k)
                eccodes.codes_set(clone, "dataDate", int(date.strftime("%Y%m%d")))
                eccodes.codes_write(clone, target)
                eccodes.codes_release(clone)
        for handle in messages:
            eccodes.codes_release(handle)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1, help="copies of the sample in time")
    parser.add_argument(
        "--scheduler", default="threads", help="where dask computes: threads (default) or local"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "prepare_throughput.json"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="forecast-bench-prepare-"))
    grib = SAMPLE if args.copies == 1 else repeated_grib(args.copies, work / "sample.grib")
    netcdf = work / "sample.nc"
    xr.open_dataset(grib, engine="cfgrib", backend_kwargs={"indexpath": ""}).to_netcdf(netcdf)
    results = []
    for fmt, path, decode in (
        (
            "grib",
            grib,
            lambda p: xr.open_dataset(p, engine="cfgrib", backend_kwargs={"indexpath": ""}).load(),
        ),
        ("netcdf", netcdf, lambda p: xr.open_dataset(p).load()),
    ):
        megabytes = path.stat().st_size / 1e6
        entry = Entry(name=f"sample-{fmt}", role="reanalysis", format=fmt, path=str(path))
        catalog = Catalog(work / "catalog.yaml", {entry.name: entry})

        def prepare(entry=entry, catalog=catalog) -> None:
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            with dask_scheduler(args.scheduler):  # a cluster's start counts, as for a user
                prepare_entry(entry.name, catalog, out, progress=False)

        decode_s = best_of(args.repeat, lambda path=path, decode=decode: decode(path))
        prepare_s = best_of(args.repeat, prepare)
        row = {
            "format": fmt,
            "input_mb": megabytes,
            "decode_s": decode_s,
            "prepare_s": prepare_s,
            "decode_mb_s": megabytes / decode_s,
            "prepare_mb_s": megabytes / prepare_s,
            "prepare_over_decode": decode_s / prepare_s,
        }
        results.append(row)
        print(
            f"{fmt:7s} {megabytes:6.2f} MB  decode {decode_s:6.2f} s ({row['decode_mb_s']:6.2f} MB/s)  "
            f"prepare {prepare_s:6.2f} s ({row['prepare_mb_s']:6.2f} MB/s)  ratio {row['prepare_over_decode']:.2f}"
        )
    shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
