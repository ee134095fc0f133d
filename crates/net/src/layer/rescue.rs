//! Requests to call facts, and decisions to responses: the one place where a
//! [`Code`] becomes a gRPC status or an HTTP status, and back.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::body::LayerBody;
use palisade_types::{CallInfo, Code, Name, Reply, Route};

/// gRPC or plain HTTP, by the request's `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Grpc,
    Http,
}

impl Protocol {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        match headers.get(CONTENT_TYPE) {
            // What gRPC clients send, before the general parse.
            Some(value) if value.as_bytes() == b"application/grpc" => Self::Grpc,
            Some(value) if is_grpc_content_type(value.as_bytes()) => Self::Grpc,
            _ => Self::Http,
        }
    }
}

/// Whether a `content-type` value is gRPC's: the media type `application/grpc`,
/// `application/grpc-web` or `application/grpc-web-text`, in any case, with an
/// optional `+suffix` (`+proto`, `+json`, ...) and optional parameters after `;`.
pub fn is_grpc_content_type(value: &[u8]) -> bool {
    let essence = match value.iter().position(|&b| b == b';') {
        Some(end) => &value[..end],
        None => value,
    }
    .trim_ascii();
    let (kind, suffix) = match essence.iter().position(|&b| b == b'+') {
        Some(plus) => (&essence[..plus], Some(&essence[plus + 1..])),
        None => (essence, None),
    };
    let kind_ok = [
        &b"application/grpc"[..],
        b"application/grpc-web",
        b"application/grpc-web-text",
    ]
    .iter()
    .any(|k| kind.eq_ignore_ascii_case(k));
    // A suffix is a media-type token: letters, digits and `.-_`.
    let suffix_ok = suffix.is_none_or(|s| {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    kind_ok && suffix_ok
}

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
const APPLICATION_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");

/// Headers that carry a caller's identity in other systems (Envoy's client
/// certificate, RFC 7239's `for=`/`by=`, a SPIFFE ID): from the network, they are
/// whatever the client chose, so they are dropped like `x-palisade-*`.
const IDENTITY_HEADERS: [&[u8]; 3] = [b"x-forwarded-client-cert", b"forwarded", b"x-spiffe-id"];

/// Whether `a` equals `b` (lowercase, with `-`) when every `_` of `a` is read as
/// `-`, as WSGI, CGI and some ASGI servers do.
fn folds_to(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(&x, &y)| x == y || (x == b'_' && y == b'-'))
}

/// Whether a header from the network must be dropped: an `x-palisade-*` name (the
/// host's), an identity-carrying name (`x-forwarded-client-cert`, `forwarded`,
/// `x-spiffe-id`), or a name that reads
/// as one of those once `_` is taken for `-` (`x_palisade_peer_identity`).
pub fn is_untrusted_identity_header(name: &str) -> bool {
    let name = name.as_bytes();
    let prefix = palisade_types::bounds::RESERVED_PREFIX.as_bytes();
    // Cheap first: every such name starts with `x` or `f`.
    if !matches!(name.first(), Some(b'x' | b'f')) {
        return false;
    }
    name.get(..prefix.len())
        .is_some_and(|p| folds_to(p, prefix))
        || IDENTITY_HEADERS.iter().any(|h| folds_to(name, h))
}

/// Removes every header [`is_untrusted_identity_header`] names: they are the
/// host's, or claim an identity, and never come from the network.
pub(crate) fn strip_reserved(headers: &mut HeaderMap) {
    let reserved = |name: &HeaderName| is_untrusted_identity_header(name.as_str());
    if !headers.keys().any(reserved) {
        return;
    }
    let names: Vec<HeaderName> = headers.keys().filter(|n| reserved(n)).cloned().collect();
    for name in names {
        tracing::debug!(header = %name, "dropped a reserved header received from the network");
        headers.remove(name);
    }
}

/// Removes the headers a request's `Connection` header names (RFC 9110 §7.6.1:
/// they describe this hop only), and those names from `Connection`, keeping its
/// standard options (`close`, `keep-alive`, `upgrade`). Run before the chain, so
/// that a client's `Connection: x-user-role` cannot remove, after the chain, a
/// header a plugin set. Costs nothing when there is no `Connection` header (HTTP/2)
/// or it names only standard options.
pub(crate) fn strip_connection_listed(headers: &mut HeaderMap) {
    const STANDARD: [&str; 3] = ["close", "keep-alive", "upgrade"];
    let is_standard = |token: &str| STANDARD.iter().any(|s| token.eq_ignore_ascii_case(s));
    let tokens = || {
        headers
            .get_all(CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(|t| std::str::from_utf8(t).unwrap_or("\u{fffd}").trim())
            .filter(|t| !t.is_empty())
    };
    if tokens().all(is_standard) {
        return;
    }
    let mut kept: Vec<&'static str> = Vec::new();
    let mut listed: Vec<HeaderName> = Vec::new();
    for token in tokens() {
        if let Some(standard) = STANDARD.iter().find(|s| token.eq_ignore_ascii_case(s)) {
            kept.push(*standard);
        } else if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
            listed.push(name);
        }
    }
    for name in listed {
        tracing::debug!(header = %name, "dropped a header the client's `Connection` names");
        headers.remove(name);
    }
    headers.remove(CONNECTION);
    if !kept.is_empty() {
        kept.dedup();
        if let Ok(value) = HeaderValue::from_str(&kept.join(", ")) {
            headers.insert(CONNECTION, value);
        }
    }
}

/// Why a request path is refused: it is not canonical, so the upstream could read
/// it as another path than the one the plugins judged. The texts hold no client
/// input, so every caller may read them.
pub(crate) fn path_problem(path: &str, protocol: Protocol) -> Option<&'static str> {
    if is_plainly_canonical(path, protocol) {
        return None;
    }
    full_path_problem(path, protocol)
}

/// [`path_problem`]'s rules, one by one.
fn full_path_problem(path: &str, protocol: Protocol) -> Option<&'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Some("refused: the request path must start with `/`");
    };
    if protocol == Protocol::Grpc {
        let well_formed = rest.split_once('/').is_some_and(|(service, method)| {
            !service.is_empty() && !method.is_empty() && !method.contains('/')
        });
        if !well_formed {
            return Some("refused: a gRPC path is `/package.Service/Method`");
        }
    }
    if path.contains('\\') {
        return Some("refused: the request path has a backslash");
    }
    if path.contains(';') {
        return Some("refused: the request path has a `;` (path parameters are not accepted)");
    }
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        // A trailing `/` (an empty last segment) is a path of its own; `//` is not.
        if segment.is_empty() && segments.peek().is_some() {
            return Some("refused: the request path has an empty segment (`//`)");
        }
        if segment == "." || segment == ".." {
            return Some("refused: the request path has a dot segment (`.` or `..`)");
        }
        if let Some(problem) = escape_problem(segment) {
            return Some(problem);
        }
    }
    None
}

/// One pass over `path` that says yes only for a path [`path_problem`] accepts
/// (most paths, on every request): it starts with `/` and holds no `\`, `;` or `%`,
/// no `//` and no `/.` (every empty or dot segment follows a `/`), and a gRPC path
/// has exactly two `/` and does not end in one. Any other path takes the full
/// check, which says what is wrong.
fn is_plainly_canonical(path: &str, protocol: Protocol) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let mut slashes = 0usize;
    let mut previous = 0u8;
    for &byte in bytes {
        match byte {
            b'\\' | b';' | b'%' => return false,
            b'/' if previous == b'/' => return false,
            b'/' => slashes += 1,
            b'.' if previous == b'/' => return false,
            _ => {}
        }
        previous = byte;
    }
    match protocol {
        Protocol::Grpc => slashes == 2 && previous != b'/',
        Protocol::Http => true,
    }
}

/// Percent-escapes allowed in a canonical path: those of bytes that must be
/// escaped. An escape of an unreserved character (`%2e` for `.`, `%41` for `A`), of
/// `/`, `\` or `;`, of a control character, or a malformed one, is refused: an
/// upstream that decodes would see another path than the plugins did.
fn escape_problem(segment: &str) -> Option<&'static str> {
    let mut rest = segment.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        let mut decoded = percent_encoding::percent_decode(escape);
        let byte = match (decoded.next(), decoded.next()) {
            (Some(byte), None) => byte,
            _ => return Some("refused: the request path has a malformed percent-escape"),
        };
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || matches!(byte, b'/' | b'\\' | b';' | b'%') || byte.is_ascii_control() {
            return Some(
                "refused: the request path percent-encodes `.`, `/`, `\\`, `;`, `%`, a control or an unreserved character; send the canonical form",
            );
        }
        rest = &rest[at + 3..];
    }
    None
}

/// What a request (with a canonical path) is addressed to, as route patterns see
/// it: a gRPC path's service and method, or a plain HTTP path.
pub(crate) fn route<B>(req: &Request<B>, protocol: Protocol) -> Route<'_> {
    let path = req.uri().path();
    match protocol {
        Protocol::Grpc => match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
            Some((service, method)) => Route::Grpc { service, method },
            // Not reached: `path_problem` refuses such a gRPC path first.
            None => Route::Grpc {
                service: "",
                method: path,
            },
        },
        Protocol::Http => Route::Http { path },
    }
}

/// Service, method, authority and deadline of a request (the peer identity is the
/// caller's to add). A plain HTTP call's service is `http_service` when set; else,
/// on the client side only, the host of the authority the request goes to; else
/// empty. On the server side the authority is the client's choice and never names
/// the service.
pub(crate) fn call_info<B>(
    req: &Request<B>,
    protocol: Protocol,
    client: bool,
    http_service: Option<&Name>,
) -> CallInfo {
    // Names that share the request's buffers: describing the call copies nothing
    // (see `Name`), except a plain HTTP call's `method` and a `Host` header.
    let authority = match req.uri().authority() {
        Some(authority) => Some(Name::from(authority.clone())),
        None => req
            .headers()
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .map(Name::from),
    };
    let path = req.uri().path();
    let (service, method) = match protocol {
        Protocol::Grpc => {
            let whole = req.uri().path_and_query();
            let part = |text: &str| match whole {
                Some(whole) => Name::in_path(whole, text),
                None => Name::from(text),
            };
            match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
                Some((service, method)) => (part(service), part(method)),
                None => (Name::default(), part(path)),
            }
        }
        Protocol::Http => {
            let service = match http_service {
                Some(service) => service.clone(),
                None if client => authority
                    .as_deref()
                    .map_or_else(Name::default, |a| Name::from(host_of(a))),
                None => Name::default(),
            };
            (service, Name::from(format!("{}{path}", req.method())))
        }
    };
    let mut info = if client {
        CallInfo::client(service, method)
    } else {
        CallInfo::server(service, method)
    };
    if protocol == Protocol::Http {
        info = info.with_protocol(palisade_types::Protocol::Http);
    }
    info.authority = authority;
    info.deadline = req
        .headers()
        .get(GRPC_TIMEOUT)
        .and_then(|v| grpc_timeout(v.as_bytes()))
        .and_then(|d| Instant::now().checked_add(d));
    info
}

/// The host of an authority, without port or IPv6 brackets, lowercased only if needed.
fn host_of(authority: &str) -> &str {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => authority,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A `grpc-timeout` value: up to 8 digits and a unit (`H M S m u n`).
fn grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The numeric gRPC code as a [`Code`]; unknown numbers are `Unknown`.
pub(crate) fn code_from_i32(n: i32) -> Code {
    match n {
        0 => Code::Ok,
        1 => Code::Cancelled,
        3 => Code::InvalidArgument,
        4 => Code::DeadlineExceeded,
        5 => Code::NotFound,
        6 => Code::AlreadyExists,
        7 => Code::PermissionDenied,
        8 => Code::ResourceExhausted,
        9 => Code::FailedPrecondition,
        10 => Code::Aborted,
        11 => Code::OutOfRange,
        12 => Code::Unimplemented,
        13 => Code::Internal,
        14 => Code::Unavailable,
        15 => Code::DataLoss,
        16 => Code::Unauthenticated,
        _ => Code::Unknown,
    }
}

/// The HTTP status a plain HTTP caller gets for `code` (the table in the
/// [`layer`](crate::layer) docs).
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status a response hook sees: a gRPC response's `grpc-status` header when it
/// is trailers-only, `Ok` while a gRPC response streams, otherwise the HTTP status
/// mapped back to a code.
pub(crate) fn response_code(protocol: Protocol, status: StatusCode, headers: &HeaderMap) -> Code {
    if protocol == Protocol::Grpc {
        if let Some(value) = headers.get(GRPC_STATUS) {
            return std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|s| s.parse().ok())
                .map_or(Code::Unknown, code_from_i32);
        }
        // The gRPC-over-HTTP/2 mapping of HTTP statuses.
        return match status.as_u16() {
            200 => Code::Ok,
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        };
    }
    match status.as_u16() {
        100..=399 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        416 => Code::OutOfRange,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        402 | 405..=408 | 410..=415 | 417..=428 | 430..=498 => Code::FailedPrecondition,
        _ => Code::Internal,
    }
}

/// `grpc-message` encoding: percent-encode everything outside printable ASCII, and `%`.
const GRPC_MESSAGE_SET: &AsciiSet = &CONTROLS.add(b'%');

fn grpc_headers(code: Code, message: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, APPLICATION_GRPC);
    set_status(&mut headers, code, message);
    headers
}

/// Sets `grpc-status`, and `grpc-message` (percent-encoded) or removes it.
pub(crate) fn set_status(headers: &mut HeaderMap, code: Code, message: Option<&str>) {
    headers.insert(GRPC_STATUS, HeaderValue::from(code.as_i32()));
    headers.remove(GRPC_MESSAGE);
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        let encoded = utf8_percent_encode(message, GRPC_MESSAGE_SET).to_string();
        if let Ok(value) = HeaderValue::try_from(encoded) {
            headers.insert(GRPC_MESSAGE, value);
        }
    }
}

/// Whether a gRPC response carries its status in its headers (no messages follow).
pub(crate) fn is_trailers_only(headers: &HeaderMap) -> bool {
    headers.contains_key(GRPC_STATUS)
}

/// A refusal: a trailers-only gRPC response (HTTP 200, `grpc-status`,
/// percent-encoded `grpc-message`), or an HTTP status with the message as text.
pub(crate) fn reject<B>(protocol: Protocol, code: Code, message: &str) -> Response<LayerBody<B>> {
    match protocol {
        Protocol::Grpc => {
            let mut response = Response::new(LayerBody::empty());
            *response.headers_mut() = grpc_headers(code, Some(message));
            response
        }
        Protocol::Http => {
            let mut response = Response::new(LayerBody::local(
                Some(Bytes::copy_from_slice(message.as_bytes())),
                None,
            ));
            *response.status_mut() = http_status(code);
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
    }
}

/// A plugin's direct answer. gRPC: the body is one message (length-prefixed here),
/// then `grpc-status` in trailers; an empty body makes a trailers-only response.
/// HTTP: the code's HTTP status and the body as is. Reply headers the host reserves
/// (`content-type`, `grpc-*`, `x-palisade-*`, ...) or that are not valid HTTP are
/// dropped and logged.
pub(crate) fn reply<B>(
    protocol: Protocol,
    reply: Reply,
    plugin: Option<&str>,
) -> Response<LayerBody<B>> {
    let Reply {
        code,
        headers,
        body,
    } = reply;
    let mut response = match protocol {
        Protocol::Grpc if body.is_empty() => {
            let mut response = Response::new(LayerBody::empty());
            *response.headers_mut() = grpc_headers(code, None);
            response
        }
        Protocol::Grpc => {
            let mut framed = BytesMut::with_capacity(5 + body.len());
            framed.put_u8(0);
            framed.put_u32(u32::try_from(body.len()).unwrap_or(u32::MAX));
            framed.put_slice(&body);
            let mut trailers = HeaderMap::with_capacity(1);
            trailers.insert(GRPC_STATUS, HeaderValue::from(code.as_i32()));
            let mut response =
                Response::new(LayerBody::local(Some(framed.freeze()), Some(trailers)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, APPLICATION_GRPC);
            response
        }
        Protocol::Http => {
            let mut response = Response::new(LayerBody::local(Some(Bytes::from(body)), None));
            *response.status_mut() = http_status(code);
            response
        }
    };
    for (name, value) in headers {
        let name_ok = HeaderName::try_from(name.as_str())
            .ok()
            .filter(|n| !palisade_types::bounds::is_reserved(n.as_str()));
        match (name_ok, HeaderValue::try_from(value)) {
            (Some(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => {
                tracing::warn!(plugin, header = %palisade_types::Untrusted(&name), "reply header dropped: reserved or invalid")
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(grpc_timeout(b"100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout(b"2S"), Some(Duration::from_secs(2)));
        assert_eq!(grpc_timeout(b"1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout(b"123456789S"), None);
        assert_eq!(grpc_timeout(b"m"), None);
        assert_eq!(grpc_timeout(b"10x"), None);
    }

    #[test]
    fn hosts_without_ports() {
        assert_eq!(host_of("orders.internal:8443"), "orders.internal");
        assert_eq!(host_of("orders.internal"), "orders.internal");
        assert_eq!(host_of("[::1]:80"), "::1");
        assert_eq!(host_of("[::1]"), "::1");
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        let headers = grpc_headers(Code::PermissionDenied, Some("nope: 100% \u{e9}\n"));
        assert_eq!(headers[GRPC_STATUS], "7");
        assert_eq!(headers[GRPC_MESSAGE], "nope: 100%25 %C3%A9%0A");
    }

    #[test]
    fn grpc_media_types() {
        for yes in [
            "application/grpc",
            "Application/GRPC",
            "application/grpc+proto",
            "application/grpc+json; charset=utf-8",
            " application/grpc-web+proto ",
            "application/grpc-web-text",
        ] {
            assert!(is_grpc_content_type(yes.as_bytes()), "{yes}");
        }
        for no in [
            "application/grpcx",
            "application/grpc+",
            "application/grpc+a b",
            "application/json",
            "text/plain; x=application/grpc",
            "",
        ] {
            assert!(!is_grpc_content_type(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn canonical_paths() {
        for ok in [
            "/",
            "/orders/42",
            "/orders/",
            "/caf%C3%A9",
            "/a%20b",
            "/a.b/c..d/.e",
        ] {
            assert_eq!(path_problem(ok, Protocol::Http), None, "{ok}");
        }
        for (bad, problem) in [
            ("", "start with"),
            ("*", "start with"),
            ("/a/../b", "dot segment"),
            ("/a/.", "dot segment"),
            ("/..", "dot segment"),
            ("/a//b", "empty segment"),
            ("//", "empty segment"),
            ("/a\\b", "backslash"),
            ("/a;b", "`;`"),
            ("/a%2e%2E", "percent-encodes"),
            ("/a%2Fb", "percent-encodes"),
            ("/a%5cb", "percent-encodes"),
            ("/a%3bb", "percent-encodes"),
            ("/a%41", "percent-encodes"),
            ("/a%7e", "percent-encodes"),
            ("/a%25", "percent-encodes"),
            ("/a%00", "percent-encodes"),
            ("/a%2", "malformed"),
            ("/a%g0", "malformed"),
        ] {
            let found = path_problem(bad, Protocol::Http).unwrap_or("none");
            assert!(found.contains(problem), "{bad}: {found}");
        }
        assert_eq!(path_problem("/pkg.S/M", Protocol::Grpc), None);
        for bad in ["/pkg.S", "/pkg.S/", "//M", "/pkg.S/M/x", "/pkg.S/M/../N"] {
            assert!(path_problem(bad, Protocol::Grpc).is_some(), "{bad}");
        }
    }

    /// The fast check never accepts a path the full one refuses.
    #[test]
    fn the_fast_path_check_agrees_with_the_full_one() {
        let parts = [
            "", "/", "//", "a", ".", "..", ".e", "%41", "%C3%A9", "\\", ";", "pkg.S", "M",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in parts {
                        let path = format!("{a}{b}{c}{d}");
                        for protocol in [Protocol::Http, Protocol::Grpc] {
                            if is_plainly_canonical(&path, protocol) {
                                let full = full_path_problem(&path, protocol);
                                assert_eq!(full, None, "{path} ({protocol:?})");
                            }
                        }
                    }
                }
            }
        }
        assert!(is_plainly_canonical(
            "/orders.v1.Orders/Create",
            Protocol::Grpc
        ));
        assert!(is_plainly_canonical("/orders/42/", Protocol::Http));
        assert!(!is_plainly_canonical("/pkg.S/M/", Protocol::Grpc));
    }

    #[test]
    fn identity_claims_in_any_spelling() {
        for name in [
            "x-palisade-peer-identity",
            "x_palisade_peer_identity",
            "x-palisade_peer-identity",
            "x_palisade-anything",
            "x-forwarded-client-cert",
            "x_forwarded_client_cert",
            "forwarded",
            "x-spiffe-id",
            "x_spiffe_id",
        ] {
            assert!(is_untrusted_identity_header(name), "{name}");
        }
        for name in [
            "x-tenant",
            "x_tenant",
            "x-palisade",
            "forwarded-for",
            "x-forwarded-for",
        ] {
            assert!(!is_untrusted_identity_header(name), "{name}");
        }
    }

    #[test]
    fn connection_listed_headers_go_and_standard_options_stay() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("x-role, Keep-Alive"));
        headers.append(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert("x-role", HeaderValue::from_static("admin"));
        headers.insert("x-other", HeaderValue::from_static("1"));
        strip_connection_listed(&mut headers);
        assert!(!headers.contains_key("x-role"));
        assert_eq!(headers["x-other"], "1");
        assert_eq!(headers[CONNECTION], "keep-alive, upgrade");

        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        strip_connection_listed(&mut headers);
        assert_eq!(headers[CONNECTION], "close");
    }

    #[test]
    fn codes_round_trip_through_numbers() {
        for n in 0..=16 {
            assert_eq!(code_from_i32(n).as_i32(), n);
        }
        assert_eq!(code_from_i32(99), Code::Unknown);
    }
}
