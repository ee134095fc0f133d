"""Hostile Python plugin: on a request with ``x-attack: <port>``, connects to
``127.0.0.1:<port>`` with the ``socket`` module and would report ``x-socket``
(``connected`` or ``error: ...``). The component imports no sockets: the build
stubs out WASI, and the stub traps, so the call fails before any connection."""

from palisade_sdk import Decision, Plugin, export


class OpenSocket(Plugin):
    def on_request(self, call, metadata):
        port = metadata.get("x-attack")
        if port is not None:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                    outcome = "connected"
            except Exception as err:  # the attack reports whatever stops it
                outcome = f"error: {type(err).__name__}: {err}"
            metadata.set("x-socket", outcome)
        metadata.set("x-served-by", "open-socket")
        return Decision.CONTINUE


Interceptor = export(OpenSocket)
