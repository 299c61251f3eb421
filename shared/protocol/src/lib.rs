//! Wire types of afc's external, JSON request/reply protocols (see docs/protocols.md).
//!
//! - [`adapter`]: what the freezing service asks banks and payment platforms, and what they
//!   answer. The simulator serves the same types.
//! - [`carrier`]: what blocking asks carriers (block, lift, restrict a phone card) and banks
//!   (restrict an account), and what they answer.
//! - [`blocking`]: the commands staff and carriers send to blocking (`check`, `list`, `lift`,
//!   `case`).
//! - [`dissuasion`]: the commands call-back operators and community officers work their
//!   queues with (`next`, `claim`, `complete`, `reassign`, `list`).
//! - [`changes`]: which cases a service changed, told to the staff console every 500 ms.
//! - [`command`]: the answer of any service to a command verb it does not know.
//! - [`intake`]: the commands a center's staff (or the `afc` CLI) send to intake.
//! - [`signal`]: the contact signals carriers and platforms publish for dissuasion.
//! - [`subjects`]: every NATS subject name, built in one place.
//!
//! Every reply is `{"ok": …}` or `{"error": {"kind": …, "message": …}}` ([`Reply`]), so any
//! NATS client can tell success from a typed failure without knowing Rust.

pub mod adapter;
pub mod blocking;
pub mod carrier;
pub mod changes;
pub mod command;
pub mod coordinator;
pub mod dissuasion;
pub mod holder;
pub mod intake;
pub mod limits;
pub mod restitution;
pub mod signal;
pub mod subjects;

use serde::{Deserialize, Serialize};

/// Largest JSON body accepted on any command or adapter subject. A report with the maximum
/// number of transfers and contacts fits in well under this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A reply on a request/reply subject: the answer, or a typed error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T, E> {
    Ok(T),
    Error(E),
}

impl<T, E> Reply<T, E> {
    pub fn into_result(self) -> Result<T, E> {
        match self {
            Reply::Ok(value) => Ok(value),
            Reply::Error(error) => Err(error),
        }
    }
}

impl<T, E> From<Result<T, E>> for Reply<T, E> {
    fn from(result: Result<T, E>) -> Self {
        match result {
            Ok(value) => Reply::Ok(value),
            Err(error) => Reply::Error(error),
        }
    }
}

/// Encodes a reply body. Serializing these plain types cannot fail; a failure is a bug.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("protocol types always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_ok_or_error_on_the_wire_and_back() {
        let ok: Reply<u32, String> = Ok(7).into();
        assert_eq!(String::from_utf8(to_json(&ok)).unwrap(), r#"{"ok":7}"#);
        let error: Reply<u32, String> = Err("no".to_owned()).into();
        assert_eq!(String::from_utf8(to_json(&error)).unwrap(), r#"{"error":"no"}"#);
        let back: Reply<u32, String> = serde_json::from_str(r#"{"error":"no"}"#).unwrap();
        assert_eq!(back.into_result(), Err("no".to_owned()));
    }

    #[test]
    fn an_adapter_request_with_an_unknown_field_is_refused() {
        let body = r#"{"account":"icbc:6222020200001234","since_ms":0,"extra":1}"#;
        let refused = serde_json::from_str::<adapter::FlowsRequest>(body).unwrap_err();
        assert!(refused.to_string().contains("extra"), "{refused}");
        let body = r#"{"account":"icbc:12","since_ms":0}"#;
        assert!(serde_json::from_str::<adapter::FlowsRequest>(body).is_err(), "an account too short is refused");
    }
}
