//! Route scoping: which calls a plugin applies to.
//!
//! A plugin may be scoped to some gRPC services or methods and some HTTP path
//! prefixes; a call to none of them never reaches it (the host decides before any
//! WebAssembly runs). The patterns:
//!
//! | pattern | applies to |
//! |---|---|
//! | `orders.v1.Orders/Create` | the gRPC method `Create` of `orders.v1.Orders` exactly |
//! | `orders.v1.Orders/*` | every method of the gRPC service `orders.v1.Orders` |
//! | `http:/admin` | plain HTTP paths `/admin` and `/admin/...` (whole segments: not `/administrator`) |
//! | `http:/admin/` | plain HTTP paths under `/admin/` (not `/admin` itself) |
//! | `http:/` | every plain HTTP path |
//!
//! gRPC names are compared byte for byte, with case: that is how gRPC servers
//! dispatch. HTTP paths are compared without regard to ASCII case, so that an
//! upstream that routes `/Admin` to `/admin` cannot be used to skip a plugin scoped
//! to `http:/admin` (a route can only make a plugin run more often by this, never
//! less). The layers refuse any path that is not canonical (dot segments, `//`,
//! needless percent-escapes, ...) before a route is matched, so a path cannot be
//! spelled to look like another one. A plugin with no routes applies to every call.

use std::fmt;

/// What a call is addressed to, as route patterns see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// A gRPC call to `/service/method`.
    Grpc {
        /// The full service name, `orders.v1.Orders`.
        service: &'a str,
        /// The method, `Create`.
        method: &'a str,
    },
    /// A plain HTTP call to `path` (without the query).
    Http {
        /// The request path, `/orders/42`.
        path: &'a str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// A gRPC service, and a method (`None`: any).
    Grpc {
        service: Box<str>,
        method: Option<Box<str>>,
    },
    /// An HTTP path prefix; one without a trailing `/` matches whole segments only.
    Http { prefix: Box<str> },
}

impl Pattern {
    fn matches(&self, route: Route<'_>) -> bool {
        match (self, route) {
            (
                Self::Grpc { service, method },
                Route::Grpc {
                    service: s,
                    method: m,
                },
            ) => **service == *s && method.as_deref().is_none_or(|method| method == m),
            // Without regard to ASCII case: a route decides when a plugin is *skipped*,
            // and an upstream that routes `/Admin` to the `/admin` handler (many
            // HTTP frameworks can) must not get that request past a plugin scoped to
            // `http:/admin`. Running a plugin on a path it was not meant for is the
            // safe mistake; skipping it is not.
            (Self::Http { prefix }, Route::Http { path }) => {
                let (path, prefix) = (path.as_bytes(), prefix.as_bytes());
                match path.get(..prefix.len()) {
                    Some(head) if head.eq_ignore_ascii_case(prefix) => {
                        let rest = &path[prefix.len()..];
                        prefix.ends_with(b"/") || rest.is_empty() || rest.starts_with(b"/")
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// The calls a plugin applies to: a set of gRPC and HTTP route patterns (see the
/// [module docs](self) for the syntax), or every call ([`Routes::all`], the
/// default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    /// As written, for audit records and messages.
    written: Vec<String>,
    patterns: Vec<Pattern>,
}

impl Routes {
    /// Every call (no scoping).
    pub fn all() -> Self {
        Self::default()
    }

    /// The calls matching any of `patterns`. An empty list is refused (it would
    /// scope the plugin to nothing: leave it out of the chain instead).
    pub fn parse<I, S>(patterns: I) -> Result<Self, RouteError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut routes = Self::default();
        for written in patterns {
            let written = written.as_ref();
            routes.patterns.push(parse_pattern(written)?);
            routes.written.push(written.to_owned());
        }
        if routes.patterns.is_empty() {
            return Err(RouteError {
                pattern: "[]".to_owned(),
                problem: "the list is empty (it would match no call); leave `routes` out for every call, or list at least one route",
            });
        }
        Ok(routes)
    }

    /// Whether this is [`Routes::all`].
    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns as written (empty for [`Routes::all`]).
    pub fn patterns(&self) -> &[String] {
        &self.written
    }

    /// Whether a call to `route` is in scope.
    pub fn matches(&self, route: Route<'_>) -> bool {
        self.is_all() || self.patterns.iter().any(|p| p.matches(route))
    }
}

/// A route pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route `{}`: {problem}", crate::Untrusted(pattern))]
#[non_exhaustive]
pub struct RouteError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it, and what to write instead.
    pub problem: &'static str,
}

/// Whether `name` is a protobuf identifier: a letter or `_`, then letters, digits, `_`.
fn is_ident(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_pattern(written: &str) -> Result<Pattern, RouteError> {
    let refuse = |problem| RouteError {
        pattern: written.to_owned(),
        problem,
    };
    if let Some(prefix) = written.strip_prefix("http:") {
        let Some(rest) = prefix.strip_prefix('/') else {
            return Err(refuse(
                "an HTTP route is `http:` and a path starting with `/`, like `http:/admin/`",
            ));
        };
        let mut segments = rest.split('/').peekable();
        while let Some(segment) = segments.next() {
            if segment.is_empty() && segments.peek().is_some() {
                return Err(refuse(
                    "the path has an empty segment (`//`); write the canonical path",
                ));
            }
            if segment == "." || segment == ".." {
                return Err(refuse(
                    "the path has a dot segment (`.` or `..`); write the canonical path",
                ));
            }
        }
        // What the layers refuse in a request path could never match; the rest is
        // compared as written, so a pattern must be spelled as requests are.
        if prefix.contains(['\\', ';', '?', '#', '*', '%'])
            || prefix.bytes().any(|b| b <= b' ' || b >= 0x7f)
        {
            return Err(refuse(
                "the path may not hold `\\`, `;`, `?`, `#`, `*`, `%`, spaces or control or non-ASCII characters; a route is a literal prefix, matched by whole segments unless it ends in `/`",
            ));
        }
        return Ok(Pattern::Http {
            prefix: prefix.into(),
        });
    }
    let Some((service, method)) = written.split_once('/') else {
        return Err(refuse(
            "a gRPC route is `package.Service/Method` or `package.Service/*`; an HTTP route starts with `http:/`",
        ));
    };
    if service.is_empty() || !service.split('.').all(is_ident) {
        return Err(refuse(
            "the service must be a full protobuf name such as `orders.v1.Orders` (dotted identifiers, no wildcards)",
        ));
    }
    let method = match method {
        "*" => None,
        method if is_ident(method) => Some(method.into()),
        _ => {
            return Err(refuse(
                "the method must be one protobuf identifier such as `Create`, or `*` for every method",
            ));
        }
    };
    Ok(Pattern::Grpc {
        service: service.into(),
        method,
    })
}

impl fmt::Display for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("*");
        }
        f.write_str(&self.written.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc<'a>(service: &'a str, method: &'a str) -> Route<'a> {
        Route::Grpc { service, method }
    }

    fn http(path: &str) -> Route<'_> {
        Route::Http { path }
    }

    #[test]
    fn grpc_routes_match_whole_names_with_case() {
        let routes = Routes::parse(["orders.v1.Orders/*", "billing.v1.Billing/Charge"]).unwrap();
        assert!(routes.matches(grpc("orders.v1.Orders", "Create")));
        assert!(routes.matches(grpc("billing.v1.Billing", "Charge")));
        for (service, method) in [
            ("orders.v1.orders", "Create"),
            ("Orders", "Create"),
            ("v1.Orders", "Create"),
            ("orders.v1.Orders.x", "Create"),
            ("xorders.v1.Orders", "Create"),
            ("billing.v1.Billing", "charge"),
            ("billing.v1.Billing", "ChargeAll"),
        ] {
            assert!(!routes.matches(grpc(service, method)), "{service}/{method}");
        }
        // A gRPC pattern never matches a plain HTTP call, and back.
        assert!(!routes.matches(http("/orders.v1.Orders/Create")));
        let routes = Routes::parse(["http:/orders.v1.Orders/"]).unwrap();
        assert!(!routes.matches(grpc("orders.v1.Orders", "Create")));
    }

    #[test]
    fn http_routes_match_whole_segments() {
        let routes = Routes::parse(["http:/admin"]).unwrap();
        // `/Admin` and `/ADMIN/x` too: an upstream may route them to `/admin`, and a
        // route must never let such a request skip the plugin.
        for yes in ["/admin", "/admin/", "/admin/users", "/Admin", "/ADMIN/x"] {
            assert!(routes.matches(http(yes)), "{yes}");
        }
        for no in ["/administrator", "/ADMINISTRATOR", "/", "/x/admin", "/é"] {
            assert!(!routes.matches(http(no)), "{no}");
        }
        let routes = Routes::parse(["http:/admin/"]).unwrap();
        assert!(routes.matches(http("/admin/users")));
        assert!(!routes.matches(http("/admin")));
        let routes = Routes::parse(["http:/"]).unwrap();
        assert!(routes.matches(http("/anything")));
        assert!(Routes::all().matches(http("/x")));
        assert!(Routes::all().matches(grpc("a.B", "C")));
    }

    #[test]
    fn bad_patterns_say_what_to_write() {
        for (bad, problem) in [
            ("orders.v1.Orders", "is `package.Service/Method`"),
            ("orders.v1.*/Create", "full protobuf name"),
            ("orders..Orders/Create", "full protobuf name"),
            ("/Create", "full protobuf name"),
            ("orders.v1.Orders/Get*", "one protobuf identifier"),
            ("orders.v1.Orders/A/B", "one protobuf identifier"),
            ("http:admin", "starting with `/`"),
            ("http:/a//b", "empty segment"),
            ("http:/a/../b", "dot segment"),
            ("http:/a%2Fb", "may not hold"),
            ("http:/a*", "may not hold"),
        ] {
            let error = Routes::parse([bad]).unwrap_err();
            assert_eq!(error.pattern, bad);
            assert!(error.problem.contains(problem), "{bad}: {error}");
        }
        let empty: [&str; 0] = [];
        assert!(Routes::parse(empty).unwrap_err().problem.contains("empty"));
    }
}
