//! Who holds the mule accounts, as their banks know them: a pseudonymous key per bank
//! (`<bank>:<32 hex>`, never a name), the phone numbers on record, the accounts held there.
//! A card seller holds several of a gang's mule accounts at one bank (`[mules]`
//! `seller_share`, `seller_accounts`); every other mule account has a holder of its own. A
//! simulated bank names the holder in its answer to `restrict` ([`Holders::record`]), as
//! `protocol::holder` describes.
//!
//! Ground truth ([`card_sellers`]): the holders whose accounts the plan moves money of two or
//! more cases through — blocking's rule for a card seller (two cases), whatever the number of
//! accounts they hold.
//!
//! Holders are drawn after a gang's networks, from a generator of their own, so they change
//! no account, transfer or report of a script.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, BankId, HolderKey};
use protocol::carrier::Phone;
use protocol::holder::AccountHolder;
use rand::Rng;
use rand::rngs::StdRng;

use crate::crime::Script;
use crate::scenario::MuleSpec;

/// Cases naming a holder that make them a card seller (blocking's `CARD_SELLER_CASES`).
pub const CARD_SELLER_CASES: usize = 2;

/// One holder of mule accounts at one bank.
#[derive(Clone, PartialEq, Eq)]
pub struct Holder {
    /// The bank's key for the person.
    pub key: HolderKey,
    /// Mainland mobile numbers on record (personal data: never printed).
    pub phones: Vec<Phone>,
    /// The accounts they hold at the bank.
    pub accounts: Vec<AccountRef>,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holder")
            .field("key", &self.key)
            .field("phones", &format_args!("<{} not shown>", self.phones.len()))
            .field("accounts", &self.accounts)
            .finish()
    }
}

/// Every holder of a world's mule accounts.
#[derive(Debug, Clone, Default)]
pub struct Holders {
    list: Vec<Holder>,
    by_account: BTreeMap<AccountRef, usize>,
}

impl Holders {
    /// Adds a holder; an account already held keeps its first holder.
    pub fn add(&mut self, holder: Holder) {
        let index = self.list.len();
        for account in &holder.accounts {
            self.by_account.entry(account.clone()).or_insert(index);
        }
        self.list.push(holder);
    }

    /// The holder of `account`, if it is a mule account.
    pub fn of(&self, account: &AccountRef) -> Option<&Holder> {
        self.by_account.get(account).map(|&i| &self.list[i])
    }

    /// Every holder, in the order drawn.
    pub fn all(&self) -> &[Holder] {
        &self.list
    }

    /// What `account`'s bank says of its holder when it restricts it: the key, the phones and
    /// the holder's other accounts there (`None` for an account with no holder on file).
    pub fn record(&self, account: &AccountRef) -> Option<AccountHolder> {
        let holder = self.of(account)?;
        let others = holder.accounts.iter().filter(|a| *a != account).cloned().collect();
        AccountHolder::new(holder.key.clone(), holder.phones.clone(), others).ok()
    }
}

/// Draws the holders of one gang's mule accounts: per bank, in account order, each holder a
/// card seller with the chance `spec.seller_share`, holding `spec.seller_accounts` of the
/// bank's accounts (fewer when fewer are left), else one.
pub(crate) fn draw(rng: &mut StdRng, spec: &MuleSpec, accounts: &[AccountRef]) -> Vec<Holder> {
    let mut by_bank: BTreeMap<BankId, Vec<AccountRef>> = BTreeMap::new();
    for account in accounts {
        by_bank.entry(account.bank()).or_default().push(account.clone());
    }
    let mut holders = Vec::new();
    for (bank, accounts) in by_bank {
        let mut rest = &accounts[..];
        while !rest.is_empty() {
            let held = if rest.len() >= 2 && rng.random_bool(spec.seller_share) {
                (rng.random_range(spec.seller_accounts.min..=spec.seller_accounts.max) as usize).min(rest.len())
            } else {
                1
            };
            let key = HolderKey::parse(&format!("{bank}:{:032x}", rng.random::<u128>()))
                .expect("a bank code and 32 hex digits make a holder key");
            let phones = (0..rng.random_range(spec.holder_phones.min..=spec.holder_phones.max))
                .map(|_| Phone::parse(&format!("+86{}", crate::synth::phone(rng))).expect("a mainland mobile"))
                .collect();
            holders.push(Holder { key, phones, accounts: rest[..held].to_vec() });
            rest = &rest[held..];
        }
    }
    holders
}

/// A holder the ground truth calls a card seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSeller {
    /// The bank's key for them.
    pub key: HolderKey,
    /// Cases whose money the plan moves through their accounts.
    pub cases: usize,
    /// Accounts they hold.
    pub accounts: usize,
    /// Their phone numbers on record: the cards blocking should restrict.
    pub phones: Vec<Phone>,
}

/// The card sellers of a script's plan: holders whose accounts the plan moves money of
/// [`CARD_SELLER_CASES`] or more cases through (`CaseInfo::mules`).
pub fn card_sellers(script: &Script) -> Vec<CardSeller> {
    let holders = &script.world.holders;
    let mut cases: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for report in &script.reports {
        for account in report.case.mules.keys() {
            if let Some(&holder) = holders.by_account.get(account) {
                cases.entry(holder).or_default().insert(report.case.case);
            }
        }
    }
    cases
        .into_iter()
        .filter(|(_, cases)| cases.len() >= CARD_SELLER_CASES)
        .map(|(i, cases)| {
            let holder = &holders.list[i];
            CardSeller {
                key: holder.key.clone(),
                cases: cases.len(),
                accounts: holder.accounts.len(),
                phones: holder.phones.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Span;
    use rand::SeedableRng;

    #[test]
    fn sellers_hold_several_accounts_of_one_bank_and_every_account_has_one_holder() {
        let accounts: Vec<AccountRef> = (0..40)
            .map(|i| AccountRef::parse(&format!("{}:62220202{i:08}", ["icbc", "ccb"][i % 2])).unwrap())
            .collect();
        let spec = MuleSpec {
            margin: Span { min: 0.0, max: 0.0 },
            forward_delay_ms: Span { min: 1, max: 1 },
            cash_out_share: 0.0,
            order_share: 0.0,
            seller_share: 0.5,
            seller_accounts: Span { min: 2, max: 4 },
            holder_phones: Span { min: 1, max: 2 },
        };
        let drawn = draw(&mut StdRng::seed_from_u64(7), &spec, &accounts);
        assert_eq!(drawn, draw(&mut StdRng::seed_from_u64(7), &spec, &accounts), "deterministic");
        let mut holders = Holders::default();
        drawn.into_iter().for_each(|h| holders.add(h));
        assert!(accounts.iter().all(|a| holders.of(a).is_some()));
        assert_eq!(holders.all().iter().map(|h| h.accounts.len()).sum::<usize>(), accounts.len());
        let sellers: Vec<&Holder> = holders.all().iter().filter(|h| h.accounts.len() > 1).collect();
        assert!(!sellers.is_empty());
        for holder in holders.all() {
            assert!(holder.accounts.len() <= 4 && (1..=2).contains(&holder.phones.len()));
            assert!(holder.accounts.iter().all(|a| a.bank().as_str() == holder.key.issuer()), "one bank");
        }
        let seller = sellers[0];
        let record = holders.record(&seller.accounts[0]).unwrap();
        assert_eq!(record.accounts(), &seller.accounts[1..], "the other accounts");
        record.check_for(&seller.accounts[0]).unwrap();
        assert!(!format!("{seller:?}").contains("+86"), "no phone number printed");
    }
}
