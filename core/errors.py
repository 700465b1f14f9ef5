"""Errors a user can cause or fix; the CLI prints them as one line."""


class UserError(Exception):
    """Bad input, a missing file, a refused operation. str() is the message."""

    exit_code = 2


class BusyError(UserError):
    """Another watch287g process holds the lock."""

    exit_code = 3
