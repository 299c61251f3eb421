//! Who may connect to afc's NATS servers, and what each may do there.
//!
//! The design, verified against nats-server 2.15 (docs/ARCHITECTURE.md, "Security"):
//! config-file accounts with nkey users, one account per city on its server and on the hub,
//! bank gateways and payment platforms in accounts of their own that export their subjects
//! to the city, least-privilege publish/subscribe permissions per role, and TLS on every
//! link (cities verify the hub, the hub verifies the cities).
//!
//! - [`connect`]: a process's connect options (nkey, TLS against the CA, its inbox, the
//!   server's refusals logged);
//! - [`hub`]: the hub's accounts: one per city, bound to its leaf link, and the province's,
//!   which sources every city's stream;
//! - [`keys`]: identities, one nkey pair per process, the seed in a 0600 file;
//! - [`deployment`]: a whole deployment's CA, certificates, identities and nats-server
//!   configs, generated into one directory;
//! - [`grant`]: what an identity may do (publish, subscribe, answer, consume a stream);
//! - [`accounts`]: the `accounts` block of a server's config, its users and what accounts
//!   export to each other;
//! - [`roles`]: the grants of staff, provisioners and gateways, and a city server's accounts;
//! - [`secrets`]: a province's CA, certificates, identities and accounts blocks, without
//!   server configs (the deployment's, or a test's servers on ports of their own);
//! - [`staff`]: the people of a center and of the province, their roles and what each may
//!   ask (the servers and the staff console enforce the same table);
//! - [`pki`]: a development certificate authority and the certificates a local deployment
//!   needs (production takes the paths of the operator's PKI).

pub mod accounts;
pub mod connect;
pub mod deployment;
pub mod grant;
pub mod hub;
pub mod keys;
pub mod pki;
pub mod roles;
pub mod secrets;
pub mod staff;

pub use connect::{CredentialFiles, Credentials};
pub use grant::Grant;
pub use keys::{Identity, KeyError};
