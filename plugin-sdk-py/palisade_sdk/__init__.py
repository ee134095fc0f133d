"""Write Palisade interceptor plugins in Python.

The Python twin of the Rust SDK (``plugin-sdk/``), against the same contract
(``wit/``, ``palisade:plugin@0.2.0``). A plugin is a class that derives from
:class:`Plugin` and overrides the hooks it needs; each hook reads the call through
:class:`Call` and the headers through :class:`Metadata` and returns a
:class:`Decision`. The module that holds it ends with::

    Interceptor = palisade_sdk.export(MyPlugin)

which is the name componentize-py looks for. ``palisade_build.py`` (beside this
package) turns the module into a component whose world imports exactly the
capabilities its ``manifest.toml`` requests.

The host keeps one plugin object per instance, made (with no arguments) on the first
hook the instance runs, so ``__init__`` is the place to read configuration. An
instance runs one hook at a time, and the host may throw it away at any time: state
shared between instances belongs in :mod:`palisade_sdk.kv`.

A hook that raises an exception traps, like a panic in Rust: the host fails the call
by its failure policy and makes a fresh instance for the next one.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import List, Optional, Tuple

from . import _host
from ._host import HostUnavailable

__all__ = [
    "HostUnavailable",
    "CONTRACT_VERSION",
    "Call",
    "Code",
    "Continue",
    "Decision",
    "Direction",
    "Metadata",
    "MetadataError",
    "Plugin",
    "Reject",
    "Respond",
    "export",
]

#: The version of the ``palisade:plugin`` contract (``wit/``) this SDK builds plugins for.
CONTRACT_VERSION = "0.2.0"


class Code(Enum):
    """A gRPC status code. HTTP services map them to HTTP statuses."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class Direction(Enum):
    """Which side of the call the plugin wraps."""

    CLIENT = 0
    """An outgoing call made by this service (a client interceptor)."""
    SERVER = 1
    """An incoming call served by this service (a server interceptor)."""


class Decision:
    """What a hook decided: :data:`Decision.CONTINUE`, :meth:`Decision.reject` or
    :meth:`Decision.respond`. A hook that returns ``None`` continues too."""

    __slots__ = ()

    #: Go on with the call, with whatever metadata changes the hook made.
    CONTINUE: "Continue"

    @staticmethod
    def reject(code: Code, message: str) -> "Reject":
        """Refuses the call with ``code`` and ``message`` (the host cuts the message to
        4 KiB, and may withhold it from an unverified peer)."""
        return Reject(code, message)

    @staticmethod
    def respond(code: Code, headers=(), body=b"") -> "Respond":
        """Answers the call directly: instead of the handler (from ``on_request``) or
        instead of its response (from ``on_response``). ``headers`` is an iterable of
        ``(name, value)`` pairs; ``body`` is bytes or text (sent as UTF-8). A body over
        4 MiB, or more than 64 headers or 64 KiB of them, traps the hook."""
        if isinstance(body, str):
            body = body.encode()
        return Respond(code, [(str(n), str(v)) for n, v in headers], bytes(body))


@dataclass(frozen=True, slots=True)
class Continue(Decision):
    """Go on with the call."""


@dataclass(frozen=True, slots=True)
class Reject(Decision):
    """Refuse the call."""

    code: Code
    message: str


@dataclass(frozen=True, slots=True)
class Respond(Decision):
    """Answer the call directly."""

    code: Code
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Decision.CONTINUE = Continue()


class MetadataError(Exception):
    """Why the host refused a metadata change. ``name`` is the error's name in the
    contract: ``reserved``, ``invalid-name``, ``invalid-value`` or ``limit-exceeded``."""

    _TEXT = {
        "reserved": "header name is reserved by the host",
        "invalid-name": "invalid header name",
        "invalid-value": "invalid header value",
        "limit-exceeded": "per-call metadata limit exceeded",
    }

    def __init__(self, name: str):
        self.name = name
        super().__init__(self._TEXT.get(name, name))


def _wit_error_name(err) -> str:
    """The contract's name of the enum a binding raised in ``Err``: ``invalid-name``."""
    return err.value.name.lower().replace("_", "-")


class Call:
    """The facts of the call the running hook is for: read-only. Every accessor asks
    the host, so a hook pays only for what it reads; read a value once and keep it."""

    __slots__ = ()

    def direction(self) -> Direction:
        """Client or server side."""
        return Direction(_host.call.side().value)

    def service(self) -> str:
        """The fully qualified service, e.g. ``orders.v1.Orders``."""
        return _host.call.service()

    def method(self) -> str:
        """The method name, e.g. ``Create``."""
        return _host.call.method()

    def authority(self) -> Optional[str]:
        """The ``:authority`` the call is addressed to, when known."""
        return _host.call.authority()

    def peer_identity(self) -> Optional[str]:
        """The peer identity verified by mutual TLS (URI or DNS SAN), when there is
        one. It comes from the transport: no header can set it."""
        return _host.call.peer_identity()

    def deadline(self) -> Optional[timedelta]:
        """The time left before the call's deadline, when it has one."""
        ms = _host.call.deadline_ms()
        return None if ms is None else timedelta(milliseconds=ms)

    def __repr__(self) -> str:
        # Opaque: formatting does not call the host.
        return "Call(..)"


class Metadata:
    """The running hook's metadata (gRPC metadata or HTTP headers). Names are
    case-insensitive and come back lowercase. Each method asks the host about the one
    name it gives. Changes take effect when the hook continues; a refused change
    raises :class:`MetadataError`."""

    __slots__ = ()

    def get(self, name: str) -> Optional[str]:
        """The first value of ``name``."""
        return _host.metadata.get(name)

    def contains(self, name: str) -> bool:
        """Whether ``name`` is present; copies no value (``name in metadata`` too)."""
        return _host.metadata.contains(name)

    __contains__ = contains

    def get_all(self, name: str) -> List[str]:
        """Every value of ``name``, in order."""
        return _host.metadata.get_all(name)

    def keys(self) -> List[str]:
        """The distinct names present."""
        return _host.metadata.keys()

    def set(self, name: str, value: str) -> None:
        """Replaces every value of ``name`` with ``value``."""
        try:
            _host.metadata.set(name, value)
        except _Err as err:
            raise MetadataError(_wit_error_name(err)) from None

    def append(self, name: str, value: str) -> None:
        """Adds a value to ``name``, keeping the existing ones."""
        try:
            _host.metadata.append(name, value)
        except _Err as err:
            raise MetadataError(_wit_error_name(err)) from None

    def remove(self, name: str) -> None:
        """Removes every value of ``name``."""
        try:
            _host.metadata.remove(name)
        except _Err as err:
            raise MetadataError(_wit_error_name(err)) from None

    def __repr__(self) -> str:
        return "Metadata(..)"


try:
    from componentize_py_types import Err as _Err
except ImportError:  # outside a component: nothing raises it

    class _Err(Exception):
        pass


class Plugin:
    """An interceptor: what a plugin module derives from and exports with
    :func:`export`. Both hooks default to continuing; a hook left at its default
    runs once, and then the host stops calling it."""

    def on_request(self, call: Call, metadata: Metadata) -> Optional[Decision]:
        """Runs before the call reaches the handler (server side) or leaves this
        service (client side). Changes made to ``metadata`` travel with the call if
        the hook continues."""
        _default_hook()
        return Decision.CONTINUE

    def on_response(self, call: Call, status: Code, metadata: Metadata) -> Optional[Decision]:
        """Runs on the way back, with the response's ``status`` and metadata.
        A rejection or a direct response replaces the response."""
        _default_hook()
        return Decision.CONTINUE


# Set by a hook left at its default; the export tells the host after the hook
# returns (`call.hook-unimplemented`), as the Rust SDK does.
_default_ran = False


def _default_hook() -> None:
    global _default_ran
    _default_ran = True


_CALL = Call()
_METADATA = Metadata()


def _finish(decision) -> None:
    """Hands the hook's decision to the host, as the hook returns."""
    global _default_ran
    call, types = _host.call, _host.types
    if _default_ran:
        _default_ran = False
        call.hook_unimplemented()
    if decision is None or decision.__class__ is Continue:
        return
    if decision.__class__ is Reject:
        call.reject(types.Code(decision.code.value), decision.message)
    elif decision.__class__ is Respond:
        call.respond(
            types.Reply(types.Code(decision.code.value), list(decision.headers), decision.body)
        )
    else:
        raise TypeError(
            f"a hook returns a palisade_sdk.Decision or None, not {type(decision).__name__}"
        )


def export(plugin_type):
    """Exports ``plugin_type`` (a :class:`Plugin` subclass) as this component's
    interceptor: assign the result to ``Interceptor`` at the top level of the plugin
    module. One object per instance, made with ``plugin_type()`` on the first hook."""
    if not (isinstance(plugin_type, type) and issubclass(plugin_type, Plugin)):
        raise TypeError("palisade_sdk.export takes a subclass of palisade_sdk.Plugin")
    instance = []

    def plugin():
        if not instance:
            instance.append(plugin_type())
        return instance[0]

    class Interceptor:
        """The ``palisade:plugin/interceptor`` export, made by ``palisade_sdk.export``."""

        def on_request(self) -> None:
            global _default_ran
            _default_ran = False
            _finish(plugin().on_request(_CALL, _METADATA))

        def on_response(self, status) -> None:
            global _default_ran
            _default_ran = False
            _finish(plugin().on_response(_CALL, Code(status.value), _METADATA))

    Interceptor.__qualname__ = Interceptor.__name__ = "Interceptor"
    return Interceptor
