//! Bounds of the service runtime, in one place.

use std::time::Duration;

/// Commands a service handles at once; a command beyond it waits for a slot (NATS buffers
/// it in the meantime).
pub const COMMANDS_IN_FLIGHT: usize = 256;

/// How long a service's parts get to stop after being told to (shutdown, or another part
/// failed) before they are aborted.
pub const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the relays get to publish what is left in the outbox once everything else
/// stopped: the relay's own drain bound, plus a margin.
pub const RELAY_STOP_TIMEOUT: Duration = Duration::from_secs(12);

/// How long the other services of a node get to stop after one of them failed.
pub const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections a node's HTTP endpoints serve at once (a probe, a scraper, an operator's
/// curl); one beyond waits to be accepted.
pub const HTTP_CONNECTIONS: usize = 32;
/// A connection to the node's HTTP endpoints that reads nothing for this long is closed (a
/// scraper keeps its connection between scrapes, 15–60 s apart, and opens a new one after).
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A service whose outbox holds events and whose relay got nothing out for this long is not
/// ready (`/readyz`).
pub const OUTBOX_STALL: Duration = Duration::from_secs(30);
