"""The one error type the data layer raises for bad input."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data or configuration, described in words a user can act on.

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


def describe(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, shortened: a library's cause fit for one error line."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
