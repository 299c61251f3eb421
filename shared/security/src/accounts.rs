//! The `accounts` block of a nats-server config: accounts, their nkey users with their
//! grants, and the subjects accounts export to and import from each other.
//!
//! On a city's server: one account for the city's services (JetStream on), and one for each
//! bank gateway and payment platform served there, which exports its verbs to the city
//! account only. An account is an isolation boundary: a gateway is an outside party, and a
//! mistake in its user's grant still cannot reach the city's stream or inboxes. (Layout and
//! the reasons, verified against nats-server: docs/ARCHITECTURE.md, "Security".)

use std::fmt::Write as _;

use crate::grant::{Grant, quoted};

/// One account.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Upper-case letters, digits and `_` (e.g. `HANGZHOU`, `BANK_ICBC`).
    pub name: String,
    pub jetstream: bool,
    pub users: Vec<User>,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
}

/// An nkey user of an account.
#[derive(Debug, Clone)]
pub struct User {
    /// Which process it is, for the reader of the config (a comment).
    pub who: String,
    /// The identity's public key (`U…`).
    pub public_key: String,
    pub grant: Grant,
    /// Connects as a leaf node (a city's link to the hub), not as a client.
    pub leaf: bool,
}

/// Subjects an account lets others use.
#[derive(Debug, Clone)]
pub enum Export {
    /// Requests on `subject` from the accounts `to` reach this account's responders.
    Service { subject: String, to: Vec<String> },
    /// Messages on `subject` reach subscribers of the accounts `to`.
    Stream { subject: String, to: Vec<String> },
}

/// Subjects an account uses from another.
#[derive(Debug, Clone)]
pub enum Import {
    Service { from: String, subject: String },
    Stream { from: String, subject: String },
}

/// Why a set of accounts cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountsError {
    #[error("account name {0:?}: upper-case letters, digits and '_' only")]
    Name(String),
    #[error("account {0} is defined twice")]
    Duplicate(String),
    #[error("account {account} imports {subject:?} from {from}, which is not defined")]
    UnknownSource { account: String, from: String, subject: String },
    #[error("user {who:?} appears twice (public key {public_key})")]
    DuplicateUser { who: String, public_key: String },
}

/// The `accounts { … }` block (and `system_account` when `system` names one of them).
pub fn render(accounts: &[Account], system: Option<&str>) -> Result<String, AccountsError> {
    check(accounts)?;
    let mut out = String::from("accounts {\n");
    for account in accounts {
        let _ = writeln!(out, "  {} {{", account.name);
        if account.jetstream {
            out.push_str("    jetstream: enabled\n");
        }
        out.push_str("    users: [\n");
        for user in &account.users {
            let _ = writeln!(out, "      # {}", user.who.replace('\n', " "));
            out.push_str("      {\n");
            let _ = writeln!(out, "        nkey: {}", user.public_key);
            let kind = if user.leaf { "LEAFNODE" } else { "STANDARD" };
            let _ = writeln!(out, "        allowed_connection_types: [\"{kind}\"]");
            out.push_str(&user.grant.render("        "));
            out.push_str("      }\n");
        }
        out.push_str("    ]\n");
        if !account.exports.is_empty() {
            out.push_str("    exports: [\n");
            for export in &account.exports {
                let (kind, subject, to) = match export {
                    Export::Service { subject, to } => ("service", subject, to),
                    Export::Stream { subject, to } => ("stream", subject, to),
                };
                let _ = writeln!(out, "      {{ {kind}: {}, accounts: [{}] }}", quoted(subject), to.join(", "));
            }
            out.push_str("    ]\n");
        }
        if !account.imports.is_empty() {
            out.push_str("    imports: [\n");
            for import in &account.imports {
                let (kind, from, subject) = match import {
                    Import::Service { from, subject } => ("service", from, subject),
                    Import::Stream { from, subject } => ("stream", from, subject),
                };
                let _ = writeln!(out, "      {{ {kind}: {{ account: {from}, subject: {} }} }}", quoted(subject));
            }
            out.push_str("    ]\n");
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    if let Some(system) = system {
        let _ = writeln!(out, "system_account: {system}");
    }
    Ok(out)
}

fn check(accounts: &[Account]) -> Result<(), AccountsError> {
    let mut names = std::collections::BTreeSet::new();
    let mut keys = std::collections::BTreeSet::new();
    for account in accounts {
        let valid = !account.name.is_empty()
            && account.name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(AccountsError::Name(account.name.clone()));
        }
        if !names.insert(account.name.as_str()) {
            return Err(AccountsError::Duplicate(account.name.clone()));
        }
        for user in &account.users {
            if !keys.insert(user.public_key.as_str()) {
                return Err(AccountsError::DuplicateUser {
                    who: user.who.clone(),
                    public_key: user.public_key.clone(),
                });
            }
        }
    }
    for account in accounts {
        for import in &account.imports {
            let (Import::Service { from, subject } | Import::Stream { from, subject }) = import;
            if !names.contains(from.as_str()) {
                return Err(AccountsError::UnknownSource {
                    account: account.name.clone(),
                    from: from.clone(),
                    subject: subject.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(who: &str, key: &str) -> User {
        User { who: who.into(), public_key: key.into(), grant: Grant::new().publish("x.y"), leaf: false }
    }

    #[test]
    fn an_import_from_an_account_not_defined_is_named() {
        let city = Account {
            name: "HANGZHOU".into(),
            imports: vec![Import::Service { from: "BANK_ICBC".into(), subject: "x.bank.icbc.>".into() }],
            ..Account::default()
        };
        assert_eq!(
            render(&[city], None).unwrap_err().to_string(),
            "account HANGZHOU imports \"x.bank.icbc.>\" from BANK_ICBC, which is not defined"
        );
    }

    #[test]
    fn a_key_used_twice_and_a_bad_account_name_are_refused() {
        let twice =
            Account { name: "A".into(), users: vec![user("one", "UA"), user("two", "UA")], ..Account::default() };
        assert!(matches!(render(&[twice], None), Err(AccountsError::DuplicateUser { .. })));
        let bad = Account { name: "Hangzhou".into(), ..Account::default() };
        assert_eq!(render(&[bad], None), Err(AccountsError::Name("Hangzhou".into())));
    }

    #[test]
    fn exports_and_imports_render_as_nats_server_reads_them() {
        let bank = Account {
            name: "BANK_ICBC".into(),
            users: vec![user("gateway", "UB")],
            exports: vec![Export::Service { subject: "x.bank.icbc.>".into(), to: vec!["HANGZHOU".into()] }],
            ..Account::default()
        };
        let city = Account {
            name: "HANGZHOU".into(),
            jetstream: true,
            users: vec![user("intake", "UC")],
            imports: vec![Import::Service { from: "BANK_ICBC".into(), subject: "x.bank.icbc.>".into() }],
            ..Account::default()
        };
        let text = render(&[bank, city], None).unwrap();
        assert!(text.contains("{ service: \"x.bank.icbc.>\", accounts: [HANGZHOU] }"), "{text}");
        assert!(text.contains("{ service: { account: BANK_ICBC, subject: \"x.bank.icbc.>\" } }"), "{text}");
        assert!(text.contains("jetstream: enabled") && text.contains("allowed_connection_types: [\"STANDARD\"]"));
    }
}
