//! The `afc` binary's library: what a node runs and what staff use.
//!
//! - [`host`]: the services of a city node, in one list, run on the service runtime.
//! - [`client`]: intake's command-line client (`afc case …`).
//! - [`config`]: a node's config file, merged with the environment and the flags, checked.
//! - [`cli`]: the `afc case`, `afc city provision` and `afc province` commands.
//!
//! The engineers' tools (demo, benchmarks, load, drills) are in the `afc-lab` binary
//! (`loadtests`), which depends on this crate, never the reverse.

pub mod cli;
pub mod client;
pub mod config;
pub mod host;
