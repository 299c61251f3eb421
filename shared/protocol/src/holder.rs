//! The holder a bank names in its answer to `restrict` (`afc.bank.<bank>.restrict`): the
//! pseudonymous key the bank uses for the restricted account's owner, the owner's phone
//! numbers on record (KYC) and the owner's other accounts at that bank. Blocking counts the
//! cases that name a holder: a holder in two or more is a card seller, whose phone cards are
//! cut to local voice only (docs/protocols.md, "restrict an account").
//!
//! The field is optional: a bank that names no holder (or an older gateway) answers without
//! it. A bank sends [`AccountRestrictReply`]; the client reads [`AccountRestrictAnswer`],
//! which keeps the holder apart ([`AccountRestrictAnswer::split`]) so that a malformed holder
//! is an invalid reply of its own while the restriction, which the bank applied, is still
//! confirmed.
//!
//! Phone numbers are personal data: an [`AccountHolder`]'s `Debug` and every error name how
//! many there are, or which entry, never a number.

use std::fmt;

use domain::{AccountRef, HolderKey, TimeMs};
use serde::{Deserialize, Serialize};

use crate::carrier::{Answer, Channel, FieldError, Phone, RequestId, RestrictReply};
use crate::limits::{MAX_HOLDER_ACCOUNTS, MAX_HOLDER_PHONES};

/// What a holder's lists accept (the numbers are [`MAX_HOLDER_PHONES`] and
/// [`MAX_HOLDER_ACCOUNTS`]; a test keeps them in step).
pub const PHONES_EXPECTED: &str = "at most 32 phone numbers";
pub const ACCOUNTS_EXPECTED: &str = "at most 32 accounts";
/// What an entry of `holder.phones` is, when one is refused (the value is not echoed).
pub const PHONE_EXPECTED: &str = "an E.164 number: + then 8-15 digits, not starting with 0 (value not echoed)";

/// What `holder` is, when it is not an object of these fields.
pub const HOLDER_EXPECTED: &str =
    r#"an object {"key": "<bank>:<hex>", "phones": [E.164, …], "accounts": [account, …]}, no other field"#;

/// The owner of a restricted account as its bank knows them. Never a name or an ID number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HolderWire", into = "HolderWire")]
pub struct AccountHolder {
    key: HolderKey,
    phones: Vec<Phone>,
    accounts: Vec<AccountRef>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderWire {
    key: String,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
}

impl AccountHolder {
    /// A holder record, its lists bounded.
    pub fn new(key: HolderKey, phones: Vec<Phone>, accounts: Vec<AccountRef>) -> Result<AccountHolder, FieldError> {
        if phones.len() > MAX_HOLDER_PHONES {
            return Err(FieldError::new("holder.phones", &format!("{} numbers", phones.len()), PHONES_EXPECTED));
        }
        if accounts.len() > MAX_HOLDER_ACCOUNTS {
            return Err(FieldError::new("holder.accounts", &format!("{} accounts", accounts.len()), ACCOUNTS_EXPECTED));
        }
        Ok(AccountHolder { key, phones, accounts })
    }

    /// The bank's pseudonymous key for the person: `<bank>:<hex>`.
    pub fn key(&self) -> &HolderKey {
        &self.key
    }

    /// The person's phone numbers on record at the bank (personal data: never logged).
    pub fn phones(&self) -> &[Phone] {
        &self.phones
    }

    /// The person's other accounts at the bank.
    pub fn accounts(&self) -> &[AccountRef] {
        &self.accounts
    }

    /// Checks the record against the account restricted: the key is the account's bank's
    /// (`<bank>:…`), and so is every account listed.
    pub fn check_for(&self, account: &AccountRef) -> Result<(), FieldError> {
        let bank = account.bank();
        if self.key.issuer() != bank.as_str() {
            return Err(FieldError::new("holder.key", self.key.as_str(), "a key the account's bank issued (<bank>:…)"));
        }
        if let Some(other) = self.accounts.iter().find(|a| a.bank() != bank) {
            return Err(FieldError::new(
                "holder.accounts",
                other.as_str(),
                "accounts at the restricted account's bank",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for AccountHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountHolder")
            .field("key", &self.key)
            .field("phones", &format_args!("<{} not shown>", self.phones.len()))
            .field("accounts", &self.accounts)
            .finish()
    }
}

impl TryFrom<HolderWire> for AccountHolder {
    type Error = FieldError;
    fn try_from(wire: HolderWire) -> Result<Self, FieldError> {
        let key = HolderKey::parse(&wire.key).map_err(|e| FieldError::new("holder.key", &wire.key, e.expected))?;
        if wire.phones.len() > MAX_HOLDER_PHONES {
            return Err(FieldError::new("holder.phones", &format!("{} numbers", wire.phones.len()), PHONES_EXPECTED));
        }
        if wire.accounts.len() > MAX_HOLDER_ACCOUNTS {
            let given = format!("{} accounts", wire.accounts.len());
            return Err(FieldError::new("holder.accounts", &given, ACCOUNTS_EXPECTED));
        }
        let phones = wire
            .phones
            .iter()
            .enumerate()
            .map(|(i, phone)| {
                Phone::parse(phone).map_err(|_| FieldError::new("holder.phones", &format!("#{i}"), PHONE_EXPECTED))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let accounts = wire
            .accounts
            .iter()
            .map(|a| AccountRef::parse(a).map_err(|e| FieldError::new("holder.accounts", a, e.expected)))
            .collect::<Result<Vec<_>, _>>()?;
        AccountHolder::new(key, phones, accounts)
    }
}

impl From<AccountHolder> for HolderWire {
    fn from(holder: AccountHolder) -> Self {
        HolderWire {
            key: holder.key.into(),
            phones: holder.phones.into_iter().map(String::from).collect(),
            accounts: holder.accounts.into_iter().map(|a| a.as_str().to_owned()).collect(),
        }
    }
}

/// A bank's answer to `restrict` (and `unrestrict`, which names no holder): the carrier's
/// [`RestrictReply`] and, when the bank names the account's owner, `holder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRestrictReply {
    /// The request answered.
    pub request_id: RequestId,
    /// Every channel cut on the account now, by any center, after this request.
    pub restricted: Vec<Channel>,
    /// When it was applied (the first time, for a repeated request).
    pub applied_at_ms: TimeMs,
    /// The account's owner, when the bank names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<AccountHolder>,
}

impl AccountRestrictReply {
    /// The reply of a restriction, naming `holder`.
    pub fn new(reply: RestrictReply, holder: Option<AccountHolder>) -> AccountRestrictReply {
        let RestrictReply { request_id, restricted, applied_at_ms } = reply;
        AccountRestrictReply { request_id, restricted, applied_at_ms, holder }
    }
}

impl Answer for AccountRestrictReply {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

/// What the client reads of a bank's `restrict` answer: [`AccountRestrictReply`] with its
/// `holder` not read yet, so that a malformed holder cannot make the restriction's
/// confirmation unreadable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRestrictAnswer {
    pub request_id: RequestId,
    pub restricted: Vec<Channel>,
    pub applied_at_ms: TimeMs,
    #[serde(default)]
    holder: Option<serde_json::Value>,
}

impl Answer for AccountRestrictAnswer {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

impl AccountRestrictAnswer {
    /// The restriction confirmed, and the holder named for `account`: `None` when the bank
    /// named none, `Err` when the holder is malformed or not of the account's bank.
    pub fn split(self, account: &AccountRef) -> (RestrictReply, Option<Result<AccountHolder, FieldError>>) {
        let reply = RestrictReply {
            request_id: self.request_id,
            restricted: self.restricted,
            applied_at_ms: self.applied_at_ms,
        };
        let holder = self.holder.map(|value| {
            // serde's own message may quote a value (a phone number given as a number): not
            // echoed.
            let wire = HolderWire::deserialize(value)
                .map_err(|_| FieldError::new("holder", "(not echoed)", HOLDER_EXPECTED))?;
            let holder = AccountHolder::try_from(wire)?;
            holder.check_for(account)?;
            Ok(holder)
        });
        (reply, holder)
    }
}

#[cfg(test)]
mod tests;
