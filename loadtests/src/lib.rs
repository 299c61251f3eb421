//! The engineers' lab: everything `afc-lab` does, on top of the `afc` host and the
//! simulator. Production never depends on this crate.
//!
//! - [`deployment`]: an embedded province (real nats-servers from the testkit, city nodes
//!   each on a runtime of its own ([`city_process`]), simulated banks) and event watches.
//! - [`demo`]: `afc-lab demo`.
//! - [`bench`](mod@bench): `afc-lab bench freeze`, time-to-freeze against its floor.
//! - [`load`]: `afc-lab load`, open-loop load and sweeps, with [`probes`] for stalls.
//! - [`submit`] and [`completions`]: the open-loop submitter and the completion watcher
//!   `bench` and `load` share; [`targets`]: what they are judged against; [`setup`]: what
//!   they print about the machine.
//! - [`drill`]: `afc-lab sim run|clock`, crime-wave drills scored against ground truth.
//! - [`crash`]: `afc-lab drill crash`, a drill whose `afc city` processes are killed and
//!   restarted, judged on nothing lost or done twice.
//! - [`harness`]: open-loop load measurement, independent of what is loaded.
//! - [`up`]: `afc-lab up|down`, a local province as separate OS processes, with
//!   [`sim_serve`] (`afc-lab sim serve`) playing its banks and payment platforms.

pub mod bench;
pub mod city_process;
pub mod completions;
pub mod console;
pub mod crash;
pub mod demo;
pub mod deployment;
pub mod drill;
pub mod harness;
pub mod load;
pub mod probes;
pub mod secured;
pub mod setup;
pub mod sim_serve;
pub mod submit;
pub mod targets;
pub mod up;
