"""Capability ``kv``: a small key-value store private to this plugin and shared by
all its instances, with a byte quota. Requires ``kv = { quota_bytes = N }`` under
``[capabilities]``."""

from typing import Optional

from . import _host

_wit = _host.capability("kv")

try:
    from componentize_py_types import Err as _Err
except ImportError:  # outside a component: nothing raises it

    class _Err(Exception):
        pass


class KvError(Exception):
    """Why a write was refused. ``name`` is the contract's: ``quota-exceeded`` or
    ``too-large``."""

    _TEXT = {
        "quota-exceeded": "kv quota exceeded",
        "too-large": "kv key or value too large",
    }

    def __init__(self, name: str):
        self.name = name
        super().__init__(self._TEXT.get(name, name))


def _error(err) -> KvError:
    return KvError(err.value.name.lower().replace("_", "-"))


def get(key: str) -> Optional[bytes]:
    """The value of ``key``."""
    return _wit.get(key)


def set(key: str, value: bytes) -> None:
    """Stores ``value`` under ``key``; raises :class:`KvError` when refused."""
    try:
        _wit.set(key, bytes(value))
    except _Err as err:
        raise _error(err) from None


def delete(key: str) -> bool:
    """Removes ``key``; true when it was there."""
    return _wit.delete(key)


def compare_and_swap(key: str, expected: Optional[bytes], new: bytes) -> bool:
    """Stores ``new`` only if the current value equals ``expected`` (``None`` means
    absent); returns whether it stored. Instances run concurrently: use this for
    read-modify-write. Raises :class:`KvError` when refused."""
    try:
        return _wit.compare_and_swap(key, None if expected is None else bytes(expected), bytes(new))
    except _Err as err:
        raise _error(err) from None
