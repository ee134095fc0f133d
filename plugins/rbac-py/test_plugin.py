"""The rule parser's unit tests, the twins of ``plugins/rbac``'s, run by CPython
outside any component (``python3 -m unittest`` in this directory; the integration
test ``python::rbac_py_unit_tests`` runs them). What touches the host is tested
against the real host, in ``tests/all/plugins.rs``, with the Rust rbac's cases."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugin-sdk-py"))

from plugin import ANONYMOUS, RuleError, parse_rules  # noqa: E402


def allowed(rules, identity, service, method):
    return any(rule.allows(identity, service, method) for rule in parse_rules(rules))


class Rules(unittest.TestCase):
    def test_exact_prefix_and_any(self):
        rules = (
            "allow spiffe://prod/orders orders.v1.Orders/Get*; "
            "allow spiffe://prod/* grpc.health.v1.Health/Check\n"
            "allow admin * "
        )
        self.assertTrue(allowed(rules, "spiffe://prod/orders", "orders.v1.Orders", "GetOrder"))
        self.assertFalse(allowed(rules, "spiffe://prod/orders", "orders.v1.Orders", "Create"))
        self.assertFalse(allowed(rules, "spiffe://prod/orders2", "orders.v1.Orders", "GetOrder"))
        self.assertTrue(allowed(rules, "spiffe://prod/billing", "grpc.health.v1.Health", "Check"))
        self.assertFalse(allowed(rules, "spiffe://dev/billing", "grpc.health.v1.Health", "Check"))
        self.assertTrue(allowed(rules, "admin", "anything.Else", "Delete"))
        self.assertFalse(allowed(rules, ANONYMOUS, "orders.v1.Orders", "GetOrder"))

    def test_service_prefix_and_wildcard_identity(self):
        rules = "allow * orders.*/List*"
        self.assertTrue(allowed(rules, ANONYMOUS, "orders.v1.Orders", "ListOrders"))
        self.assertFalse(allowed(rules, ANONYMOUS, "billing.v1.Billing", "ListOrders"))

    def test_blank_entries_and_comments_are_skipped(self):
        self.assertEqual(len(parse_rules("\n ; # a comment\nallow a b/c;;\n")), 1)
        self.assertEqual(parse_rules(""), [])

    def test_malformed_rules_name_their_number(self):
        for text, expect in [
            ("allow a b/c; deny a b/c", "rbac: bad rule 2: unknown verb"),
            ("allow a b/c\nallow a", "rbac: bad rule 2: expected `allow"),
            ("allow a b/c d", "rbac: bad rule 1: expected `allow"),
            ("allow a orders", "rbac: bad rule 1: expected `<service>/<method>`"),
            ("allow a*b c/d", "rbac: bad rule 1: identity pattern"),
            ("allow a c/", "rbac: bad rule 1: empty method pattern"),
            ("allow a /d", "rbac: bad rule 1: empty service pattern"),
        ]:
            with self.assertRaises(RuleError, msg=text) as caught:
                parse_rules(text)
            self.assertTrue(str(caught.exception).startswith(expect), f"{text!r}: {caught.exception}")


if __name__ == "__main__":
    unittest.main()
