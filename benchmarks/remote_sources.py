"""What moves when `forecast prepare` reads a remote reanalysis, and how fast.

    scripts/in-env python benchmarks/remote_sources.py --years 3

A WeatherBench2-layout store (consolidated zarr v2; geopotential and temperature on time,
level, latitude, longitude; 6-hourly; latitude descending with poles; one chunk per day
holding both levels, as WB2's stores chunk by time) of several years is served by an
S3-compatible server (moto, 127.0.0.1) and by a plain web server over the same folder.
From each: `forecast prepare` of one month of one variable (bytes the server sent, against
the store's size; wall time), and a read of one year of geopotential (MB/s of chunk bytes
moved) against the local disk. The servers run in this process
(tests/object_servers.py), so their CPU time counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from object_servers import S3_ENVIRONMENT, environment, http_server, s3_server, upload  # noqa: E402

from forecast.cli import main as forecast  # noqa: E402


def wb2_store(path: Path, years: int, n_lat: int, n_lon: int) -> int:
    """Write the store; return its size in bytes."""
    times = pd.date_range("2018-01-01", periods=years * 365 * 4, freq="6h")
    lat = np.linspace(90, -90, n_lat)
    lon = np.linspace(0, 360, n_lon, endpoint=False)
    level = np.array([500, 850])
    rng = np.random.default_rng(0)
    dims = ("time", "level", "latitude", "longitude")
    shape = (times.size, level.size, n_lat, n_lon)
    # smooth fields (compressible like real ones) plus noise
    base = np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(lon))[None, :]
    data = {
        "geopotential": 5.5e4 + 2e3 * base + 50 * rng.standard_normal(shape, dtype="f4"),
        "temperature": 260 + 20 * base + 0.5 * rng.standard_normal(shape, dtype="f4"),
    }
    ds = xr.Dataset(
        {
            name: (dims, values.astype("f4"), {"units": units})
            for (name, values), units in zip(data.items(), ("m**2 s**-2", "K"), strict=True)
        },
        coords={"time": times, "level": level, "latitude": lat, "longitude": lon},
    )
    encoding = {name: {"chunks": (4, 2, n_lat, n_lon)} for name in data}
    ds.to_zarr(path, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def prepare_month(url: str, options: str, out: Path, year: int) -> float:
    catalog = out / "catalog.yaml"
    out.mkdir(parents=True, exist_ok=True)
    catalog.write_text(
        f"month:\n  role: reanalysis\n  format: zarr\n  path: {url}\n{options}"
        "  variables: {z500: geopotential}\n  levels: [500]\n"
        f"  time: {{start: {year}-01-01, end: {year}-01-31T18:00}}\n"
    )
    start = time.perf_counter()
    args = ["prepare", "month", "--catalog", str(catalog), "--out", str(out), "-q"]
    code = forecast([*args, "--scheduler", "threads"])  # the transfer, not a cluster start
    assert code == 0, code
    return time.perf_counter() - start


def read_year(url: str, storage_options: dict | None, year: int) -> float:
    start = time.perf_counter()
    store = xr.open_zarr(url, storage_options=storage_options)
    store["geopotential"].sel(time=str(year)).load()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--lat", type=int, default=65)
    parser.add_argument("--lon", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None, help="also write report.json here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "era5.zarr"
        size = wb2_store(store, args.years, args.lat, args.lon)
        month = 31 * 4 * args.lat * args.lon * 4  # bytes of one month of z500, uncompressed
        year = 2018 + args.years // 2
        chunk_day = pd.date_range("2018-01-01", periods=args.years * 365, freq="D")
        year_bytes = sum(
            (store / "geopotential" / f"{day}.0.0.0").stat().st_size
            for day in np.flatnonzero(chunk_day.year == year)
        )
        print(f"store: {args.years} years, {args.lat}x{args.lon}, {size / 2**20:.1f} MB on disk")
        report: dict = {"years": args.years, "grid": [args.lat, args.lon], "store_bytes": size}
        with environment(S3_ENVIRONMENT), s3_server() as s3, http_server(folder) as web:
            start = time.perf_counter()
            upload(s3.url, store, "era5/era5.zarr")
            print(f"upload to the S3 server: {time.perf_counter() - start:.0f} s")
            sources = {
                "local disk": (str(store), "", None, None),
                "S3 server": (
                    "s3://era5/era5.zarr",
                    f"  storage_options: {{endpoint_url: '{s3.url}'}}\n",
                    {"endpoint_url": s3.url},
                    s3,
                ),
                "web server": (f"{web.url}/era5.zarr", "", None, web),
            }
            # untimed: the first prepare of a process pays for imports and compilation
            prepare_month(str(store), "", folder / "warm-up", year)
            for name, (url, options, storage, server) in sources.items():
                before = server.sent if server else 0
                seconds = prepare_month(
                    url, options, folder / f"out-{name.replace(' ', '-')}", year
                )
                fetched = server.sent - before if server else None
                before = server.sent if server else 0
                whole = read_year(url, storage, year)
                read = server.sent - before if server else year_bytes
                row = {
                    "prepare_month_s": seconds,
                    "prepare_month_fetched_bytes": fetched,
                    "read_year_s": whole,
                    "read_year_bytes": read,
                    "read_year_mb_per_s": read / 2**20 / whole,
                }
                report[name] = row
                moved = (
                    f"fetched {fetched / 2**20:.2f} MB = {fetched / size:.2%} of the store "
                    f"(the month of z500: {month / 2**20:.2f} MB uncompressed)"
                    if fetched is not None
                    else "(local)"
                )
                print(
                    f"{name:10s}: prepare one month of z500 {seconds:5.1f} s, {moved}; "
                    f"a year of geopotential {read / 2**20:.0f} MB in {whole:5.1f} s = "
                    f"{row['read_year_mb_per_s']:.1f} MB/s"
                )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
