"""Hostile Python plugin: spins forever on a request with ``x-attack``."""

from palisade_sdk import Decision, Plugin, export


class LoopForever(Plugin):
    def on_request(self, call, metadata):
        if metadata.contains("x-attack"):
            n = 0
            while True:
                n += 1
        metadata.set("x-served-by", "loop-forever")
        return Decision.CONTINUE


Interceptor = export(LoopForever)
