//! Every bound and fixed duration the simulator applies, by name.

/// Stop-payments one center may apply to one account: the first one and one renewal.
pub const MAX_STOPS_PER_CENTER: u8 = 2;

/// How long a stop-payment holds an account: 48 hours.
pub const STOP_DURATION_MS: u64 = 48 * 60 * 60 * 1000;

/// How long a freeze holds money: 183 days (six months).
pub const FREEZE_DURATION_MS: u64 = 183 * 24 * 60 * 60 * 1000;

/// Most statement entries returned in one stop-payment or flows reply (the oldest ones at or
/// after `since_ms`), so that a reply stays well under a NATS message's size limit.
pub const MAX_STATEMENT_ENTRIES: usize = 512;

/// Longest accepted `request_id`, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 256;

/// Longest accepted `allocation` of a return, in bytes: an id, like a request id.
pub const MAX_ALLOCATION_BYTES: usize = MAX_REQUEST_ID_BYTES;

/// Longest a simulated bank takes from accepting a return to executing it: 5 days (3
/// working days and a weekend).
pub const MAX_RETURN_DELAY_MS: u64 = 5 * 24 * 60 * 60 * 1000;

/// Longest notice period, or approvers' delay, a drill's restitution may have, in minutes:
/// 365 days, as a node's `[restitution] notice_minutes` accepts.
pub const MAX_NOTICE_MINUTES: f64 = 525_600.0;

/// Most transfers a [`crate::Schedule`] holds pending at once.
pub const MAX_SCHEDULED_TRANSFERS: usize = 1_000_000;

/// Longest the schedule driver sleeps before looking at the schedule again, so that a
/// transfer added while it sleeps, or a clock that runs faster than real time, is noticed.
pub const DRIVER_MAX_IDLE_MS: u64 = 250;

/// Outcomes the schedule driver buffers for each slow subscriber before it drops the oldest.
pub const DRIVER_OUTCOME_BUFFER: usize = 1024;

/// Most adapter requests one [`crate::serve()`] handles at the same time; further requests
/// wait in their subscription until one finishes.
pub const MAX_CONCURRENT_REQUESTS: usize = 256;

/// Most NATS clients one [`crate::serve()`] answers on: one per city server, or on a secured
/// province one per gateway (a bank or platform at a city): 11 cities of up to 16 each.
pub const MAX_SERVE_CLIENTS: usize = 176;

/// Most cities in one wave.
pub const MAX_WAVE_CITIES: usize = 64;

/// Most cases per city in one wave.
pub const MAX_CASES_PER_CITY: u32 = 10_000;

/// Most levels of a mule trail (depth is reported as a `u8`).
pub const MAX_TRAIL_LEVELS: usize = 16;

/// Most accounts on one level of a mule trail.
pub const MAX_LAYER_WIDTH: u32 = 1_000;

/// Most mule accounts in a whole wave (all cases together).
pub const MAX_WAVE_ACCOUNTS: u64 = 2_000_000;

/// Largest loss of one victim, in yuan.
pub const MAX_LOSS_YUAN: u32 = 100_000_000;

/// Fewest and most payments a victim makes to the first level of the trail (more when the
/// first level is wider: one per level-1 account at least).
pub const MIN_VICTIM_PAYMENTS: usize = 1;
/// See [`MIN_VICTIM_PAYMENTS`].
pub const MAX_VICTIM_PAYMENTS: usize = 2;

/// Shortest time from the victim's first payment to the report: the past hops of the trail
/// are spread over it, so it must leave room for them.
pub const MIN_REPORT_DELAY_MS: u64 = 60_000;

/// Longest delay of a pending (future) mule transfer after the report: 30 days.
pub const MAX_FORWARD_DELAY_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Digits of a generated bank account number: 16 to 19, like real bank cards.
pub const MIN_ACCOUNT_DIGITS: usize = 16;
/// See [`MIN_ACCOUNT_DIGITS`].
pub const MAX_ACCOUNT_DIGITS: usize = 19;

/// Attempts to draw an unused account number or order id before giving up (the id space is
/// so large that a second attempt is already rare).
pub const MAX_ID_ATTEMPTS: u32 = 64;

/// Largest scenario file read, in bytes: a scenario is a page of settings, not data.
pub const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;

/// Most cities in one scenario.
pub const MAX_SCENARIO_CITIES: usize = MAX_WAVE_CITIES;

/// Largest population of one city: more than any Chinese city has.
pub const MAX_CITY_POPULATION: u64 = 50_000_000;

/// Most gangs in one scenario.
pub const MAX_SCENARIO_GANGS: usize = 1_000;

/// Most victims of all gangs together in one scenario.
pub const MAX_SCENARIO_VICTIMS: u64 = 100_000;

/// Longest scenario: a year.
pub const MAX_SCENARIO_DURATION_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// Most phone numbers, and most sites, one gang uses.
pub const MAX_GANG_CONTACTS: u32 = 64;

/// Most victims that pay into one mule network before the gang opens a fresh one.
pub const MAX_VICTIMS_PER_NETWORK: u32 = 1_000;

/// Most payments one victim makes: every one is listed in the report, which holds at most
/// `domain::report::MAX_TRANSFERS`.
pub const MAX_PAYMENTS_PER_VICTIM: u32 = domain::report::MAX_TRANSFERS as u32;

/// Longest time between two payments of one victim: a week.
pub const MAX_PAYMENT_GAP_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Longest time from a victim's last payment to the report: 30 days.
pub const MAX_REPORT_DELAY_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Shortest time from a victim's last payment to the report, and shortest mule forward
/// delay: a minute. A delay of zero would put a hop at the same instant as the hop feeding
/// it.
pub const MIN_SCENARIO_DELAY_MS: u64 = 60_000;

/// Time between the successive transfers of one split: a mule sends them one by one.
pub const SPLIT_GAP_MS: u64 = 1_000;

/// Most accounts a cycle passes its money through before it comes back to the first one
/// (the money then leaves at depth ring + 2, within [`MAX_TRAIL_LEVELS`]).
pub const MAX_CYCLE_ACCOUNTS: u32 = MAX_TRAIL_LEVELS as u32 - 2;

/// Longest simulated bank answer time the runner is asked to play: a minute.
pub const MAX_BANK_ANSWER_MS: u64 = 60_000;

/// Most mule networks one gang opens over a scenario.
pub const MAX_NETWORKS_PER_GANG: u64 = 100_000;

/// Shortest time from a block of a gang's number or site to the gang using a fresh one: a
/// minute, as every delay of a scenario.
pub const MIN_ADAPT_MS: u64 = MIN_SCENARIO_DELAY_MS;

/// Longest time from a block to the gang using a fresh number or site: a year, the longest
/// scenario, so that a file can say "never within the drill".
pub const MAX_ADAPT_MS: u64 = MAX_SCENARIO_DURATION_MS;

/// Most times one of a gang's numbers or sites is replaced after a block; past it the gang
/// keeps the blocked one. Far above what a drill's blocks call for; it bounds the identifiers
/// a run makes up.
pub const MAX_LINE_GENERATIONS: usize = 64;

/// Most mule accounts one card seller holds at one bank: what a bank lists of a holder's
/// accounts in its `restrict` answer (`protocol::limits::MAX_HOLDER_ACCOUNTS`, the other
/// accounts, plus the one restricted).
pub const MAX_SELLER_ACCOUNTS: u32 = protocol::limits::MAX_HOLDER_ACCOUNTS as u32 + 1;

/// Most phone numbers a mule holder has on record at their bank (what a bank's holder record
/// lists at most, `protocol::limits::MAX_HOLDER_PHONES`).
pub const MAX_HOLDER_PHONES: u32 = protocol::limits::MAX_HOLDER_PHONES as u32;

/// Most people a gang's campaign reaches per victim of the gang (`[population] per_victim`):
/// Foshan warned about 130 people per reported case; ten times that bounds a drill's people.
pub const MAX_REACHED_PER_VICTIM: u32 = 1_000;

/// Most people reached besides the victims in one scenario, all gangs together.
pub const MAX_SCENARIO_PEOPLE: u64 = 1_000_000;

/// Most contacts a gang makes with one person (each a signal).
pub const MAX_CONTACTS_PER_PERSON: u32 = 32;

/// Longest time from a person's first contact to their payment: 30 days.
pub const MAX_PAY_DELAY_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Longest time from a contact to the carrier's signal of it: a day.
pub const MAX_SIGNAL_DELAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Most calls, or visits of one level, a center's staff make in a day: fifty times Wuhan's
/// 500 face-to-face a day.
pub const MAX_STAFF_PER_DAY: u32 = 25_000;
