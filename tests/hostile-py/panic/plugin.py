"""Hostile Python plugin: ``x-attack: raise`` raises an exception out of the hook;
``x-attack: exit`` calls ``sys.exit(3)``."""

import sys

from palisade_sdk import Decision, Plugin, export


class Panic(Plugin):
    def on_request(self, call, metadata):
        how = metadata.get("x-attack")
        if how == "raise":
            raise RuntimeError("the plugin gave up")
        if how == "exit":
            sys.exit(3)
        metadata.set("x-served-by", "panic")
        return Decision.CONTINUE


Interceptor = export(Panic)
