//! Restrictions (blocking's high-risk pool): a center cuts channels of an account, and a
//! transfer that needs a cut channel is refused as a hold refuses it. Answered as a bank
//! answers `restrict` and `unrestrict`, idempotent by request id.
//!
//! Which channel a transfer needs: one to another account goes through online or mobile
//! banking (refused only when both are cut: a mule uses whichever is left); a payment into a
//! platform's order through third-party payment; a cash-out through a cash machine. Only the
//! bank counter, which no scheduled transfer uses, is never cut.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, City, TimeMs};
use protocol::adapter::{AccountRestrictRequest, AdapterError, AdapterErrorKind, Counterparty};
use protocol::carrier::{Channel, RequestId, RestrictReply};

use super::adapter::adapter_error;
use super::{Account, BlockReason, Ledger};

/// Whether a request cuts channels or gives them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Restriction {
    Restrict,
    Unrestrict,
}

/// Each center's channels cut on one account.
pub(super) type Cuts = BTreeMap<City, BTreeSet<Channel>>;

/// The answers given, by verb and request id (a repeated request gets its first answer).
pub(super) type RestrictReplies = BTreeMap<(Restriction, RequestId), Result<RestrictReply, AdapterError>>;

/// Every channel cut on an account, by any center.
pub(super) fn all_cut(cuts: &Cuts) -> BTreeSet<Channel> {
    cuts.values().flatten().copied().collect()
}

impl Account {
    /// The restriction that refuses a transfer to `to`, if its channels are cut.
    pub(super) fn restriction_refusal(&self, to: &Counterparty) -> Option<BlockReason> {
        let needs: &[Channel] = match to {
            Counterparty::Account(_) => &[Channel::OnlineBanking, Channel::MobileBanking],
            Counterparty::Order(_) => &[Channel::ThirdPartyPayment],
            Counterparty::CashOut(_) => &[Channel::Atm],
        };
        let cut = all_cut(&self.restrictions);
        if !needs.iter().all(|channel| cut.contains(channel)) {
            return None;
        }
        let (center, _) = self.restrictions.iter().find(|(_, channels)| needs.iter().any(|c| channels.contains(c)))?;
        Some(BlockReason::Restricted { center: center.clone(), channels: needs.to_vec() })
    }
}

impl Ledger {
    /// Cuts the request's channels of an account, as a bank answers `restrict`.
    pub fn restrict(&mut self, req: &AccountRestrictRequest, now: TimeMs) -> Result<RestrictReply, AdapterError> {
        self.restriction(Restriction::Restrict, req, now)
    }

    /// Gives the request's channels back (those this center cut), as a bank answers
    /// `unrestrict`. Channels another center cut stay cut.
    pub fn unrestrict(&mut self, req: &AccountRestrictRequest, now: TimeMs) -> Result<RestrictReply, AdapterError> {
        self.restriction(Restriction::Unrestrict, req, now)
    }

    /// Every channel cut on `account` now, by any center (empty for an unknown account).
    pub fn restricted(&self, account: &AccountRef) -> BTreeSet<Channel> {
        self.accounts.get(account).map(|a| all_cut(&a.restrictions)).unwrap_or_default()
    }

    fn restriction(
        &mut self,
        verb: Restriction,
        req: &AccountRestrictRequest,
        now: TimeMs,
    ) -> Result<RestrictReply, AdapterError> {
        let key = (verb, req.request_id.clone());
        if let Some(first) = self.restrict_replies.get(&key) {
            self.duplicates += 1;
            return first.clone();
        }
        let answer = match self.accounts.get_mut(&req.account) {
            None => Err(adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account))),
            Some(account) => {
                let channels = req.channels.as_slice();
                match verb {
                    Restriction::Restrict => {
                        account.restrictions.entry(req.center.clone()).or_default().extend(channels);
                    }
                    Restriction::Unrestrict => {
                        if let Some(cut) = account.restrictions.get_mut(&req.center) {
                            cut.retain(|channel| !channels.contains(channel));
                            if cut.is_empty() {
                                account.restrictions.remove(&req.center);
                            }
                        }
                    }
                }
                let restricted = all_cut(&account.restrictions).into_iter().collect();
                Ok(RestrictReply { request_id: req.request_id.clone(), restricted, applied_at_ms: now })
            }
        };
        self.restrict_replies.insert(key, answer.clone());
        answer
    }
}
