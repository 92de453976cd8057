//! Terminal safety. Certificate fields, hostnames and file names are attacker-controlled:
//! a CN can carry `ESC]0;title BEL` (retitles the terminal), `ESC]52;c;...` (writes the
//! clipboard), `ESC[2J` (clears the screen), bidi overrides that reorder what is shown, or
//! zero-width characters that hide differences between two names. Every human-facing
//! output (CLI tables, `show`, the TUI) passes such text through [`sanitize`], which shows
//! those characters visibly escaped instead of emitting them. Machine output (`--json`)
//! keeps exact values; JSON's own escaping makes it safe.

use std::borrow::Cow;
use std::fmt::Write;

/// True for characters that must never reach a terminal raw.
fn needs_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20                                  // C0 controls incl. ESC, NUL, BEL, CR, LF, TAB
        || u == 0x7f                          // DEL
        || (0x80..=0x9f).contains(&u)         // C1 controls (CSI 0x9b, OSC 0x9d, ...)
        || c == '\\'                          // so an escaped form is never ambiguous
        || matches!(u,
            0x00ad                            // soft hyphen (invisible)
            | 0x061c                          // Arabic letter mark
            | 0x115f | 0x1160 | 0x3164 | 0xffa0 // Hangul fillers (blank-looking)
            | 0x180e                          // Mongolian vowel separator
            | 0x200b..=0x200f                 // zero-width space/joiners, LRM, RLM
            | 0x2028 | 0x2029                 // line / paragraph separators
            | 0x202a..=0x202e                 // bidi embeddings and overrides
            | 0x2060..=0x206f                 // word joiner, invisible operators, bidi isolates
            | 0xfeff                          // zero-width no-break space / BOM
            | 0xfff9..=0xfffb                 // interlinear annotation controls
            | 0xe0000..=0xe007f               // tag characters
        )
}

/// Returns `s` with every control, bidi and invisible character shown as an escape
/// (`\x1b`, `\u{202e}`, `\\`). Borrowed when nothing needed escaping, which is the
/// common case, so it is cheap enough to call on every cell of a 100k-row table.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        let u = c as u32;
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ if u < 0x80 => {
                let _ = write!(out, "\\x{u:02x}");
            }
            _ => {
                let _ = write!(out, "\\u{{{u:x}}}");
            }
        }
    }
    Cow::Owned(out)
}

/// Sanitizes raw bytes that may not be UTF-8 (file names on Unix are bytes): invalid
/// sequences are shown as `\xNN` rather than replaced, so two different names never look
/// the same.
pub fn sanitize_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&sanitize(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// A path as it may be shown on a terminal.
pub fn sanitize_path(p: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    sanitize_bytes(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(sanitize("www.example.com"), Cow::Borrowed(_)));
        assert_eq!(sanitize("Zürich Ünïcode 東京"), "Zürich Ünïcode 東京");
    }

    #[test]
    fn terminal_escape_sequences_are_shown_not_emitted() {
        assert_eq!(sanitize("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
        assert_eq!(sanitize("\x1b[2J"), "\\x1b[2J");
        assert_eq!(sanitize("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
        assert_eq!(sanitize("a\u{9b}31m"), "a\\u{9b}31m");
        assert_eq!(sanitize("nul\0here"), "nul\\x00here");
        assert_eq!(sanitize("del\x7f"), "del\\x7f");
    }

    #[test]
    fn bidi_and_invisible_characters_are_made_visible() {
        assert_eq!(
            sanitize("evil\u{202e}moc.elgoog"),
            "evil\\u{202e}moc.elgoog"
        );
        assert_eq!(sanitize("pay\u{200b}pal"), "pay\\u{200b}pal");
        assert_eq!(sanitize("\u{feff}bom"), "\\u{feff}bom");
        assert_eq!(sanitize("iso\u{2067}late"), "iso\\u{2067}late");
    }

    #[test]
    fn backslashes_are_doubled_so_escapes_are_unambiguous() {
        assert_eq!(sanitize("a\\x1b"), "a\\\\x1b");
        assert_ne!(sanitize("a\\x1b"), sanitize("a\x1b"));
    }

    #[test]
    fn invalid_utf8_in_file_names_is_shown_as_bytes() {
        assert_eq!(sanitize_bytes(b"cert\xff\x1b.pem"), "cert\\xff\\x1b.pem");
    }

    #[test]
    fn output_never_contains_a_control_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = sanitize(&all);
        assert!(!out
            .chars()
            .any(|c| (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32))));
        assert!(!out.contains('\u{202e}'));
    }
}
