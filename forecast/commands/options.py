"""Options and defaults shared by several commands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_OUT = Path("data/prepared")  # where `forecast prepare` writes its stores
DEFAULT_RUN = Path("runs/world")  # where `forecast run` writes its run folder


class RemoteOutput(str):
    """An output given as a URL: refused, in one error line, before the command runs
    (see :func:`pipelines.remote.refuse_remote_output`)."""


def output_path(text: str) -> Path | RemoteOutput:
    """The ``type`` of every output option: a local Path, or a URL kept whole to be refused
    (``Path`` would fold ``s3://b`` into ``s3:/b``)."""
    return RemoteOutput(text) if "://" in text else Path(text)


def refuse_remote_outputs(args: argparse.Namespace) -> None:
    from pipelines.remote import refuse_remote_output

    for name, value in vars(args).items():
        if isinstance(value, RemoteOutput):
            refuse_remote_output(value, "--" + name.replace("_", "-"))


def add_catalog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="catalog file naming the datasets (default: data_catalog.yaml at the repository root)",
    )


def add_scheduler(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="where dask computes: a dask.distributed scheduler address (tcp://host:8786), "
        "'local' (a local cluster sized to this machine, workers limited to 80%% of its RAM) "
        "or 'threads' (no cluster) (default: $FORECAST_SCHEDULER, else threads for local "
        "inputs under 1 GiB and local for larger or remote ones)",
    )


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda")


def add_quiet(parser: argparse.ArgumentParser, what: str = "no progress bar") -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=what)


def first_process() -> bool:
    """False in the other processes of a torchrun job: one summary line, not one per rank."""
    return os.environ.get("RANK", "0") == "0"
