//! Text made safe in HTML and SVG: in element text and in a double- or single-quoted
//! attribute value. Every report and chart the product draws escapes through here.

/// `text` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as [`escape`] does.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_both_quotes_are_escaped_and_the_rest_is_kept() {
        assert_eq!(super::escape(r#"<a href="x">&'冻结"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;冻结");
    }
}
