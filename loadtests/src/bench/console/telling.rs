//! What telling the console what changed costs, measured in the same run (target 3): a
//! service noting an event's case (`bus::changes::Touched`, on every event it publishes or
//! handles), and the console hearing one message of the largest size a service sends
//! (`MAX_CHANGES_CASES` case ids). With the console's own threads measured under load, these
//! bound the cost at a rate the machine cannot sustain: what the console hears does not grow
//! with the rate past that size, and the services' noting grows with their events.

use std::time::Instant;

use afc::console::live::{self, Topic};
use bus::changes::Touched;
use domain::{CaseId, City, Service};
use protocol::changes::Changes;
use protocol::limits::MAX_CHANGES_CASES;

/// Notes timed.
const NOTES: usize = 2_000_000;
/// Cases being traced at once, each noted again and again (400 cases/s, each traced over
/// about a second).
const ACTIVE_CASES: usize = 400;
/// Notes between two takes: a city's events in one `CHANGES_EVERY` at 400 cases/s.
const NOTES_PER_TAKE: usize = 6_000;
/// Full messages heard, timed.
const MESSAGES: usize = 200;
/// Pages the hearing asks about each change (the bench's listeners and a case).
pub const PAGES: usize = 9;

/// What was measured.
#[derive(Debug, Clone, Copy)]
pub struct TellingCosts {
    /// A service noting one event's case, in ns (the take every [`NOTES_PER_TAKE`] included).
    pub note_ns: f64,
    /// The console reading one message of [`MAX_CHANGES_CASES`] cases and asking of it
    /// whether each of [`PAGES`] pages is concerned, in µs.
    pub full_message_us: f64,
    /// That message's size in bytes.
    pub full_message_bytes: usize,
}

fn case(city: &City, n: usize) -> CaseId {
    CaseId::derive(city, n as u64 * 0x9e37_79b9_7f4a_7c15)
}

/// Measures both on this thread.
pub fn measure() -> TellingCosts {
    let city = City::parse("hangzhou").expect("a city");
    let cases: Vec<CaseId> = (0..ACTIVE_CASES * 4).map(|n| case(&city, n)).collect();
    let touched = Touched::default();
    let started = Instant::now();
    for n in 0..NOTES {
        // The active cases move on slowly: a new one every few hundred notes.
        let active = &cases[(n / 500) % (cases.len() - ACTIVE_CASES)..][..ACTIVE_CASES];
        touched.note(Some(&active[n % ACTIVE_CASES]));
        if n % NOTES_PER_TAKE == NOTES_PER_TAKE - 1 {
            std::hint::black_box(touched.take());
        }
    }
    let note_ns = started.elapsed().as_nanos() as f64 / NOTES as f64;

    let full = Changes { cases: (0..MAX_CHANGES_CASES).map(|n| case(&city, n)).collect(), ..Changes::default() };
    let body = protocol::to_json(&full);
    let subject = protocol::subjects::changes(&city, Service::Intake);
    let mut topics: Vec<Topic> = (0..PAGES - 1).map(|_| Topic::Cases).collect();
    topics.push(Topic::Case(case(&city, MAX_CHANGES_CASES + 1)));
    let started = Instant::now();
    for _ in 0..MESSAGES {
        let change = live::heard(&subject, &body).expect("a full message reads");
        std::hint::black_box(topics.iter().filter(|topic| change.concerns(topic)).count());
    }
    let full_message_us = started.elapsed().as_nanos() as f64 / 1_000.0 / MESSAGES as f64;
    TellingCosts { note_ns, full_message_us, full_message_bytes: body.len() }
}
