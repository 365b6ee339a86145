"""Sources on object stores and web servers: ``s3://``, ``gs://``, ``http(s)://`` via fsspec.

Zarr is read chunk by chunk where it lies (only the chunks a selection needs move);
netCDF-4 through a random-access file object (only the HDF5 chunks read); GRIB, which
cfgrib reads from local files only, is fetched whole once into a local cache. Per-entry
``storage_options`` in the catalog go to the filesystem (anonymous access, endpoint URL,
region, retries); credentials come from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``GOOGLE_APPLICATION_CREDENTIALS``...), never from the
catalog. The filesystems are the optional extra ``forecast[cloud]``.

Outputs are written locally only: a store's guarantees (resume after a kill, a
completion record written last, one writer at a time) rest on a local filesystem's
atomic rename and ``flock``, which object stores do not have.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError, describe

# protocol -> the packages of the extra that serve it
FILESYSTEMS = {
    "s3": ("s3fs",),
    "s3a": ("s3fs",),
    "gs": ("gcsfs",),
    "gcs": ("gcsfs",),
    "http": ("aiohttp",),
    "https": ("aiohttp",),
}
# storage options that hold secrets: they belong in the environment, not in a catalog file
SECRET_OPTIONS = {
    "key",
    "secret",
    "password",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "session_token",
    "client_secret",
    "private_key",
}
PUBLIC_TOKENS = {"anon", "google_default", "cloud", "browser", "cache"}  # gcsfs's token modes


def cache_folder() -> Path:
    """Where remote GRIB files are kept: $FORECAST_REMOTE_CACHE, else ~/.cache/forecast/remote."""
    default = Path.home() / ".cache" / "forecast" / "remote"
    return Path(os.environ.get("FORECAST_REMOTE_CACHE", default))


def is_url(path: str | os.PathLike[str]) -> bool:
    return "://" in str(path)


def protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def check_storage_options(options: Any, where: str) -> dict[str, Any]:
    """The catalog's ``storage_options``, refused where they would hold a secret."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ConfigError("'storage_options' is a mapping of fsspec filesystem options", where)

    def secrets(mapping: dict, prefix: str = "") -> list[str]:
        found = []
        for name, value in mapping.items():
            if isinstance(value, dict):
                found += secrets(value, f"{prefix}{name}.")
            elif str(name).lower() in SECRET_OPTIONS or (
                str(name).lower() == "token" and str(value) not in PUBLIC_TOKENS
            ):
                found.append(prefix + str(name))
        return found

    if found := secrets(options):
        raise ConfigError(
            f"storage_options {found} would keep credentials in the catalog file in plain "
            "text; set them in the environment instead (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or GOOGLE_APPLICATION_CREDENTIALS)",
            where,
        )
    return dict(options)


def require_package(name: str, url: str) -> None:
    """A clear error when a package of the cloud extra is not installed."""
    if importlib.util.find_spec(name) is None:
        raise DataError(f"reading it needs {name}: pip install 'forecast[cloud]'", url)


def require_filesystem(url: str) -> None:
    """A clear error when the package that reads ``url``'s protocol is not installed."""
    needed = FILESYSTEMS.get(protocol(url))
    if needed is None:
        import fsspec

        if protocol(url) not in fsspec.available_protocols():
            raise DataError(
                f"unknown protocol {protocol(url)!r}; use s3://, gs:// or https://", url
            )
        return
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise DataError(
            f"reading {protocol(url)}:// needs {', '.join(missing)}: pip install 'forecast[cloud]'",
            url,
        )


def filesystem(url: str, storage_options: dict[str, Any]):
    """The fsspec filesystem of ``url`` with the entry's options."""
    import fsspec

    require_filesystem(url)
    return fsspec.filesystem(protocol(url), **storage_options)


def expand(url: str, storage_options: dict[str, Any]) -> list[str]:
    """The objects a URL names (a glob's matches, sorted), each checked to exist."""
    fs = filesystem(url, storage_options)
    with reading(url):
        if any(c in url.split("://", 1)[1] for c in "*?["):
            found = sorted(fs.glob(url))
            return [f"{protocol(url)}://{p}" if not is_url(p) else p for p in found]
        if not fs.exists(url):
            raise DataError("no such object (check 'path' in the catalog)", url)
    return [url]


def open_file(url: str, storage_options: dict[str, Any]):
    """A random-access binary file object of a remote object (read by ranges)."""
    import fsspec

    require_filesystem(url)
    with reading(url):
        return fsspec.open(url, mode="rb", **storage_options).open()


def local_copy(url: str, storage_options: dict[str, Any]) -> str:
    """A local copy of a remote object, fetched once into :func:`cache_folder` (kept by
    URL and the object's size and modification tag: a changed object is fetched again)."""
    fs = filesystem(url, storage_options)
    with reading(url):
        info = fs.info(url)
        tag = str(info.get("ETag") or info.get("etag") or info.get("mtime") or "")
        digest = hashlib.sha256(f"{url}\n{info.get('size')}\n{tag}".encode()).hexdigest()[:16]
        target = cache_folder() / digest / Path(url.split("://", 1)[1]).name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + f".partial{os.getpid()}")
            try:
                fs.get(url, str(partial))
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    return str(target)


def network_errors() -> tuple[type[BaseException], ...]:
    """What reading from a server raises when the connection drops or an object is missing."""
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    try:
        import aiohttp

        errors.append(aiohttp.ClientError)
    except ImportError:
        pass
    try:
        import botocore.exceptions

        errors += [botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError]
    except ImportError:
        pass
    try:
        from fsspec.exceptions import FSTimeoutError

        errors.append(FSTimeoutError)
    except ImportError:
        pass
    return tuple(errors)


@contextmanager
def reading(url: str) -> Iterator[None]:
    """Turn a dropped connection, a refused one or a missing object while reading from
    ``url`` into one :class:`DataError` naming it."""
    try:
        yield
    except DataError:
        raise
    except network_errors() as error:
        raise DataError(f"reading failed ({describe(error)})", url) from None


def refuse_remote_output(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """``path`` as a local Path; a URL is refused (see the module docstring for why)."""
    if is_url(path):
        raise ConfigError(
            f"{option} {path} is an object store or web URL; forecast writes its outputs "
            "locally (resuming after a kill, the completion record and the one-writer lock "
            "need a local filesystem's rename and flock): write to a local path and copy the "
            "result afterwards (e.g. aws s3 sync, gsutil -m rsync)"
        )
    return Path(path)
