"""The command modules: each one complete, and the parser light to load."""

import subprocess
import sys

from conftest import ROOT

from forecast.cli import build_parser
from forecast.commands import COMMANDS


def test_every_command_has_its_parts_and_a_help_text():
    names = [command.NAME for command in COMMANDS]
    assert names == ["prepare", "train", "generate", "score", "run", "plot"]
    for command in COMMANDS:
        assert command.HELP and command.DESCRIPTION and callable(command.run)
    parser = build_parser()
    for name in names:
        assert parser.parse_args([name]).handler.__module__ == f"forecast.commands.{name}"


def test_building_the_parser_loads_no_network_or_scoring_code():
    """`forecast --help` and argument errors answer at once: torch, diffusers, numba and
    the scoring kernels are imported by the command that runs, not by the parser."""
    code = (
        "import sys; from forecast.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'diffusers', 'numba', 'forecast.scoring') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
