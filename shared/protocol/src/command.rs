//! What every service answers on its command subjects (`afc.<city>.cmd.<service>.<verb>`)
//! before a verb's own handler runs: a verb the service does not know.

use serde::{Deserialize, Serialize};

/// A command the service could not route to a handler. Nothing was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CommandError {
    pub kind: CommandErrorKind,
    pub message: String,
    /// The verbs the service knows, for `unknown_verb`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verbs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandErrorKind {
    /// The subject's last token names no command of the service.
    UnknownVerb,
}

impl std::fmt::Display for CommandErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommandErrorKind::UnknownVerb => "unknown_verb",
        })
    }
}

/// The reply to a command that reached no handler.
pub type CommandResponse = crate::Reply<(), CommandError>;
