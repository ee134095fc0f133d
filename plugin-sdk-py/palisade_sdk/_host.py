"""The host's side of the contract: the bindings componentize-py generated for this
plugin's world, where they exist.

A plugin's world imports only the capabilities its manifest requests (the build
writes it from ``[capabilities]``), so the bindings of the others do not exist and
the component does not import them: the host loads it with just those grants.
Outside a component (CPython running the plugin's unit tests) no bindings exist at
all, and every host call raises :class:`HostUnavailable`.
"""

import importlib


class HostUnavailable(RuntimeError):
    """A host call that cannot be made: outside a component, or a capability the
    plugin's manifest does not request."""


class _Missing:
    """Stands in for bindings that do not exist: any function of it raises."""

    def __init__(self, capability_name):
        self._capability = capability_name

    def __getattr__(self, function):
        raise unavailable(self._capability, f"{self._capability}.{function}")


def _bindings(name):
    try:
        return importlib.import_module("wit_world.imports." + name)
    except ImportError:
        return _Missing(name)


# Imported once, when the module is first imported: componentize-py runs that at
# build time and snapshots the result, so a hook pays nothing for it.
call = _bindings("call")
metadata = _bindings("metadata")
types = _bindings("types")
IN_COMPONENT = not isinstance(call, _Missing)


def capability(name):
    """The bindings of capability ``name``; where they do not exist, a stand-in whose
    every function raises :class:`HostUnavailable` saying why."""
    return _bindings(name)


def unavailable(capability_name, function):
    """The error for calling ``function`` of ``capability_name`` without its bindings."""
    if IN_COMPONENT:
        return HostUnavailable(
            f"{function}: capability `{capability_name}` is not in this plugin's manifest; "
            f"add `{capability_name} = {{}}` under [capabilities] in manifest.toml and rebuild "
            "(the operator must grant it too)"
        )
    return HostUnavailable(
        f"{function}: no host outside a component (only the plugin's pure logic runs "
        "under CPython); test host calls against the real host"
    )
