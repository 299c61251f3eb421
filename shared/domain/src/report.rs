//! A validated fraud report: what a victim tells the center.

use serde::{Deserialize, Serialize};

use crate::{AccountRef, Fen, FraudType, PayerRef, PaymentOrderRef, Sensitive, TimeMs};

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
    pub transfers: Vec<ReportedTransfer>,
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

/// One payment the victim made, as the report gives it: the paying account in clear. Kept in
/// intake's store only; what every other service sees is its [`Transfer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedTransfer {
    pub to: Destination,
    pub amount: Fen,
    pub at_ms: TimeMs,
    /// The victim's own account the money left from (for 原路返还, the return the way the
    /// money came): personal data, masked when formatted. Left out of the encoding when
    /// absent, so a report without it encodes — and so hashes to its case id — as before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_account: Option<Sensitive<AccountRef>>,
}

/// One payment of a case as it is published (`case_reported`) and every service but intake
/// sees it: the paying account only by its keyed reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub to: Destination,
    pub amount: Fen,
    pub at_ms: TimeMs,
    /// The victim's paying account, by reference ([`PayerRef`]), when the report named it.
    /// Absent in events of schema 1 and when the report did not name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_account: Option<PayerRef>,
}

impl ReportedTransfer {
    /// The transfer as it is published, the paying account replaced by `payer(account)`.
    pub fn published(&self, payer: impl Fn(&AccountRef) -> PayerRef) -> Transfer {
        Transfer {
            to: self.to.clone(),
            amount: self.amount,
            at_ms: self.at_ms,
            from_account: self.from_account.as_ref().map(|account| payer(account.expose())),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(from_account: Option<&str>) -> ReportedTransfer {
        ReportedTransfer {
            to: Destination::Account(AccountRef::parse("icbc:6222020200001234").unwrap()),
            amount: Fen::new(500_000),
            at_ms: 1,
            from_account: from_account.map(|a| Sensitive::new(AccountRef::parse(a).unwrap())),
        }
    }

    #[test]
    fn a_transfer_without_a_paying_account_encodes_as_before_it_existed() {
        #[derive(Serialize)]
        struct Before {
            to: Destination,
            amount: Fen,
            at_ms: TimeMs,
        }
        let before = Before {
            to: Destination::Account(AccountRef::parse("icbc:6222020200001234").unwrap()),
            amount: Fen::new(500_000),
            at_ms: 1,
        };
        let bytes = rmp_serde::to_vec_named(&before).unwrap();
        assert_eq!(rmp_serde::to_vec_named(&reported(None)).unwrap(), bytes);
        assert_eq!(rmp_serde::from_slice::<ReportedTransfer>(&bytes).unwrap(), reported(None));
        assert_eq!(rmp_serde::from_slice::<Transfer>(&bytes).unwrap().from_account, None);
    }

    #[test]
    fn the_paying_account_is_masked_when_formatted_and_replaced_when_published() {
        let transfer = reported(Some("ccb:6217000011112222"));
        assert!(!format!("{transfer:?}").contains("6217000011112222"));
        let bank = crate::BankId::parse("ccb").unwrap();
        let published = transfer.published(|account| PayerRef::new(&account.bank(), 7));
        assert_eq!(published.from_account, Some(PayerRef::new(&bank, 7)));
        assert_eq!((published.to, published.amount, published.at_ms), (transfer.to, transfer.amount, transfer.at_ms));
    }
}
