//! The victim's paying account as events name it: a keyed reference.
//!
//! A report may name, per transfer, the victim's own account the money left from
//! (`from_account`), which restitution returns the money to (原路返还). It is personal data
//! of the same kind as the victim's ID number, and the province sources every event, so
//! `case_reported` carries a [`PayerRef`] instead: the account's bank and the
//! SipHash-1-3-128 of the whole account under intake's [`PayerSecret`], drawn with its
//! records store and never leaving it. The same account gives the same reference in a city
//! (restitution can tell two payments from one account apart from two accounts without
//! reading them); without the secret nobody can tell which account it is. The account
//! itself stays in the report in intake's store, and intake's `payers` command gives it.

use std::fmt;
use std::hash::Hasher;

use domain::report::Report;
use domain::{AccountRef, CaseId, PayerRef};
use protocol::intake::{CasePayers, TransferPayer};
use siphasher::sip128::{Hasher128, SipHasher13};

/// Intake's secret that names paying accounts (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PayerSecret(pub u64, pub u64);

impl PayerSecret {
    /// The reference of `account` under this secret.
    pub fn reference(&self, account: &AccountRef) -> PayerRef {
        let mut hasher = SipHasher13::new_with_keys(self.0, self.1);
        hasher.write(account.as_str().as_bytes());
        PayerRef::new(&account.bank(), hasher.finish128().as_u128())
    }

    /// The secret as it is stored: 16 bytes, big-endian.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.0.to_be_bytes());
        bytes[8..].copy_from_slice(&self.1.to_be_bytes());
        bytes
    }

    /// The secret stored as [`PayerSecret::to_bytes`] wrote it.
    pub fn from_bytes(bytes: [u8; 16]) -> PayerSecret {
        let (a, b) = bytes.split_at(8);
        PayerSecret(
            u64::from_be_bytes(a.try_into().expect("8 bytes")),
            u64::from_be_bytes(b.try_into().expect("8 bytes")),
        )
    }
}

impl fmt::Debug for PayerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayerSecret(<secret>)")
    }
}

/// The paying accounts `report` (of case `case_id`) names, with their references under
/// `secret`.
pub fn payers(case_id: CaseId, report: &Report, secret: &PayerSecret) -> CasePayers {
    let transfers = report
        .transfers
        .iter()
        .enumerate()
        .filter_map(|(index, transfer)| {
            let account = transfer.from_account.as_ref()?;
            Some(TransferPayer {
                index: u32::try_from(index).expect("at most MAX_TRANSFERS transfers"),
                payer: secret.reference(account.expose()),
                from_account: account.clone(),
            })
        })
        .collect();
    CasePayers { case_id, transfers }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(s: &str) -> AccountRef {
        AccountRef::parse(s).unwrap()
    }

    #[test]
    fn one_account_one_reference_under_one_secret_and_nothing_of_the_number_in_it() {
        let secret = PayerSecret(1, 2);
        let a = secret.reference(&account("ccb:6217000011112222"));
        assert_eq!(a, secret.reference(&account("ccb:6217000011112222")), "deterministic");
        assert_ne!(a, secret.reference(&account("ccb:6217000011112223")));
        assert_ne!(a, PayerSecret(1, 3).reference(&account("ccb:6217000011112222")), "keyed");
        assert_eq!(a.bank().as_str(), "ccb");
        assert!(!a.as_str().contains("6217000011112222"));
        // Pinned: a reference published once must keep naming the same account under the
        // same secret. Never rewrite the expected value to make this pass.
        assert_eq!(a.as_str(), "ccb:5d7c3bc42b9bc55fc75243c38a460679");
        assert_eq!(PayerSecret::from_bytes(secret.to_bytes()), secret);
        assert_eq!(format!("{secret:?}"), "PayerSecret(<secret>)");
    }
}
