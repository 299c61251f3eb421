//! Bounded polling, for what a test can only observe by asking again (a stream's contents,
//! a bank's ledger): never a sleep standing in for synchronization, always a bound that
//! fails the test naming what it waited for.

use std::future::Future;
use std::time::Duration;

/// Pause between two probes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Probes every [`POLL_INTERVAL`] until `probe` returns `Some`, and returns it.
///
/// # Panics
/// When `timeout` passes first, naming `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let polled = async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    match tokio::time::timeout(timeout, polled).await {
        Ok(found) => found,
        Err(_) => panic!("{what}: not reached within {timeout:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_what_the_probe_found_and_panics_naming_what_never_came() {
        let mut asked = 0;
        let found = eventually(Duration::from_secs(1), "the third probe", || {
            asked += 1;
            let now = asked;
            async move { (now == 3).then_some(now) }
        })
        .await;
        assert_eq!(found, 3);
        let never = tokio::spawn(eventually(Duration::from_secs(1), "a bank's answer", || async { None::<()> }));
        let panic = never.await.unwrap_err().into_panic();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("a bank's answer: not reached within 1s"), "{message}");
    }
}
