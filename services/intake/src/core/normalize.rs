//! The text staff type into a report, made canonical before the case id is derived from it:
//! the same report typed twice (one composed `é`, one `e` + combining accent; a double
//! space, a trailing newline) is one case. Characters that have no place in a name, a
//! contact or a narrative are refused, not cleaned away.

use unicode_normalization::UnicodeNormalization;

/// A single-line field (a name, a contact): NFC, every run of whitespace (line breaks and
/// tabs included) one space, none at the ends.
pub fn line(text: &str) -> String {
    text.nfc().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A narrative: NFC, each line as [`line`], line breaks kept as `\n`, no empty line at the
/// start or the end, and no more than one empty line in a row.
pub fn narrative(text: &str) -> String {
    let composed: String = text.nfc().collect();
    // A line ends with \n, \r\n or \r alike.
    let unix = composed.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<String> = Vec::new();
    for raw in unix.split('\n') {
        let line = line(raw);
        let blank = line.is_empty();
        if blank && lines.last().is_none_or(String::is_empty) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.join("\n")
}

/// The first character of `text` that no field may hold, if any: a control character other
/// than whitespace, or a bidirectional override or isolate (which make text display in
/// another order than it is stored).
pub fn forbidden(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        (c.is_control() && !c.is_whitespace()) || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// How a forbidden character is named in a problem: its code point, never the text around it.
pub fn describe(c: char) -> String {
    format!("a control character (U+{:04X})", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_typed_two_ways_is_one_text() {
        assert_eq!(line("  Zhang\u{00A0} San\t"), "Zhang San");
        assert_eq!(line("Jose\u{0301}"), line("Jos\u{00E9}"), "decomposed and composed accents are one text");
        assert_eq!(narrative("\r\n first line  \r\n\r\n\r\n second\tline \n\n"), "first line\n\nsecond line");
        assert_eq!(narrative(&narrative("a\n\n\nb ")), narrative("a\n\n\nb "), "idempotent");
    }

    #[test]
    fn control_and_bidi_characters_are_found_and_named_by_code_point() {
        assert_eq!(forbidden("plain text\twith\nwhitespace"), None);
        assert_eq!(forbidden("bell\u{0007}"), Some('\u{0007}'));
        assert_eq!(forbidden("evil\u{202E}txt.exe"), Some('\u{202E}'));
        assert_eq!(forbidden("del\u{007F}"), Some('\u{007F}'));
        assert_eq!(describe('\u{0007}'), "a control character (U+0007)");
    }
}
