"""Hostile Python plugin: on a request with ``x-attack``, reads ``/etc/passwd`` and
lists ``/``, and would report ``x-file`` and ``x-dir`` (``read N bytes`` / the names,
or ``error: ...``). The component imports no file system: the build stubs out WASI,
and the stub traps, so the call fails before anything is read or reported."""

import os

from palisade_sdk import Decision, Plugin, export


def attempt(action):
    try:
        return action()
    except Exception as err:  # the attack reports whatever stops it
        return f"error: {type(err).__name__}: {err}"


class ReadFile(Plugin):
    def on_request(self, call, metadata):
        if metadata.contains("x-attack"):

            def read():
                with open("/etc/passwd", "rb") as f:
                    return f"read {len(f.read())} bytes"

            metadata.set("x-file", attempt(read))
            metadata.set("x-dir", attempt(lambda: ",".join(os.listdir("/"))))
        metadata.set("x-served-by", "read-file")
        return Decision.CONTINUE


Interceptor = export(ReadFile)
