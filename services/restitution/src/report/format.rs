//! How the report prints what it shows: every text HTML-escaped ([`escape`]), money as yuan
//! to the fen with thousands separators ([`yuan`]), times in Beijing time ([`local`]).
//!
//! Beijing time is UTC+8 all year (China has kept no daylight saving time since 1991), so
//! the conversion is an addition and a civil date (`domain::calendar::UtcOffset::CHINA`):
//! no time-zone database is needed, and the same millisecond prints the same on every
//! machine. Both helpers are the product's one (`afc case show` prints with them too).

use domain::calendar::UtcOffset;
use domain::{Fen, TimeMs};

/// Every text of the report goes through the product's one escape (`domain::markup`).
pub use domain::markup::{escape, escape_into};

/// `¥1,234.56`: whole yuan with a comma every three digits, then the fen.
pub fn yuan(fen: Fen) -> String {
    fen.grouped().to_string()
}

/// The parts of a time in Beijing time: (year, month, day, hour, minute, second).
fn civil(at_ms: TimeMs) -> (i64, u32, u32, u32, u32, u32) {
    let t = UtcOffset::CHINA.local(at_ms);
    (t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// `2025-11-24 09:03:12`, Beijing time.
pub fn local(at_ms: TimeMs) -> String {
    UtcOffset::CHINA.local(at_ms).to_string()
}

/// `11-24 09:03`, Beijing time: an edge's label, where the year is in the table.
pub fn local_short(at_ms: TimeMs) -> String {
    let (_, month, day, hour, minute, _) = civil(at_ms);
    format!("{month:02}-{day:02} {hour:02}:{minute:02}")
}

/// `2025-11-24T09:03:12+08:00`: the machine-readable form, for `<time datetime>`.
pub fn iso(at_ms: TimeMs) -> String {
    let (year, month, day, hour, minute, second) = civil(at_ms);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}+08:00")
}

/// `<time datetime="…+08:00">2025-11-24 09:03:12</time>`.
pub fn time_element(at_ms: TimeMs) -> String {
    format!("<time datetime=\"{}\">{}</time>", iso(at_ms), local(at_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_both_quotes() {
        assert_eq!(escape("<script>alert(\"x\")</script>"), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
        assert_eq!(escape("a' onmouseover='b"), "a&#39; onmouseover=&#39;b");
        assert_eq!(escape("Tom & Jerry 资金"), "Tom &amp; Jerry 资金");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn prints_yuan_to_the_fen_with_separators() {
        assert_eq!(yuan(Fen::new(0)), "¥0.00");
        assert_eq!(yuan(Fen::new(5)), "¥0.05");
        assert_eq!(yuan(Fen::new(99_999)), "¥999.99");
        assert_eq!(yuan(Fen::new(123_456)), "¥1,234.56");
        assert_eq!(yuan(Fen::new(100_000_000)), "¥1,000,000.00");
        assert_eq!(yuan(Fen::new(u64::MAX)), "¥184,467,440,737,095,516.15");
    }

    #[test]
    fn prints_beijing_time() {
        // 2025-11-24 01:00:00 UTC is 09:00 in Beijing.
        let at = 1_763_946_000_000;
        assert_eq!(local(at), "2025-11-24 09:00:00");
        assert_eq!(iso(at + 3_723_000), "2025-11-24T10:02:03+08:00");
        assert_eq!(local_short(at), "11-24 09:00");
        // 16:00 UTC on New Year's Eve is already the new year in Beijing.
        assert_eq!(local(1_767_196_800_000), "2026-01-01 00:00:00");
        assert_eq!(local(0), "1970-01-01 08:00:00");
        assert_eq!(time_element(at), "<time datetime=\"2025-11-24T09:00:00+08:00\">2025-11-24 09:00:00</time>");
    }
}
