//! Text that did not come from the host (a plugin's log line or reply header, a
//! signed manifest's description, a wasm name section, a client's header) printed or
//! logged so that it cannot pass for the host's own output: a newline could start a
//! forged log line, an ANSI escape could rewrite the operator's terminal, and a
//! bidirectional override could reorder what a reviewer reads.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Displays its text with every character that could forge or hide output escaped
/// (`\n`, `\u{1b}`, `\u{202e}`, ...); everything else is written as it is.
///
/// Use it wherever untrusted text meets a log field, an error message or a terminal:
/// `tracing::warn!(header = %Untrusted(name), "reply header dropped")`. It allocates
/// nothing.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            for e in c.escape_default() {
                f.write_char(e)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// `text` with [`Untrusted`]'s escaping, borrowed when nothing needed escaping.
pub fn escape_untrusted(text: &str) -> Cow<'_, str> {
    if text.contains(needs_escape) {
        Cow::Owned(Untrusted(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

/// Control characters (C0, DEL, C1), the line and paragraph separators, and the
/// invisible formatting characters that reorder or hide text (bidirectional
/// embeddings, overrides and isolates, zero-width marks, the BOM).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged_and_borrowed() {
        assert!(matches!(
            escape_untrusted("orders.v1.Orders/Get café"),
            Cow::Borrowed("orders.v1.Orders/Get café")
        ));
    }

    #[test]
    fn forging_characters_are_escaped() {
        let forged = "ok\n2026-12-01T00:00:00Z  INFO palisade: reload: new chain in place\u{1b}[2K";
        assert_eq!(
            Untrusted(forged).to_string(),
            "ok\\n2026-12-01T00:00:00Z  INFO palisade: reload: new chain in place\\u{1b}[2K"
        );
        assert_eq!(Untrusted("a\rb\tc\u{7f}").to_string(), "a\\rb\\tc\\u{7f}");
        assert_eq!(Untrusted("\u{202e}txt.exe").to_string(), "\\u{202e}txt.exe");
        assert_eq!(
            Untrusted("x\u{2028}y\u{feff}").to_string(),
            "x\\u{2028}y\\u{feff}"
        );
        assert_eq!(format!("{:?}", Untrusted("a\nb")), "\"a\\nb\"");
    }
}
