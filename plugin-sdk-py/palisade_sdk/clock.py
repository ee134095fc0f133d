"""Capability ``clock``: time, read-only. Requires ``clock = {}`` under
``[capabilities]``. (Python's own ``time`` module has no clock in a component: the
build stubs out WASI; use these.)"""

from datetime import datetime, timezone

from . import _host

_wit = _host.capability("clock")


def now_ms() -> int:
    """Wall-clock time, milliseconds since the Unix epoch."""
    return _wit.now_ms()


def now() -> datetime:
    """Wall-clock time as an aware UTC datetime."""
    return datetime.fromtimestamp(_wit.now_ms() / 1000, tz=timezone.utc)


def monotonic_ns() -> int:
    """A monotonic clock in nanoseconds, for measuring intervals."""
    return _wit.monotonic_ns()
