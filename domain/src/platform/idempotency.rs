//! Same key, same answer. A member's request that creates something (a coupon claim, a flash-sale
//! grab, an order, a booking) carries an idempotency key (checked by
//! [`validate::idempotency_key`](crate::platform::validate::idempotency_key)), and a retry under the same
//! key gets the answer the first request got: the same coupon, order or booking, never a refusal
//! that the first request itself caused (the member's limit or the last unit it used up, or the
//! key it took).
//!
//! Each capability records what a key created and looks the key up inside the lock its limits
//! and totals are decided under, before them: the template row for coupons, the unique key of
//! the order or booking row, the counters' atomic step for flash sales. [`same_answer`] is the
//! shape every one of them takes around that.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Answers a request under an idempotency key: what `recorded` finds under the key, or else what
/// `attempt` does. An attempt that fails may have lost a race to a twin request under the same
/// key (the twin took the key, the member's last copy or the last unit, and committed); when the
/// key has a record after the failure, that record is the answer.
///
/// `recorded` answers an error of its own when the key was used for a different request.
pub async fn same_answer<T, E, L, LF, A, AF>(mut recorded: L, attempt: A) -> Result<T, E>
where
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, E>>,
    A: FnOnce() -> AF,
    AF: Future<Output = Result<T, E>>,
{
    if let Some(first) = recorded().await? {
        return Ok(first);
    }
    match attempt().await {
        Ok(answer) => Ok(answer),
        Err(failure) => match recorded().await {
            Ok(Some(first)) => Ok(first),
            Ok(None) => Err(failure),
            Err(e) => Err(e),
        },
    }
}

/// How long a request waits for a twin under the same key whose answer is decided but not yet
/// written (a flash-sale grab granted by the counters, its order still being written).
pub const TWIN_WAIT: Duration = Duration::from_secs(5);

/// Pauses between looks at a twin still being handled: 5 ms doubling to 100 ms, for at most
/// [`TWIN_WAIT`] in all.
#[derive(Debug)]
pub struct TwinWait {
    deadline: Instant,
    pause: Duration,
}

impl TwinWait {
    pub fn new() -> Self {
        Self {
            deadline: Instant::now() + TWIN_WAIT,
            pause: Duration::from_millis(5),
        }
    }

    /// Waits before the next look; false (at once) when the time is up.
    pub async fn pause(&mut self) -> bool {
        if Instant::now() + self.pause > self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(Duration::from_millis(100));
        true
    }
}

impl Default for TwinWait {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failure_a_twin_explains_answers_with_the_twin() {
        let looks = std::cell::Cell::new(0);
        let answer: Result<i32, &str> = same_answer(
            || {
                looks.set(looks.get() + 1);
                async { Ok((looks.get() == 2).then_some(7)) }
            },
            || async { Err("limit reached") },
        )
        .await;
        assert_eq!(answer, Ok(7));
        let answer: Result<i32, &str> =
            same_answer(|| async { Ok(None) }, || async { Err("sold out") }).await;
        assert_eq!(answer, Err("sold out"));
        let answer: Result<i32, &str> =
            same_answer(|| async { Ok(Some(1)) }, || async { Ok(2) }).await;
        assert_eq!(answer, Ok(1), "a recorded answer is not made again");
    }
}
