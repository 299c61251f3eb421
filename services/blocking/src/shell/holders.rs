//! Holders the banks name: a bank's answer to `restrict` (an account entering the high-risk
//! pool) may name the account's owner — the bank's pseudonymous key, the owner's phone
//! numbers on record, their other accounts there (`protocol::holder`). The order's task hands
//! it to the engine ([`super::engine::EngineMsg::Holder`]) before the order's answer; the
//! engine turns it into the core's [`Input::HolderReported`], one per case the account's pool
//! entry lists *when the engine takes it*, so that a case that reached the account while the
//! order was out is not missed. A case that reaches the account later is the core's: an
//! account in the pool whose holder is known names that holder in the new case
//! (`core::decide`, `money_held`). A holder named in two or more cases is a card seller: the
//! core restricts their phone cards to local voice only.
//!
//! Phone numbers are personal data: nothing here logs them.

use domain::AccountRef;
use protocol::holder::AccountHolder;

use crate::core::{Input, State};
use crate::events::PoolSubject;

/// A holder a bank named for an account it restricted.
#[derive(Debug)]
pub(super) struct Named {
    pub account: AccountRef,
    pub holder: AccountHolder,
}

/// The inputs `named` gives now: one [`Input::HolderReported`] per case of the account's pool
/// entry (at most `MAX_CASES_LISTED`), each naming the holder's phones and accounts (the
/// restricted one first); the core records what is new in each. None when the account has no
/// pool entry (it cannot happen: a restriction is ordered by its entry).
pub(super) fn inputs(state: &State, named: Named) -> Vec<Input> {
    let Some(entry) = state.pool.get(&PoolSubject::Account(named.account.clone())) else {
        tracing::warn!(account = %named.account, "a holder named for an account not in the pool: ignored");
        return Vec::new();
    };
    let phones: Vec<String> = named.holder.phones().iter().map(|p| p.as_str().to_owned()).collect();
    let mut accounts = vec![named.account.clone()];
    for account in named.holder.accounts() {
        if !accounts.contains(account) {
            accounts.push(account.clone());
        }
    }
    tracing::info!(
        account = %named.account,
        holder = %named.holder.key(),
        phones = phones.len(),
        accounts = accounts.len(),
        cases = entry.cases.len(),
        "the bank named the account's holder"
    );
    entry
        .cases
        .iter()
        .map(|case_id| Input::HolderReported {
            case_id: case_id.clone(),
            holder: named.holder.key().clone(),
            phones: phones.clone(),
            accounts: accounts.clone(),
        })
        .collect()
}
