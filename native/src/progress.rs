//! Progress counters shared between a worker (verify, pack) and whoever polls them. The FFI layer
//! may mirror them into a Float64Array owned by JS, which the facade polls from the main thread.

use std::sync::atomic::{AtomicU64, Ordering};

pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub bytes: AtomicU64,
    /// Optional JS-owned [done, total, bytes] f64 triple (kept alive by the caller).
    mirror: Option<*mut f64>,
}

// The mirror points at memory the FFI layer keeps alive for the duration of the work; aligned
// f64 stores are single instructions on the platforms we build for, and a torn read would only
// show a stale progress number.
unsafe impl Send for Progress {}
unsafe impl Sync for Progress {}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            mirror: None,
        }
    }
    /// # Safety
    /// `p` must point at 3 writable f64 that outlive every use of this Progress.
    pub unsafe fn with_mirror(p: *mut f64) -> Progress {
        Progress {
            mirror: Some(p),
            ..Progress::new()
        }
    }
    fn sync(&self) {
        if let Some(p) = self.mirror {
            unsafe {
                std::ptr::write_volatile(p, self.done.load(Ordering::Relaxed) as f64);
                std::ptr::write_volatile(p.add(1), self.total.load(Ordering::Relaxed) as f64);
                std::ptr::write_volatile(p.add(2), self.bytes.load(Ordering::Relaxed) as f64);
            }
        }
    }
    pub fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
        self.sync();
    }
    pub fn add(&self, done: u64, bytes: u64) {
        self.done.fetch_add(done, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.sync();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// Run `f` over `jobs` on all cores (std::thread); results come back in job order.
pub fn par_map<T: Sync, R: Send>(jobs: &[T], f: impl Fn(&T, &mut crate::crypto::Gcm) -> R + Sync) -> Vec<R> {
    let cores = std::env::var("OCCLUM_STUDIO_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let threads = cores.clamp(1, 16).min(jobs.len().max(1));
    let next = AtomicU64::new(0);
    let mut slots: Vec<std::sync::Mutex<Option<R>>> = Vec::with_capacity(jobs.len());
    slots.resize_with(jobs.len(), || std::sync::Mutex::new(None));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut gcm = crate::crypto::Gcm::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= jobs.len() {
                        break;
                    }
                    let r = f(&jobs[i], &mut gcm);
                    *slots[i].lock().unwrap() = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap().expect("job result"))
        .collect()
}
