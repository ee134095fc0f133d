//! [`Name`]: the text of a call's description, sharing the request's bytes.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use http::uri::{Authority, PathAndQuery};

/// A service, method, authority or peer identity of a [`CallInfo`](crate::CallInfo):
/// text that dereferences to `str` and whose clones share their bytes.
///
/// The tower layers make one per call without copying: a gRPC `service` and `method`
/// are slices of the request's path, whose buffer the HTTP stack already holds
/// reference-counted, and a peer identity is the connection's. So describing a call
/// to the chain, and copying that description into each plugin's instance, allocates
/// nothing. Built from a `&str` or a `String`, a `Name` holds its own copy.
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
    /// `path.as_str()[start..end]`, on a char boundary.
    Path {
        path: PathAndQuery,
        start: usize,
        end: usize,
    },
    Authority(Authority),
}

impl Name {
    /// A name for a string known at compile time.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Repr::Static(text))
    }

    /// `part`, a slice of `path.as_str()`, sharing `path`'s buffer. A `part` that is
    /// not inside `path` is copied.
    pub fn in_path(path: &PathAndQuery, part: &str) -> Self {
        let whole = path.as_str();
        // Where `part` starts in `whole`, by address: a slice of it starts within it.
        let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
        let end = start.wrapping_add(part.len());
        match whole.get(start..end) {
            Some(slice) if std::ptr::eq(slice.as_ptr(), part.as_ptr()) => Self(Repr::Path {
                path: path.clone(),
                start,
                end,
            }),
            _ => Self::from(part),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(text) => text,
            Repr::Shared(text) => text,
            // In bounds and on char boundaries: checked by `in_path`.
            Repr::Path { path, start, end } => &path.as_str()[*start..*end],
            Repr::Authority(authority) => authority.as_str(),
        }
    }
}

impl Default for Name {
    fn default() -> Self {
        Self::from_static("")
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Self(Repr::Shared(text.into()))
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Self(Repr::Shared(text.into()))
    }
}

impl From<Arc<str>> for Name {
    /// Shares `text`: no copy.
    fn from(text: Arc<str>) -> Self {
        Self(Repr::Shared(text))
    }
}

impl From<Authority> for Name {
    /// Shares the authority's buffer: no copy.
    fn from(authority: Authority) -> Self {
        Self(Repr::Authority(authority))
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.as_str().to_owned()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_of_the_path_shares_it() {
        let path = PathAndQuery::from_static("/orders.v1.Orders/Create?x=1");
        let (service, method) = path.path()[1..].split_once('/').unwrap();
        let service = Name::in_path(&path, service);
        let method = Name::in_path(&path, method);
        assert!(matches!(service.0, Repr::Path { .. }));
        assert_eq!(service, "orders.v1.Orders");
        assert_eq!(method, "Create");
        assert_eq!(method.clone().to_string(), "Create");
    }

    #[test]
    fn text_outside_the_path_is_copied() {
        let path = PathAndQuery::from_static("/a/b");
        let elsewhere = String::from("/a/b");
        let name = Name::in_path(&path, &elsewhere[1..2]);
        assert!(matches!(name.0, Repr::Shared(_)));
        assert_eq!(name, "a");
        // An empty slice at the end is inside.
        let end = &path.as_str()[4..];
        assert_eq!(Name::in_path(&path, end), "");
    }

    #[test]
    fn names_compare_as_text() {
        assert_eq!(Name::from("x"), Name::from_static("x"));
        assert_eq!(format!("{:?}", Name::from("a\"b")), r#""a\"b""#);
        assert_eq!(Name::default(), "");
    }
}
