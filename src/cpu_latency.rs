//! Keeping the machine's processors quick to wake while the server is busy.
//!
//! A lone request's path is a chain of threads waking each other: the HTTP front, the runtime
//! that runs operations, and on SQLite the connection's thread at every statement. On a
//! virtual machine whose idle processors halt, each wake-up that reaches a halted processor
//! waits for the host to run it again, tens of microseconds, and a defect's path has a dozen.
//! Linux lets a process bound how deep its processors sleep (CPU latency QoS: a bound in
//! microseconds written to `/dev/cpu_dma_latency`, in force while the file stays open); with
//! 0 an idle processor polls for work rather than halting, and a wake-up reaches it at once.
//!
//! Polling burns the processors, so the bound is asked for only while the server is busy:
//! the first request after a quiet spell raises it, and it is let go once a whole
//! [`QUIET`] has passed without a request. An idle server polls nothing. The bound is asked for
//! only when configured (`serve --cpu-latency-us`); writing the device needs root.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

/// Where Linux takes requests for a bound on the processors' wake-up latency.
pub const DEVICE: &str = "/dev/cpu_dma_latency";

/// How long without a request before the bound is let go: one to two of these pass.
pub const QUIET: Duration = Duration::from_millis(500);

/// The kernel's value for "no bound" (`PM_QOS_CPU_LATENCY_DEFAULT_VALUE`, 2,000 s): written
/// to let the bound go while keeping the file open for the next busy spell.
const UNBOUND: i32 = 2_000_000_000;

/// A bound on the processors' wake-up latency to hold while busy, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuLatencyRequest {
    /// Microseconds; 0 keeps idle processors polling.
    pub bound_us: u32,
    /// Where the bound is written: [`DEVICE`], or a file a test reads back.
    pub device: PathBuf,
}

impl CpuLatencyRequest {
    pub fn new(bound_us: u32) -> Self {
        Self {
            bound_us,
            device: PathBuf::from(DEVICE),
        }
    }
}

/// The bound held while the server is busy. Dropped, it is let go for good (the file closes).
pub struct CpuLatency {
    hold: Arc<Hold>,
    /// Wakes the task that lets the bound go: at a quiet spell's start, and at the end.
    release: Arc<Notify>,
}

struct Hold {
    device: Mutex<File>,
    bound: i32,
    /// Whether the bound is in force.
    held: AtomicBool,
    /// Requests seen, so that the releasing task can tell a quiet spell.
    requests: AtomicU64,
}

impl CpuLatency {
    /// Opens `request.device` and spawns, on the current Tokio runtime, the task that lets
    /// the bound go after a quiet spell. Nothing is asked for until the first request.
    pub fn start(request: &CpuLatencyRequest) -> io::Result<Self> {
        Self::start_with(request, QUIET)
    }

    /// [`start`](Self::start), with `quiet` for [`QUIET`].
    fn start_with(request: &CpuLatencyRequest, quiet: Duration) -> io::Result<Self> {
        let bound = i32::try_from(request.bound_us)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bound too large"))?;
        let hold = Arc::new(Hold {
            device: Mutex::new(open(&request.device)?),
            bound,
            held: AtomicBool::new(false),
            requests: AtomicU64::new(0),
        });
        let release = Arc::new(Notify::new());
        tokio::spawn(release_when_quiet(
            Arc::downgrade(&hold),
            Arc::clone(&release),
            quiet,
        ));
        Ok(Self { hold, release })
    }

    /// A request came: raises the bound unless it is in force already.
    pub fn busy(&self) {
        self.hold.requests.fetch_add(1, Ordering::Relaxed);
        if self.hold.held.load(Ordering::Acquire) {
            return;
        }
        if self.hold.set(true) {
            self.release.notify_one();
        }
    }
}

impl Drop for CpuLatency {
    fn drop(&mut self) {
        // The task finds the hold gone, and ends.
        self.release.notify_one();
    }
}

fn open(device: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).open(device)
}

impl Hold {
    /// Writes the bound (`held`) or its absence, unless already so; whether it wrote.
    fn set(&self, held: bool) -> bool {
        let Ok(mut device) = self.device.lock() else {
            return false;
        };
        if self.held.load(Ordering::Acquire) == held {
            return false;
        }
        let value = if held { self.bound } else { UNBOUND };
        match device.write_all(&value.to_ne_bytes()) {
            Ok(()) => {
                self.held.store(held, Ordering::Release);
                true
            }
            Err(error) => {
                tracing::warn!(%error, held, "could not write the CPU latency bound");
                false
            }
        }
    }

    /// Lets the bound go if no request came since `seen` requests; the count now.
    fn relax_unless_busy(&self, seen: u64) -> (u64, bool) {
        let now = self.requests.load(Ordering::Relaxed);
        if now == seen {
            // A request that comes between the count and the write finds the bound still in
            // force and raises nothing: it runs unbound, and the next one raises it again.
            self.set(false);
            return (now, true);
        }
        (now, false)
    }
}

/// Waits for the bound to be raised, then checks every `quiet` whether a request came, and
/// lets the bound go when none did. Ends when the [`CpuLatency`] is dropped.
async fn release_when_quiet(hold: Weak<Hold>, release: Arc<Notify>, quiet: Duration) {
    loop {
        release.notified().await;
        let Some(mut seen) = hold
            .upgrade()
            .map(|hold| hold.requests.load(Ordering::Relaxed))
        else {
            return;
        };
        loop {
            tokio::time::sleep(quiet).await;
            let Some(hold) = hold.upgrade() else {
                return;
            };
            let (now, relaxed) = hold.relax_unless_busy(seen);
            if relaxed {
                break;
            }
            seen = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values written to a file standing in for the device, in order.
    fn written(path: &Path) -> Vec<i32> {
        std::fs::read(path)
            .unwrap()
            .chunks_exact(4)
            .map(|bytes| i32::from_ne_bytes(bytes.try_into().unwrap()))
            .collect()
    }

    /// A file standing in for the device, and a request of `bound_us` written to it.
    fn stand_in(bound_us: u32) -> (tempfile::TempDir, CpuLatencyRequest) {
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("cpu_dma_latency");
        std::fs::write(&device, b"").unwrap();
        (dir, CpuLatencyRequest { bound_us, device })
    }

    /// Waits until the stand-in holds `values`, for a few seconds at most.
    async fn until_written(path: &Path, values: &[i32]) {
        for _ in 0..500 {
            if written(path) == values {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(written(path), values);
    }

    /// A quiet spell far longer than the steps of the tests below.
    const LONG: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn requests_hold_the_bound_once_until_a_quiet_spell() {
        let (_dir, request) = stand_in(20);
        let latency = CpuLatency::start_with(&request, LONG).unwrap();
        assert!(
            written(&request.device).is_empty(),
            "nothing before a request"
        );
        for _ in 0..5 {
            latency.busy();
        }
        assert_eq!(written(&request.device), [20], "held once for the spell");
        let seen = latency.hold.requests.load(Ordering::Relaxed);
        assert_eq!(latency.hold.relax_unless_busy(seen - 1), (seen, false));
        assert_eq!(written(&request.device), [20], "held while requests come");
        assert_eq!(latency.hold.relax_unless_busy(seen), (seen, true));
        assert_eq!(written(&request.device), [20, UNBOUND], "let go when quiet");
        latency.busy();
        assert_eq!(written(&request.device), [20, UNBOUND, 20], "raised again");
    }

    #[tokio::test]
    async fn the_releasing_task_lets_the_bound_go_after_a_quiet_spell() {
        let (_dir, request) = stand_in(0);
        let latency = CpuLatency::start_with(&request, Duration::from_millis(20)).unwrap();
        latency.busy();
        until_written(&request.device, &[0, UNBOUND]).await;
        latency.busy();
        until_written(&request.device, &[0, UNBOUND, 0, UNBOUND]).await;
    }

    #[tokio::test]
    async fn nothing_keeps_the_device_open_once_dropped() {
        let (_dir, request) = stand_in(0);
        let latency = CpuLatency::start_with(&request, Duration::from_millis(1)).unwrap();
        latency.busy();
        let hold = Arc::downgrade(&latency.hold);
        drop(latency);
        for _ in 0..500 {
            if hold.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the hold outlived its owner");
    }

    #[tokio::test]
    async fn a_device_that_cannot_be_opened_is_an_error() {
        let missing = CpuLatencyRequest {
            bound_us: 0,
            device: PathBuf::from("/nonexistent/cpu_dma_latency"),
        };
        assert!(CpuLatency::start(&missing).is_err());
        assert!(CpuLatency::start(&CpuLatencyRequest::new(u32::MAX)).is_err());
    }
}
