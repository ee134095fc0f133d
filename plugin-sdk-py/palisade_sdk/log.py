"""Capability ``log``: levelled messages into the host's log. The host cuts each
message to a size cap, rate-limits them per plugin and escapes control characters.
Requires ``log = {}`` under ``[capabilities]``."""

from . import _host

_wit = _host.capability("log")


def trace(message: str) -> None:
    """Logs ``message`` at trace level."""
    _wit.log(_wit.Level.TRACE, message)


def debug(message: str) -> None:
    """Logs ``message`` at debug level."""
    _wit.log(_wit.Level.DEBUG, message)


def info(message: str) -> None:
    """Logs ``message`` at info level."""
    _wit.log(_wit.Level.INFO, message)


def warn(message: str) -> None:
    """Logs ``message`` at warn level."""
    _wit.log(_wit.Level.WARN, message)


def error(message: str) -> None:
    """Logs ``message`` at error level."""
    _wit.log(_wit.Level.ERROR, message)
