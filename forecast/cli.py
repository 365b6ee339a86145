"""The ``forecast`` command line: builds the parser from :mod:`forecast.commands` and
dispatches to the command's module.

Errors a user can act on (:class:`~pipelines.errors.DataError` for data,
:class:`~pipelines.errors.ConfigError` for settings) are one line and exit 2; with
``--verbose`` their traceback is shown too. Anything else is a bug and keeps its
traceback (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from pipelines.errors import InputError, describe

from .commands import COMMANDS
from .commands.options import refuse_remote_outputs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forecast",
        description=(
            "Probabilistic weather-forecast ensemble emulator. Prepare data from the catalog, "
            "train generative models, generate ensembles, score them."
        ),
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what is being done; full tracebacks"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION)
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        refuse_remote_outputs(args)
        return args.handler(args)
    except InputError as error:
        if args.verbose:
            traceback.print_exc()
        print(f"forecast {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"forecast {args.command}: interrupted; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except Exception as error:
        # A failure no check foresaw is a bug of ours: the traceback, then what to do.
        traceback.print_exc()
        print(
            f"forecast {args.command}: internal error: {describe(error)}; this is a bug in "
            "forecast, please report it with the traceback above",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
