//! argon2id at OWASP parameters (m=19456 KiB, t=2, p=1), run on threads of its own at a lower
//! scheduling priority behind a semaphore that leaves a core free, so a login storm cannot
//! starve other requests or memory.
use super::AccountError;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Verification result; `rehashed` holds a stronger hash when the stored one was weaker.
#[derive(Debug)]
pub struct Verified {
    pub valid: bool,
    pub rehashed: Option<String>,
}

/// Shared password hasher with its concurrency limit.
#[derive(Clone, Debug)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// How many permits (and hashing threads) there are.
    concurrency: usize,
    /// Working memory for verification (19 MiB each at the default parameters), reused: at
    /// most one per permit. Allocating it afresh per sign-in left a copy behind in each of the
    /// allocator's per-thread arenas, hundreds of MB under a login storm, and faulted every
    /// page in again each time.
    memory: Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
    /// The threads hashes run on, one per permit, started on the first hash.
    threads: Arc<OnceLock<Threads>>,
    /// The rule every new password is checked against before it is hashed.
    policy: Policy,
}

type Job = Box<dyn FnOnce() + Send>;

/// How many nice steps below the rest of the process the hashing threads run. Under a sign-in
/// storm they get what the token, discovery and JWKS requests leave (the scheduler weighs ten
/// steps at about a tenth); with nothing else to run they get the whole core, so sign-ins alone
/// are not slowed.
const HASHING_NICE: i32 = 10;

/// Threads of their own for hashing, so their lower priority touches nothing else (the
/// blocking pool also resolves names and reads files).
#[derive(Debug)]
struct Threads {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Threads {
    fn start(count: usize) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking hash fails its own sign-in (its reply is dropped), not
                        // the thread every later sign-in waits on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Self { jobs })
    }
}

fn lower_priority() {
    // Lowering a priority needs no privilege, so this cannot fail.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: nice only changes the scheduling priority of the calling thread (Linux keeps the
    // nice value per thread).
    unsafe {
        libc::nice(HASHING_NICE);
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new(Params::DEFAULT)
    }
}

/// What a new password must be (SECURITY.md "Passwords"): long enough, not among the most
/// common passwords, and not the account's own username or email address. NIST SP 800-63B
/// §3.1.1.2: length and a blocklist, no composition rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub min_length: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            min_length: Policy::DEFAULT_MIN_LENGTH,
        }
    }
}

/// Why a password was refused; `Display` is the English message the CLI and API show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    #[error("password must be at most 1024 bytes")]
    TooLong,
    #[error("password is one of the most commonly used passwords; choose another")]
    Common,
    #[error("password must not be the username or email address")]
    Personal,
}

/// The bundled list, one lowercase password a line after its `#` header.
const COMMON: &str = include_str!("common_passwords.txt");

/// True when `password` (ignoring case) is on the bundled list. A scan of the embedded text:
/// it runs only when a password is set, and keeps no table in memory.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l == lower)
}

impl Policy {
    pub const DEFAULT_MIN_LENGTH: usize = 12;
    /// No configuration may go below this.
    pub const FLOOR: usize = 8;

    /// The configured minimum (`GATEHOUSE_PASSWORD_MIN_LENGTH`).
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            min_length: config.password_min_length,
        }
    }

    /// The shortest password accepted, in characters: the configured minimum, never below
    /// the floor.
    pub fn min_chars(&self) -> usize {
        self.min_length.max(Self::FLOOR)
    }

    /// Checks a password being set for `username` (and its `email`, if any).
    pub fn check(
        &self,
        password: &str,
        username: &str,
        email: Option<&str>,
    ) -> Result<(), PolicyError> {
        let min = self.min_chars();
        if password.chars().count() < min {
            return Err(PolicyError::TooShort(min));
        }
        if password.len() > 1024 {
            return Err(PolicyError::TooLong);
        }
        let lower = password.to_lowercase();
        let same = |other: &str| !other.is_empty() && lower == other.to_lowercase();
        if same(username) || email.is_some_and(same) {
            return Err(PolicyError::Personal);
        }
        if is_common(password) {
            return Err(PolicyError::Common);
        }
        Ok(())
    }
}

/// A hash of a random password, verified against when the username is unknown so that the
/// work (and so the timing) is the same.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let pw = crate::crypto::random_token();
        argon2id(Params::DEFAULT)
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Runs `verify_cost` takes the median of.
pub const COST_SAMPLES: usize = 5;

/// What one verification costs on this machine at the server's parameters: the median of
/// `COST_SAMPLES` runs (for `gatehouse password-cost` and the benchmark's H).
pub fn verify_cost() -> std::time::Duration {
    let pw = crate::crypto::random_token();
    let stored = dummy_hash().to_owned();
    let Ok(parsed) = PasswordHash::new(&stored) else {
        return std::time::Duration::ZERO;
    };
    let mut memory = Vec::new();
    let mut times: Vec<std::time::Duration> = (0..COST_SAMPLES)
        .map(|_| {
            let start = std::time::Instant::now();
            let _ = verify_with(&mut memory, pw.as_bytes(), &parsed);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Password hashes computed at once: one core fewer than the machine has, so a sign-in storm
/// leaves a core to the token, discovery and JWKS paths every app depends on (and each permit
/// holds one argon2 working buffer, 19 MiB at the default cost).
fn hashing_permits(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

impl Hasher {
    pub fn new(params: Params) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let concurrency = hashing_permits(cores);
        Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            memory: Arc::default(),
            threads: Arc::default(),
            policy: Policy::default(),
        }
    }

    /// The same hasher, checking new passwords against `policy`.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        // The permit goes with the hash, not with the request: a client that drops its request
        // mid-hash must not free a permit while the hash still runs, or aborted requests would
        // run any number of hashes at once, each holding its own working buffer.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AccountError::Hash)?;
        let span = tracing::Span::current();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _permit = permit;
            let _ = reply.send(span.in_scope(f));
        });
        let threads = match self.threads.get() {
            Some(t) => t,
            None => {
                let started = Threads::start(self.concurrency).map_err(|e| {
                    tracing::error!(error = %e, "cannot start the password hashing threads");
                    AccountError::Hash
                })?;
                // Two first sign-ins at once may both start threads; the loser's end at once.
                let _ = self.threads.set(started);
                self.threads.get().ok_or(AccountError::Hash)?
            }
        };
        threads.jobs.send(job).map_err(|_| AccountError::Hash)?;
        answer.await.map_err(|_| AccountError::Hash)
    }

    pub async fn hash(&self, password: &str) -> Result<String, AccountError> {
        let params = self.params.clone();
        let pw = password.to_owned();
        self.run(move || {
            argon2id(params)
                .hash_password(pw.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|_| AccountError::Hash)
    }

    /// Verifies `password` against `stored`, or against a dummy hash when `stored` is None.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<Verified, AccountError> {
        let params = self.params.clone();
        let pw = password.to_owned();
        let pool = self.memory.clone();
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified {
                    valid: false,
                    rehashed: None,
                };
            };
            // The semaphore keeps the pool at one buffer per permit.
            let mut memory = pool
                .lock()
                .ok()
                .and_then(|mut m| m.pop())
                .unwrap_or_default();
            let ok = verify_with(&mut memory, pw.as_bytes(), &parsed) && known;
            if let Ok(mut m) = pool.lock() {
                m.push(memory);
            }
            let rehashed = if ok && is_weaker(&parsed, &params) {
                argon2id(params)
                    .hash_password(pw.as_bytes())
                    .ok()
                    .map(|h| h.to_string())
            } else {
                None
            };
            Verified {
                valid: ok,
                rehashed,
            }
        })
        .await
    }
}

/// Recomputes `hash` for `password` with the stored algorithm, version and parameters in
/// `memory` (grown to fit), and compares in constant time.
fn verify_with(memory: &mut Vec<Block>, password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.as_bytes().len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut memory[..blocks])
        .is_ok()
        && crate::crypto::constant_time_eq(&out, expected.as_bytes())
}

/// True when a stored hash is not argon2id or uses less memory, time or parallelism.
fn is_weaker(hash: &PasswordHash, want: &Params) -> bool {
    if hash.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => {
            p.m_cost() < want.m_cost() || p.t_cost() < want.t_cost() || p.p_cost() < want.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_leaves_a_core_free() {
        assert_eq!(hashing_permits(1), 1);
        assert_eq!(hashing_permits(2), 1);
        assert_eq!(hashing_permits(8), 7);
        assert_eq!(hashing_permits(0), 1);
    }

    fn weak() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    /// The nice value of the thread that reads it (field 19 of its stat line).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn own_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = stat.rsplit_once(')').unwrap().1;
        after_name
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap()
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[tokio::test]
    async fn hashes_run_on_their_own_threads_below_the_requests_priority() {
        let caller = own_nice();
        let hasher = Hasher::new(weak());
        let (nice, name) = hasher
            .run(|| (own_nice(), std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap();
        assert_eq!(nice, (caller + HASHING_NICE).min(19));
        assert!(name.unwrap().starts_with("password-hash-"));
        assert_eq!(own_nice(), caller, "the caller's thread keeps its priority");
    }

    #[tokio::test]
    async fn a_panicking_hash_fails_alone() {
        let hasher = Hasher::new(weak());
        let failed = hasher.run(|| -> u32 { panic!("a broken hash") }).await;
        assert!(matches!(failed, Err(AccountError::Hash)), "{failed:?}");
        // Its thread lives on, and its permit came back.
        for _ in 0..3 {
            assert_eq!(hasher.run(|| 7).await.unwrap(), 7);
        }
        let h = hasher.hash("correct horse").await.unwrap();
        assert!(hasher.verify("correct horse", Some(h)).await.unwrap().valid);
    }

    #[tokio::test]
    async fn hash_verify_and_upgrade() {
        let weak_hasher = Hasher::new(weak());
        let h = weak_hasher.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        let strong = Hasher::default();
        let v = strong
            .verify("correct horse", Some(h.clone()))
            .await
            .unwrap();
        assert!(v.valid);
        let upgraded = v.rehashed.expect("weaker hash is upgraded");
        assert!(upgraded.contains("m=19456,t=2,p=1"));
        let again = strong
            .verify("correct horse", Some(upgraded))
            .await
            .unwrap();
        assert!(again.valid && again.rehashed.is_none());
        assert!(!strong.verify("wrong horse", Some(h)).await.unwrap().valid);
    }

    /// The reused working memory gives the library's own answers, whatever size it was grown
    /// to before, and a tampered hash never verifies.
    #[test]
    fn reused_memory_verifies_like_the_library() {
        let strong = argon2id(Params::DEFAULT)
            .hash_password(b"pw one")
            .unwrap()
            .to_string();
        let weak = argon2id(weak())
            .hash_password(b"pw two")
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        for (stored, right, wrong) in [
            (&strong, "pw one", "pw two"),
            (&weak, "pw two", "pw one"),
            (&strong, "pw one", ""),
        ] {
            let parsed = PasswordHash::new(stored).unwrap();
            assert!(verify_with(&mut memory, right.as_bytes(), &parsed));
            assert!(!verify_with(&mut memory, wrong.as_bytes(), &parsed));
        }
        // One character of the stored hash output changed (not the last, whose low bits are
        // padding).
        let mut tampered: Vec<char> = weak.chars().collect();
        let i = tampered.len() - 5;
        tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        let parsed = PasswordHash::new(&tampered).unwrap();
        assert!(!verify_with(&mut memory, b"pw two", &parsed));
    }

    /// A sign-in dropped mid-hash keeps its permit until the hash ends, so aborted requests
    /// cannot run more hashes at once than there are permits, nor grow the buffer pool.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_verify_holds_its_permit_until_the_hash_ends() {
        // Slow enough that the hash is still running when the checks below look.
        let slow = Params::new(64 * 1024, 4, 1, None).unwrap();
        let stored = argon2id(slow.clone())
            .hash_password(b"pw")
            .unwrap()
            .to_string();
        let hasher = Hasher::new(slow);
        let permits = hasher.permits.available_permits();
        let mut dropped = Vec::new();
        for _ in 0..permits {
            let h = hasher.clone();
            let stored = stored.clone();
            dropped.push(tokio::spawn(
                async move { h.verify("pw", Some(stored)).await },
            ));
        }
        while hasher.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        for task in &dropped {
            task.abort();
        }
        for task in dropped {
            assert!(task.await.unwrap_err().is_cancelled());
        }
        assert_eq!(
            hasher.permits.available_permits(),
            0,
            "the aborted hashes still run and still hold their permits"
        );
        // A verify after them runs once they end, on a buffer they gave back.
        let v = hasher.verify("pw", Some(stored)).await.unwrap();
        assert!(v.valid);
        assert!(hasher.memory.lock().unwrap().len() <= permits);
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let v = Hasher::new(weak()).verify("anything", None).await.unwrap();
        assert!(!v.valid);
    }

    #[test]
    fn policy_rules() {
        let p = Policy::default();
        assert_eq!(
            p.check("short", "alice", None),
            Err(PolicyError::TooShort(12))
        );
        assert_eq!(
            p.check("elevenchars", "alice", None),
            Err(PolicyError::TooShort(12))
        );
        assert!(p.check("twelve chars", "alice", None).is_ok());
        // Characters, not bytes: twelve accented letters pass.
        assert!(p.check("éééééééééééé", "alice", None).is_ok());
        assert_eq!(
            p.check(&"x".repeat(1025), "alice", None),
            Err(PolicyError::TooLong)
        );
        // The list, whatever the case.
        assert_eq!(
            p.check("QwertyUiop123", "alice", None),
            Err(PolicyError::Common)
        );
        assert_eq!(
            p.check("1qaz2wsx3edc", "alice", None),
            Err(PolicyError::Common)
        );
        assert_eq!(
            p.check("Alice.Example", "alice.example", None),
            Err(PolicyError::Personal)
        );
        assert_eq!(
            p.check("alice@example.com", "alice", Some("Alice@Example.com")),
            Err(PolicyError::Personal)
        );
        // A lower minimum never goes below the floor, and the list still applies.
        let eight = Policy { min_length: 4 };
        assert_eq!(
            eight.check("seven77", "alice", None),
            Err(PolicyError::TooShort(8))
        );
        assert_eq!(
            eight.check("baseball", "alice", None),
            Err(PolicyError::Common)
        );
        assert!(eight.check("tr0ub4dor", "alice", None).is_ok());
    }

    #[test]
    fn the_bundled_list_is_lowercase_and_long_enough() {
        let entries: Vec<&str> = COMMON.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(entries.len() > 10_000);
        assert!(
            entries
                .iter()
                .all(|l| l.len() >= Policy::FLOOR && *l == l.to_lowercase())
        );
        assert!(is_common("password") && is_common("PASSWORD1") == is_common("password1"));
        assert!(!is_common("correct horse battery"));
    }
}
