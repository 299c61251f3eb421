//! Test kit for afc: spawns real `nats-server` processes on free loopback ports.
//!
//! - [`NatsServer`]: one server in its own temp dir (config, JetStream store, log), with
//!   [`NatsServer::single`] for simple tests and [`NatsServer::start`] for anything else.
//! - [`LeafLink`]: a TCP proxy between a city's leaf remote and the hub, that a test can
//!   [`cut`](LeafLink::cut) and [`restore`](LeafLink::restore) to simulate a partition.
//! - [`eventually`]: bounded polling, for what a test can only observe by asking again.
//! - [`Province`]: a hub (JetStream domain `province`) with one leaf [`CityNode`] per city
//!   (JetStream domain = the city's name), each city linked through its own [`LeafLink`].
//! - [`Browser`]: headless Chromium driven over the DevTools Protocol, with [`Tab`]s to
//!   open pages, fill forms, click and wait for what the page shows, for end-to-end tests of
//!   the web console ([`browser`]).
//!
//! The `nats-server` binary is found by [`nats_server_binary`]; `cargo xtask test` and
//! `cargo xtask demo` install it under `<workspace>/.tools/nats-server/`.

mod binary;
pub mod browser;
mod error;
mod http;
mod link;
mod poll;
mod province;
mod server;

pub use binary::{NATS_SERVER_ENV, nats_server_binary};
pub use browser::{Browser, BrowserError, CHROMIUM_ENV, Tab, chromium_binary};
pub use error::TestkitError;
pub use http::{Response as HttpResponse, get as http_get, monitor_get};
pub use link::LeafLink;
pub use poll::{POLL_INTERVAL, eventually};
pub use province::{
    CLUSTER_WAIT_TIMEOUT, CityNode, HUB_CLUSTER, HUB_DOMAIN, LEAF_WAIT_TIMEOUT, NodeSecurity, Province,
    ProvinceOptions, ProvinceSecurity,
};
pub use server::{
    ClusterOptions, LAME_DUCK_DURATION, LEAF_RECONNECT, NatsServer, READY_TIMEOUT, STOP_TIMEOUT, ServerOptions,
    free_port_range,
};

/// Result type of the test kit.
pub type Result<T, E = TestkitError> = std::result::Result<T, E>;
