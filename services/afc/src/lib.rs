//! The `afc` binary's library: what a node runs and what staff use.
//!
//! - [`host`]: the services of a city node, in one list, run on the service runtime.
//! - [`client`]: the staff commands' client of intake, blocking and dissuasion.
//! - [`config`]: a node's config file, merged with the environment and the flags, checked.
//! - [`console`]: the staff console, a web page per role (`afc console`).
//! - [`cli`]: the `afc case`, `afc block`, `afc task`, `afc city provision` and `afc province`
//!   commands.
//!
//! The engineers' tools (demo, benchmarks, load, drills) are in the `afc-lab` binary
//! (`loadtests`), which depends on this crate, never the reverse.

pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod host;
