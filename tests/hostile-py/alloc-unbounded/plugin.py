"""Hostile Python plugin: allocates 1 MiB blocks without bound on a request with
``x-attack``, keeping every one."""

from palisade_sdk import Decision, Plugin, export


class AllocUnbounded(Plugin):
    def on_request(self, call, metadata):
        if metadata.contains("x-attack"):
            blocks = []
            while True:
                blocks.append(bytearray(1 << 20))
        metadata.set("x-served-by", "alloc-unbounded")
        return Decision.CONTINUE


Interceptor = export(AllocUnbounded)
