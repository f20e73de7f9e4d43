//! The transient half of the error policy (SPEC §1.3 rule 7): a busy
//! database is retried with growing pauses, never turned into a row error.

use std::future::Future;
use std::time::Duration;

use opm_store::StoreError;

/// How many times a transient store failure is retried before the pass
/// gives up (the rows stay as they were; nothing is lost).
pub const STORE_RETRIES: u32 = 8;

/// The pause before retry number `attempt` (0-based): 50 ms doubling up to
/// 2 s. Deterministic, so the schedule itself is tested.
pub fn backoff_delay(attempt: u32) -> Duration {
    let ms = 50u64.saturating_mul(1u64 << attempt.min(16));
    Duration::from_millis(ms.min(2_000))
}

/// Runs `call` until it succeeds, fails with a non-transient error, or has
/// been retried [`STORE_RETRIES`] times.
pub async fn store_call<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(error) if error.is_transient() && attempt < STORE_RETRIES => {
                tracing::debug!("store busy, retrying: {error}");
                tokio::time::sleep(backoff_delay(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_and_are_capped() {
        let delays: Vec<u128> = (0..8).map(|a| backoff_delay(a).as_millis()).collect();
        assert_eq!(delays, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff_delay(u32::MAX), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn terminal_errors_are_not_retried() {
        let mut calls = 0;
        let result: Result<(), StoreError> = store_call(|| {
            calls += 1;
            async { Err(StoreError::UnknownAttempt { id: 7 }) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
