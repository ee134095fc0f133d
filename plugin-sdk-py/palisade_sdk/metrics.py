"""Capability ``metrics``: counters and histograms, named per plugin by the host.
Requires ``metrics = {}`` under ``[capabilities]``."""

from . import _host

_wit = _host.capability("metrics")


def counter_add(name: str, value: int = 1) -> None:
    """Adds ``value`` to counter ``name``."""
    _wit.counter_add(name, value)


def histogram_record(name: str, value: float) -> None:
    """Records one observation in histogram ``name``."""
    _wit.histogram_record(name, float(value))
