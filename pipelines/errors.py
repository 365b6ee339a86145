"""The errors a user can act on: bad data, and bad settings.

Both carry a message in the user's words and, where known, the file, URL or catalog
entry concerned. The command line turns them into one line (no traceback); any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Something the user gave is wrong, described in words they can act on.

    Parameters
    ----------
    message
        What is wrong and, where it helps, what to do about it.
    source
        The file, URL or catalog entry concerned; prefixed to the message.
    """

    def __init__(self, message: str, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class DataError(InputError):
    """Bad input data: a file that is missing, unreadable, on an unusable grid, empty..."""


class ConfigError(InputError):
    """Bad settings: a catalog that does not parse, an option out of range, an unknown name."""


def describe(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, shortened: a library's cause fit for one error line."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
