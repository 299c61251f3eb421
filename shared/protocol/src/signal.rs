//! Contact signals: what carriers and platforms publish for a city on
//! `afc.<city>.sig.<source>` ([`crate::subjects::signals`]), one JSON [`SignalMessage`] per
//! message, with the header `Nats-Msg-Id: <source>/<signal_id>` (a re-sent signal is dropped by
//! the city's signal stream within its duplicate window, and by dissuasion within its
//! retention window). Dissuasion validates every field (`dissuasion::core::validate`); the
//! subscriber is personal data and is never echoed in a refusal.
//!
//! ```json
//! {"source":"cmcc","signal_id":"c-000123","subscriber":"+8613800138000","at_ms":1795978317866,
//!  "what":{"contact":{"identifier":"phone:+8617100001111","duration_s":540}}}
//! {"source":"cmcc","signal_id":"c-000124","subscriber":"+8613800138000","at_ms":1795978320000,
//!  "what":"transfer_instructions"}
//! {"source":"platform:alipay","signal_id":"a-9","subscriber":"+8613800138000","at_ms":1795978321000,
//!  "what":{"app_installed":{"app":"app:com.fake.invest"}}}
//! ```

use domain::TimeMs;
use serde::{Deserialize, Serialize};

/// A signal as a carrier or platform sends it, unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalMessage {
    /// `cmcc`, `cucc`, `ctcc`, or `platform:<id>`: the one the subject names.
    pub source: String,
    /// The source's id for the signal: 1-64 bytes, the same when it re-sends it.
    pub signal_id: String,
    /// The subscriber's number as the source writes it (personal data: never echoed).
    pub subscriber: String,
    /// When it happened, ms since 1970 (UTC).
    pub at_ms: TimeMs,
    pub what: SignalWhat,
}

impl SignalMessage {
    /// The `Nats-Msg-Id` a source publishes it under.
    pub fn message_id(&self) -> String {
        format!("{}/{}", self.source, self.signal_id)
    }
}

/// What a signal says happened to the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalWhat {
    /// `identifier` (`<kind>:<value>`, kind one of phone, domain, ip, app, social; any spelling
    /// of the value) reached the subscriber for `duration_s` seconds (0 for an SMS or a page
    /// visit).
    Contact { identifier: String, duration_s: u32 },
    /// Instructions to move money reached the subscriber (a call script, an SMS with an
    /// account number): the person is about to pay.
    TransferInstructions,
    /// The subscriber installed `app` (`app:<package>`).
    AppInstalled { app: String },
}

/// Largest signal body accepted, in bytes: a signal is a few hundred bytes.
pub const MAX_SIGNAL_BYTES: usize = 4 * 1024;
