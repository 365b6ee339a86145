"""The ``forecast`` subcommands, one module each.

Every module has ``NAME``, ``HELP``, ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status); :mod:`forecast.cli` builds the parser from them
and dispatches. A module imports its heavy dependencies inside ``run``, so ``forecast
--help`` and each command start fast.
"""

from . import generate, plot, prepare, run, score, train

COMMANDS = (prepare, train, generate, score, run, plot)

__all__ = ["COMMANDS"]
