//! Events of the intake service.

use domain::report::{Contacts, Transfer};
use domain::{CaseId, Fen, FraudType, TimeMs};
use serde::{Deserialize, Serialize};

/// What intake recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeEvent {
    /// A new, valid report became a case. The victim's personal data is not in the event:
    /// it stays in intake's own store and is never published. Each transfer names the
    /// victim's paying account only by its keyed reference (`from_account`, from schema 2;
    /// intake's `payers` command gives the account).
    CaseReported {
        case_id: CaseId,
        received_at_ms: TimeMs,
        fraud_type: FraudType,
        transfers: Vec<Transfer>,
        contacts: Contacts,
        reported_loss_fen: Fen,
    },
}

impl IntakeEvent {
    pub const CASE_REPORTED: &'static str = "case_reported";
    /// Every kind, in declaration order.
    pub const KINDS: [&'static str; 1] = [IntakeEvent::CASE_REPORTED];

    /// The event's kind: the last token of its subject and its MessagePack tag.
    pub fn name(&self) -> &'static str {
        match self {
            IntakeEvent::CaseReported { .. } => IntakeEvent::CASE_REPORTED,
        }
    }

    pub fn case_id(&self) -> &CaseId {
        match self {
            IntakeEvent::CaseReported { case_id, .. } => case_id,
        }
    }
}
