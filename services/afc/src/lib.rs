//! The `afc` binary's library: hosting a city's services, the command-line client, the
//! embedded demo deployment and the benchmarks. `main.rs` only parses arguments.

pub mod bench;
pub mod city;
pub mod client;
pub mod demo;
pub mod drill;
pub mod embedded;
pub mod load;
pub mod stalls;
