//! The intake pool: a few threads of its own (not the async runtime's blocking pool), started on
//! the first upload, each running one image at a time. On Linux they run under `SCHED_IDLE`: the
//! kernel gives them a core only when nothing else wants it and takes it back the moment a
//! request's thread wakes, so decoding and encoding photos never delays the API's requests —
//! uploads take longer instead when the server is busy.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// Why a job did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("the image threads could not be started: {0}")]
    Start(String),
    #[error("the image threads have stopped")]
    Stopped,
    #[error("image processing failed unexpectedly")]
    Panicked,
}

pub(crate) struct IdlePool {
    threads: usize,
    queue: OnceLock<Result<mpsc::Sender<Job>, PoolError>>,
}

impl IdlePool {
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            queue: OnceLock::new(),
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on one of the pool's threads and waits (asynchronously) for its result.
    /// Jobs queue in arrival order; a job whose caller has gone away before it starts is
    /// skipped.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(work());
        });
        self.queue()?.send(job).map_err(|_| PoolError::Stopped)?;
        // The sender is dropped without a value only when the work panicked.
        rx.await.map_err(|_| PoolError::Panicked)
    }

    fn queue(&self) -> Result<&mpsc::Sender<Job>, PoolError> {
        self.queue
            .get_or_init(|| start(self.threads))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Starts the threads; they end when the pool (its sender) is dropped.
fn start(threads: usize) -> Result<mpsc::Sender<Job>, PoolError> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    let mut last_error = None;
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rouge-intake-{i}"))
            .spawn(move || {
                yield_to_requests();
                loop {
                    let job = match rx.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => break,
                    };
                    let Ok(job) = job else { break };
                    // A panicking decoder costs its upload (the caller sees `Panicked`), not
                    // the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    if started == 0 {
        return Err(PoolError::Start(last_error.unwrap_or_default()));
    }
    if let Some(e) = last_error {
        tracing::warn!(started, wanted = threads, error = %e, "some image threads could not be started");
    }
    Ok(tx)
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// Puts the calling thread under `SCHED_IDLE` (Linux). If the system refuses, says so once and
/// carries on at normal priority.
fn yield_to_requests() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        // The nice value set after the policy may be refused (it does not matter under
        // SCHED_IDLE): what counts is the policy the thread ends up with.
        let outcome = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle);
        if thread_schedule_policy().ok() != Some(idle) && !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = ?outcome.err(),
                "image threads could not be put under SCHED_IDLE: uploads share the CPU with requests"
            );
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::info!("image threads run at normal priority on this system");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduling policy of the calling thread from /proc (field 41 of `stat`; 5 = SCHED_IDLE).
    #[cfg(target_os = "linux")]
    fn own_policy() -> Option<u32> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        let after_name = &stat[stat.rfind(')')? + 1..];
        after_name.split_whitespace().nth(41 - 3)?.parse().ok()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn image_threads_run_under_sched_idle_and_callers_do_not() -> Result<(), PoolError> {
        let pool = IdlePool::new(1);
        assert_eq!(pool.run(own_policy).await?, Some(5));
        assert_ne!(own_policy(), Some(5));
        Ok(())
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_goes_on() -> Result<(), PoolError> {
        let pool = IdlePool::new(1);
        let failed = pool.run(|| -> u32 { panic!("a broken decoder") }).await;
        assert_eq!(failed, Err(PoolError::Panicked));
        assert_eq!(pool.run(|| 7).await?, 7);
        Ok(())
    }
}
