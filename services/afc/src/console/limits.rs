//! The console's bounds: every session, form, connection and wait has one.

use std::time::Duration;

/// Sessions open at once on one console (each holds a connection to the NATS server as its
/// person). A login beyond is refused until one ends or expires.
pub const MAX_SESSIONS: usize = 200;
/// Sessions one person may hold at once (a desk and a laptop, a browser restarted): opening
/// one more ends their least recently used.
pub const MAX_SESSIONS_PER_PERSON: usize = 4;
/// A session unused this long is over: the person logs in again.
pub const SESSION_IDLE_MS: u64 = 30 * 60 * 1000;
/// A session is over this long after its login, used or not: a night shift and its handover.
pub const SESSION_MAX_AGE_MS: u64 = 13 * 60 * 60 * 1000;
/// Forms a session holds unspent at once (one per form the console rendered); an older form
/// is refused as stale.
pub const FORMS_PER_SESSION: usize = 64;
/// Failed logins of one name within [`LOGIN_WINDOW_MS`] after which the name is refused until
/// the window passes.
pub const LOGIN_FAILURES: u32 = 5;
pub const LOGIN_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Names whose failed logins are remembered at once (the oldest is forgotten first).
pub const LOGIN_NAMES_TRACKED: usize = 1000;
/// Longest a login waits for the NATS server to accept the person's identity.
pub const LOGIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a page waits for a service's answer.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections the console serves at once (each open page holds one for its live updates).
pub const CONSOLE_CONNECTIONS: usize = 256;
/// A connection that reads and writes nothing this long is closed (a live page is sent a
/// keep-alive well within it).
pub const CONSOLE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a live page is sent a keep-alive comment.
pub const LIVE_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Changes the live hub holds for a slow page before that page is told to reload. The hub
/// hears a few changes a second (one per service every 500 ms at most, `changes`).
pub const LIVE_CHANNEL: usize = 256;
/// Changes the live hub keeps after telling them, for a page rendered just before a change
/// whose live stream connects just after it (told at once). At ~10 changes a second under
/// load, 64 reach back ~6 s (a page takes well under one to connect); a page from further
/// back is told to fetch itself again. Each holds up to 2,048 case ids.
pub const LIVE_RECENT: usize = 64;
/// A live page is told of changes at most this often (many events of one case arrive within
/// a second while its trail is traced).
pub const LIVE_COALESCE: Duration = Duration::from_millis(500);
/// How often the province board asks the coordinator whether its figures moved, while a
/// board is open.
pub const PROVINCE_LIVE_POLL: Duration = Duration::from_secs(2);
/// Numbers of tasks a session keeps to show its person: dissuasion tells a task's number
/// only in its answer to the claim (or `next`), and the queue page shows it beside the task
/// while the person holds it. A shift claims a few dozen; the oldest is forgotten first.
pub const NUMBERS_PER_SESSION: usize = 32;
/// Longest search text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Longest free text (a reason, a note) accepted from a form, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Largest form body accepted, in bytes.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Rows one list page shows.
pub const PAGE_ROWS: u32 = 50;
/// Hops the trail graph draws at most; a larger trail is drawn to this and says so.
pub const MAX_GRAPH_HOPS: usize = 2000;
