"""Capability ``crypto``: operations with host-held keys, named by the operator.
Key bytes never cross into the plugin. Requires ``crypto = { keys = { ... } }`` under
``[capabilities]``."""

from . import _host

_wit = _host.capability("crypto")

try:
    from componentize_py_types import Err as _Err
except ImportError:  # outside a component: nothing raises it

    class _Err(Exception):
        pass


class CryptoError(Exception):
    """Why an operation was refused. ``name`` is the contract's: ``unknown-key``,
    ``wrong-key-kind`` or ``not-permitted``."""

    _TEXT = {
        "unknown-key": "no key of that name was granted",
        "wrong-key-kind": "the key is of another kind",
        "not-permitted": "the key is granted for verifying only",
    }

    def __init__(self, name: str):
        self.name = name
        super().__init__(self._TEXT.get(name, name))


def _run(function, *args):
    try:
        return function(*args)
    except _Err as err:
        raise CryptoError(err.value.name.lower().replace("_", "-")) from None


def hmac_sha256(key: str, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data`` under key ``key``."""
    return _run(_wit.hmac_sha256, key, bytes(data))


def hmac_sha256_verify(key: str, data: bytes, tag: bytes) -> bool:
    """Constant-time check of an HMAC-SHA256 tag."""
    return _run(_wit.hmac_sha256_verify, key, bytes(data), bytes(tag))


def ed25519_sign(key: str, data: bytes) -> bytes:
    """Ed25519 signature of ``data`` with key ``key``."""
    return _run(_wit.ed25519_sign, key, bytes(data))


def ed25519_verify(key: str, data: bytes, signature: bytes) -> bool:
    """Checks an Ed25519 signature against key ``key``'s public half."""
    return _run(_wit.ed25519_verify, key, bytes(data), bytes(signature))
