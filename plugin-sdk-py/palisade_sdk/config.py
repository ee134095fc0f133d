"""Capability ``config``: the plugin's own operator-supplied settings, read-only.
A plugin sees only the values configured for it. Requires ``config = {}`` under
``[capabilities]``."""

from typing import List, Optional

from . import _host

_wit = _host.capability("config")


def get(key: str) -> Optional[str]:
    """The value of ``key``, if configured."""
    return _wit.get(key)


def keys() -> List[str]:
    """Every configured key."""
    return _wit.keys()
