"""Hostile Python plugin: reads the process environment and arguments on every
request and reports what it saw in ``x-env-secret`` (the value of
``PALISADE_TEST_SECRET``, or ``<absent>``), ``x-env-count`` and ``x-args-count``.
Python reads its environment once, at start-up, which componentize-py runs at build
time: the component must carry none of the builder's variables, and none of the
host's can reach it."""

import os
import sys

from palisade_sdk import Decision, Plugin, export


class ReadEnv(Plugin):
    def on_request(self, call, metadata):
        metadata.set("x-env-secret", os.environ.get("PALISADE_TEST_SECRET", "<absent>"))
        metadata.set("x-env-count", str(len(os.environ)))
        metadata.set("x-args-count", str(len(sys.argv)))
        metadata.set("x-served-by", "read-env")
        return Decision.CONTINUE


Interceptor = export(ReadEnv)
