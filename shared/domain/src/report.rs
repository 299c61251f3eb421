//! A validated fraud report: what a victim tells the center.

use serde::{Deserialize, Serialize};

use crate::{AccountRef, Fen, FraudType, PaymentOrderRef, Sensitive, TimeMs};

/// Most transfers one report may list; a victim paying more often than this is reported in
/// several reports.
pub const MAX_TRANSFERS: usize = 64;
/// Most scam contacts (numbers, URLs, apps, social accounts) of each kind in one report.
pub const MAX_CONTACTS_PER_KIND: usize = 32;
/// Longest free-text field, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// A fraud report that passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub victim: Victim,
    pub fraud_type: FraudType,
    /// The victim's payments, in the order given; at least one.
    pub transfers: Vec<Transfer>,
    pub contacts: Contacts,
    pub narrative: Sensitive<String>,
}

impl Report {
    /// The money the victim reports lost. Validation guarantees it does not overflow.
    pub fn reported_loss(&self) -> Fen {
        Fen::sum(self.transfers.iter().map(|t| t.amount)).expect("validated reports do not overflow")
    }
}

/// The victim. Every field is confidential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Victim {
    pub name: Sensitive<String>,
    pub id_number: Sensitive<String>,
    pub phone: Sensitive<String>,
}

/// One payment the victim made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub to: Destination,
    pub amount: Fen,
    pub at_ms: TimeMs,
}

/// Where a victim's payment went: a bank account, or a payment-platform order that must be
/// resolved to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    Account(AccountRef),
    Order(PaymentOrderRef),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Account(account) => write!(f, "account {account}"),
            Destination::Order(order) => write!(f, "order {order}"),
        }
    }
}

/// The scammer's identifiers named in a report (kept for blocking and dissuasion).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    pub phones: Vec<String>,
    pub urls: Vec<String>,
    pub apps: Vec<String>,
    pub social: Vec<String>,
}
