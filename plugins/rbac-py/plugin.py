"""Example Palisade plugin in Python: default-deny access control, the twin of
``plugins/rbac`` (Rust). Same rules, same messages, same tests.

Each rule of the ``rules`` config key reads ``allow <identity> <service>/<method>``;
the first rule that matches the caller's mutual-TLS identity (or ``anonymous``) and
the called method lets the call through, and every other call is refused with
``PERMISSION_DENIED``. A malformed rule refuses every call (fail closed).
Capabilities: ``config``, ``log``. See the README for the rule syntax.
"""

import re

from palisade_sdk import Code, Decision, Plugin, config, export, log

#: The identity of a caller that presented no verified identity.
ANONYMOUS = "anonymous"


class RuleError(ValueError):
    """A rule that cannot be parsed; the message says why."""


class Pattern:
    """One side of a rule: an exact string, a prefix (``foo*``) or anything (``*``)."""

    __slots__ = ("kind", "text")

    def __init__(self, kind, text=""):
        self.kind = kind
        self.text = text

    @classmethod
    def parse(cls, text, what):
        if not text:
            raise RuleError(f"empty {what} pattern")
        if text == "*":
            return cls("any")
        prefix = text.endswith("*")
        body = text[:-1] if prefix else text
        if "*" in body:
            raise RuleError(f"{what} pattern `{text}` has `*` before its end")
        return cls("prefix" if prefix else "exact", body)

    def matches(self, value):
        if self.kind == "any":
            return True
        if self.kind == "exact":
            return value == self.text
        return value.startswith(self.text)


_ANY = Pattern("any")


class Rule:
    """``allow <identity> <service>/<method>``."""

    __slots__ = ("identity", "service", "method")

    def __init__(self, identity, service, method):
        self.identity = identity
        self.service = service
        self.method = method

    @classmethod
    def parse(cls, text):
        words = text.split()
        if len(words) != 3:
            raise RuleError(f"expected `allow <identity> <service>/<method>`, got `{text}`")
        verb, identity, target = words
        if verb != "allow":
            raise RuleError(f"unknown verb `{verb}` (only `allow` exists)")
        identity = Pattern.parse(identity, "identity")
        if target == "*":
            return cls(identity, _ANY, _ANY)
        service, slash, method = target.partition("/")
        if not slash:
            raise RuleError(f"expected `<service>/<method>`, got `{target}`")
        return cls(identity, Pattern.parse(service, "service"), Pattern.parse(method, "method"))

    def allows(self, identity, service, method):
        return (
            self.identity.matches(identity)
            and self.service.matches(service)
            and self.method.matches(method)
        )


def parse_rules(text):
    """Parses a rule list: rules separated by ``;`` or newlines; blank entries and
    entries starting with ``#`` are skipped. Rules are numbered from 1 among the
    others. Raises :class:`RuleError` naming the rule."""
    entries = [e.strip() for e in re.split(r"[;\n]", text)]
    rules = []
    for number, entry in enumerate((e for e in entries if e and not e.startswith("#")), 1):
        try:
            rules.append(Rule.parse(entry))
        except RuleError as err:
            raise RuleError(f"rbac: bad rule {number}: {err}") from None
    return rules


class Rbac(Plugin):
    """The plugin: its rules, parsed once per instance."""

    def __init__(self):
        self.rules = None
        self.error = None
        try:
            self.rules = parse_rules(config.get("rules") or "")
        except RuleError as err:
            self.error = str(err)
            log.error(self.error)
            return
        if not self.rules:
            log.warn("rbac: no rules configured; every call is denied")

    def on_request(self, call, metadata):
        if self.error is not None:
            return Decision.reject(Code.FAILED_PRECONDITION, self.error)
        identity = call.peer_identity()
        if identity is None:
            identity = ANONYMOUS
        service = call.service()
        method = call.method()
        for rule in self.rules:
            if rule.allows(identity, service, method):
                return Decision.CONTINUE
        message = f"rbac: {identity} may not call {service}/{method}"
        log.info(message)
        return Decision.reject(Code.PERMISSION_DENIED, message)


Interceptor = export(Rbac)
