//! Why a scenario could not be loaded, and where in the file: the path of the field at fault
//! for a bad value, and for a TOML reader's error the line, column and, when it names a key,
//! the key's path, read back from the table headers above it.

use std::path::PathBuf;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`crate::limits::MAX_SCENARIO_BYTES`].
    #[error("scenario file {path} is {bytes} bytes, at most {max}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The bound.
        max: u64,
    },
    /// The text is not TOML, or does not have the scenario's shape: an unknown or missing
    /// field, or a value of the wrong type.
    #[error("line {line}, column {column}: {}{message}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Syntax {
        /// Line of the offending text, 1 first.
        line: usize,
        /// Column of the offending text, 1 first.
        column: usize,
        /// The field path, when the error names a field (`gangs[0].colour`).
        field: Option<String>,
        /// What the TOML reader said.
        message: String,
    },
    /// A value is out of bounds or inconsistent with another.
    #[error("{field} is {value}, expected {expected}")]
    Invalid {
        /// The field path, e.g. `gangs[2].typology`.
        field: String,
        /// The value given, as written or as understood.
        value: String,
        /// What would be accepted.
        expected: String,
    },
}

impl ScenarioError {
    /// The path of the field at fault, when known (`gangs[2].typology`, `mules.margin`).
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { field, .. } => Some(field),
            ScenarioError::Syntax { field, .. } => field.as_deref(),
            ScenarioError::Read { .. } | ScenarioError::TooLarge { .. } => None,
        }
    }
}

/// A bad value: [`ScenarioError::Invalid`] for `field`.
pub(super) fn invalid(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    expected: impl Into<String>,
) -> ScenarioError {
    ScenarioError::Invalid { field: field.into(), value: value.to_string(), expected: expected.into() }
}

/// A TOML reader error with its line and column, and the path of the field it names when it
/// names one (an unknown or missing field).
pub(super) fn syntax_error(text: &str, error: &toml::de::Error) -> ScenarioError {
    let offset = error.span().map_or(0, |span| span.start).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let message = error.message().trim().to_owned();
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()));
    let field = named.map(|key| {
        // An unknown key's span is the key; a missing key's span is its table, header
        // included: read the headers up to the end of the span's first line.
        let span_line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let mut path = table_path(&text[..span_line_end]);
        // A key inside an inline table: `amount_yuan = { median = 1, bogus = 2 }`.
        if let Some(inline) = inline_table_key(&before[line_start..]) {
            path = join_path(&path, inline);
        }
        join_path(&path, key)
    });
    ScenarioError::Syntax { line, column, field, message }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// The table the text just before an error is in: `gangs[2]` after the third `[[gangs]]`,
/// `mules` after `[mules]`, empty before any header.
fn table_path(before: &str) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut path = String::new();
    for line in before.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|rest| rest.split("]]").next()) {
            let name = name.trim();
            let count = counts.entry(name).or_insert(0);
            path = format!("{name}[{count}]");
            *count += 1;
        } else if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.split(']').next()) {
            path = name.trim().to_owned();
        }
    }
    path
}

/// The key of the inline table open at the end of `line_before` (`amount_yuan` in
/// `amount_yuan = { median = 1, `), if any.
fn inline_table_key(line_before: &str) -> Option<&str> {
    let open = line_before.rfind('{')?;
    if line_before[open..].contains('}') {
        return None;
    }
    let key = line_before[..open].trim_end().strip_suffix('=')?.trim();
    (!key.is_empty()).then_some(key)
}
