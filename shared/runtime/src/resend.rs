//! The province's `resend` (`events::province`): the events of a range of the service's
//! sequence numbers, read from its redb log, for the coordinator to fill a gap of the
//! province stream with. Every producing service answers it ([`crate::Context::start_producer`]).

use events::province::{MAX_RESEND_BYTES, MAX_RESEND_EVENTS, NoticeError, ResendRequest, Resent, to_hex};
use store::Store;

/// The answer to a `resend` with `body`.
pub(crate) async fn answer(store: Store, body: &[u8]) -> Result<Resent, NoticeError> {
    let refused = |message: String| NoticeError::Refused { message };
    let request: ResendRequest = serde_json::from_slice(body)
        .map_err(|e| refused(format!("not a resend request ({e}): expected {{\"from_seq\": n, \"to_seq\": m}}")))?;
    let ResendRequest { from_seq, to_seq } = request;
    if from_seq == 0 || to_seq < from_seq || to_seq - from_seq >= MAX_RESEND_EVENTS {
        return Err(refused(format!(
            "from_seq {from_seq} to_seq {to_seq}: expected 1 <= from_seq <= to_seq, at most {MAX_RESEND_EVENTS} events"
        )));
    }
    let read = tokio::task::spawn_blocking(move || store.events_between(from_seq, to_seq, MAX_RESEND_BYTES)).await;
    let (events, next_seq, highest_seq) = read
        .map_err(|e| NoticeError::Unavailable { message: format!("reading the log failed: {e}") })?
        .map_err(|e| NoticeError::Unavailable { message: format!("reading the log failed: {e}") })?;
    Ok(Resent { events_hex: events.iter().map(|bytes| to_hex(bytes)).collect(), next_seq, highest_seq })
}
