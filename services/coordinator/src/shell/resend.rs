//! Mending the province stream: every `limits::RESEND_EVERY`, the coordinator asks a producer
//! (`afc.<city>.province.<service>.resend`, answered by the shared runtime from the service's
//! redb log) for
//!
//! - each missing range it had at the previous pass too (a gap the source did not fill in
//!   that time: the city stream lost it, or it aged out before a long cut healed), and
//! - the events after the highest the province holds, when that highest did not move since
//!   the previous pass (a producer's tail the province cannot see as a gap: a source that
//!   stopped delivering; an idle producer answers with nothing);
//!
//! checks each event it gets back (the producer's city and service, a sequence it asked
//! for) and puts it into `AFC_PROVINCE` on `afc.province.resent.<city>.<service>` with its
//! id as `Nats-Msg-Id`. The coordinator absorbs it from there like any other: a gap filled,
//! or a duplicate when the source brought it meanwhile. The stream stays the whole log.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use bus::{Shutdown, stopped};
use events::province::{MAX_RESEND_EVENTS, NoticeError, ResendRequest, Resent, from_hex, kind};
use protocol::{Reply, subjects};

use super::Shared;
use crate::core::{self, Producer};
use crate::limits::{NOTICE_TIMEOUT, RESEND_ASKS_PER_PASS};

/// What a pass saw of a producer: its highest seq and its missing ranges.
type Seen = BTreeMap<Producer, (u64, Vec<RangeInclusive<u64>>)>;

/// Mends the province stream until shutdown.
pub(super) async fn run(client: async_nats::Client, shared: Arc<Shared>, every: Duration, mut shutdown: Shutdown) {
    let js = jetstream::new(client.clone());
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut before = Seen::new();
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => return,
            _ = tick.tick() => {}
        }
        let now = seen(&shared);
        let asks = asks(&before, &now);
        before = now;
        // A city that did not answer one ask is not asked again in this pass: a city cut off
        // would hold the pass for every one of its producers' timeouts.
        let mut silent = std::collections::BTreeSet::new();
        for (producer, range) in asks.into_iter().take(RESEND_ASKS_PER_PASS) {
            if silent.contains(&producer.city) {
                continue;
            }
            match mend(&client, &js, &producer, range.clone()).await {
                Ok(0) => {}
                Ok(put) => {
                    tracing::info!(%producer, from = range.start(), to = range.end(), put, "events re-sent from the producer's log");
                    shared.progress.lock().expect("no panic holds the progress").resent += put;
                }
                Err(reason) => {
                    tracing::debug!(%producer, reason, "a resend was not answered");
                    silent.insert(producer.city.clone());
                }
            }
        }
    }
}

fn seen(shared: &Shared) -> Seen {
    let state = shared.state.read().expect("no panic holds the state");
    core::producers(&state)
        .map(|(producer, track)| (producer.clone(), (track.highest, track.missing_ranges().collect())))
        .collect()
}

/// The ranges to ask for: gaps held over from the previous pass, and the tail of producers
/// whose highest did not move; each at most [`MAX_RESEND_EVENTS`] long.
fn asks(before: &Seen, now: &Seen) -> Vec<(Producer, RangeInclusive<u64>)> {
    let mut asks = Vec::new();
    for (producer, (highest, gaps)) in now {
        let Some((was_highest, was_gaps)) = before.get(producer) else { continue };
        for gap in gaps.iter().filter(|gap| was_gaps.contains(gap)) {
            let end = (*gap.end()).min(gap.start().saturating_add(MAX_RESEND_EVENTS - 1));
            asks.push((producer.clone(), *gap.start()..=end));
        }
        if was_highest == highest {
            asks.push((producer.clone(), highest + 1..=highest.saturating_add(MAX_RESEND_EVENTS)));
        }
    }
    asks
}

/// Asks `producer` for `range` (going on while the answers are cut short) and puts what it
/// gets into the province stream; how many events it put.
async fn mend(
    client: &async_nats::Client,
    js: &jetstream::Context,
    producer: &Producer,
    range: RangeInclusive<u64>,
) -> Result<u64, String> {
    let subject = subjects::province_notice(&producer.city, producer.service, kind::RESEND);
    let (mut from, to, mut put) = (*range.start(), *range.end(), 0);
    while from <= to {
        let body = serde_json::to_vec(&ResendRequest { from_seq: from, to_seq: to }).expect("serializes");
        let answer = tokio::time::timeout(NOTICE_TIMEOUT, client.request(subject.clone(), body.into()))
            .await
            .map_err(|_| format!("no answer in {NOTICE_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        let resent = match serde_json::from_slice::<Reply<Resent, NoticeError>>(&answer.payload) {
            Ok(Reply::Ok(resent)) => resent,
            Ok(Reply::Error(error)) => return Err(error.to_string()),
            Err(error) => return Err(format!("an answer that is not a resend's: {error}")),
        };
        for text in &resent.events_hex {
            let bytes = from_hex(text).ok_or("an event that is not hex")?;
            let envelope = events::decode(&bytes).map_err(|e| format!("an event that does not decode: {e}"))?;
            if envelope.city != producer.city
                || envelope.service != producer.service
                || !(from..=to).contains(&envelope.seq)
            {
                return Err(format!(
                    "{producer} answered with {} (seq {}), which was not asked for",
                    envelope.id, envelope.seq
                ));
            }
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", envelope.id.as_str());
            let target = subjects::province_resent(&producer.city, producer.service);
            let ack = js.publish_with_headers(target, headers, bytes.into()).await.map_err(|e| e.to_string())?;
            ack.await.map_err(|e| e.to_string())?;
            put += 1;
        }
        match resent.next_seq {
            Some(next) if next > from => from = next,
            _ => break,
        }
    }
    Ok(put)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer() -> Producer {
        Producer { city: domain::City::parse("hangzhou").unwrap(), service: domain::Service::Freezing }
    }

    #[test]
    fn a_gap_is_asked_for_once_it_outlived_a_pass_and_a_tail_once_the_highest_stood_still() {
        let first = Seen::from([(producer(), (10, vec![3..=4]))]);
        assert_eq!(asks(&Seen::new(), &first), vec![], "nothing seen before: nothing asked");
        // The gap is still there and the highest moved: the gap only.
        let moved = Seen::from([(producer(), (12, vec![3..=4]))]);
        assert_eq!(asks(&first, &moved), vec![(producer(), 3..=4)]);
        // A new gap waits a pass; the highest stood still: the tail.
        let still = Seen::from([(producer(), (12, vec![11..=11]))]);
        assert_eq!(asks(&moved, &still), vec![(producer(), 13..=12 + MAX_RESEND_EVENTS)]);
        // A gap longer than a request is asked for in part.
        let long = Seen::from([(producer(), (5_000, vec![1..=4_000]))]);
        assert_eq!(asks(&long, &Seen::from([(producer(), (5_001, vec![1..=4_000]))])), vec![(producer(), 1..=1_000)]);
    }
}
