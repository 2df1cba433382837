//! PDF text extraction, isolated from the process that asks for it.
//!
//! pdf-extract (and lopdf under it) panics on some malformed PDFs, can recurse deeply enough
//! to overflow the stack, and can spend unbounded time and memory on hostile input. A Lambda's
//! release build may also be compiled with `panic = "abort"` (this workspace uses `unwind`,
//! but the design must not depend on it). So the processor never parses a PDF in its own
//! process: [`Isolated::extract`] re-executes the current binary with [`CHILD_ARG`], hands it
//! the PDF on stdin (its length, then its bytes), and reads one JSON [`Outcome`] back the same
//! way: the words of every page with their positions. The parent kills it at a wall-clock
//! deadline. Whatever happens to the child (panic, abort, stack overflow, out of memory,
//! timeout, a forbidden system call, garbage on stdout), the parent gets an `Unreadable`
//! outcome with a reason and carries on with the next record.
//!
//! A child may read several documents in turn ([`Isolated::extract_in`] with a [`Session`]),
//! but only those of one [`Owner`]: one uploader's reports for one patient, so a PDF that
//! subverted its worker could alter nothing its own uploader could not have falsified anyway.
//! A worker is replaced after a crash, a timeout, or [`MAX_DOCUMENTS_PER_WORKER`] documents.
//!
//! The child is a sandbox: no environment (so no credentials); limits on memory (`RLIMIT_AS`),
//! CPU time, open files, processes and file size, no core dumps, which it sets on itself
//! before it reads any input (so the parent can start it with posix_spawn); `no_new_privs`;
//! and a seccomp filter that allows only the system calls parsing needs (memory, reading
//! stdin, writing the result, signals, time, exiting). Anything else (a socket, `exec`,
//! opening or creating a file, a new process) kills it (`SIGSYS`). The parent makes itself
//! non-dumpable, so a subverted child of the same user cannot attach to it.
//!
//! Every binary that uses [`Isolated`] must call [`run_child_if_requested`] first thing in
//! `main`, before any runtime or thread starts (lab-processor, the local runner and the bench
//! do).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::layout::{PageWords, Word};

/// The child's exit status when it cannot enter its sandbox (it then parses nothing).
const SANDBOX_REFUSED: i32 = 6;

/// The hidden argument that turns a binary into the extraction child.
pub const CHILD_ARG: &str = "--careflow-extract-pdf";

/// Text beyond this is cut (a lab report is a few KiB of text). Just past what the processor
/// reads automatically ([`crate::lab::service::MAX_REPORT_TEXT_BYTES`]), so that a longer
/// document is seen to be too long rather than quietly cut to fit.
pub const MAX_TEXT_BYTES: usize = crate::lab::service::MAX_REPORT_TEXT_BYTES + 64 * 1024;
/// Each word costs at least two bytes of [`MAX_TEXT_BYTES`] (a character and a separator).
const MAX_WORDS: usize = MAX_TEXT_BYTES / 2;

/// What extraction found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The words of every page, with positions. A page whose text layer holds (almost) nothing
    /// has no words: it needs OCR (see [`Outcome::pages_without_text`]).
    Text {
        pages: Vec<PageWords>,
    },
    Unreadable {
        reason: String,
    },
    /// Ours, not the PDF's: the child could not be started or could not enter its sandbox.
    /// The report is not judged; the processor fails the record so it is retried (and lands in
    /// the dead-letter queue if it keeps failing), instead of calling a good PDF unreadable.
    #[serde(skip)]
    Failed {
        reason: String,
    },
}

impl Outcome {
    fn unreadable(reason: impl Into<String>) -> Self {
        Outcome::Unreadable {
            reason: reason.into(),
        }
    }

    /// The (1-based) numbers of the pages without a text layer.
    pub fn pages_without_text(pages: &[PageWords]) -> Vec<u32> {
        pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.words.is_empty())
            .map(|(i, _)| i as u32 + 1)
            .collect()
    }
}

/// The reason a PDF without any text layer ends `unreadable` when no OCR is configured.
pub const NO_TEXT_LAYER: &str =
    "no text layer: the PDF holds only images (a scan?); it needs OCR or review";

/// True when the bytes start like a PDF (`%PDF-` within the first KiB, as readers allow).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

fn mentions_encryption(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w == b"/Encrypt")
}

/// Collects each page's words with their boxes from pdf-extract's character stream: a word
/// ends at a space, a jump along the line, a change of line or of font size (so a footnote
/// superscript glued to a name is a word of its own).
#[derive(Default)]
struct WordCollector {
    pages: Vec<PageWords>,
    page_top: f64,
    word: Option<Building>,
    bytes: usize,
    words: usize,
}

struct Building {
    text: String,
    x0: f64,
    end: f64,
    baseline: f64,
    size: f64,
}

impl WordCollector {
    fn flush(&mut self) {
        let Some(w) = self.word.take() else {
            return;
        };
        let Some(page) = self.pages.last_mut() else {
            return;
        };
        if self.bytes + w.text.len() > MAX_TEXT_BYTES || self.words >= MAX_WORDS {
            return;
        }
        self.bytes += w.text.len() + 1;
        self.words += 1;
        page.words.push(Word {
            text: w.text,
            x0: w.x0 as f32,
            x1: w.end.max(w.x0) as f32,
            top: (w.baseline - 0.78 * w.size) as f32,
            bottom: (w.baseline + 0.22 * w.size) as f32,
            confidence: None,
            line: None,
        });
    }
}

impl pdf_extract::OutputDev for WordCollector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &pdf_extract::MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.flush();
        self.page_top = media_box.ury;
        self.pages.push(PageWords::default());
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.flush();
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        // As pdf-extract's own text output: the text matrix places the glyph; y from the top.
        let (x, baseline) = (trm.m31, self.page_top - trm.m32);
        let vx = font_size * (trm.m11 + trm.m21);
        let vy = font_size * (trm.m12 + trm.m22);
        let size = (vx * vy).abs().sqrt().max(0.1);
        if text.trim().is_empty() {
            self.flush();
            return Ok(());
        }
        let joins = self.word.as_ref().is_some_and(|w| {
            (baseline - w.baseline).abs() <= 0.25 * w.size.max(size)
                && (size - w.size).abs() <= 0.2 * w.size
                && x <= w.end + 0.15 * size
                && x >= w.end - 0.5 * size
        });
        if !joins {
            self.flush();
            self.word = Some(Building {
                text: String::new(),
                x0: x,
                end: x,
                baseline,
                size,
            });
        }
        if let Some(w) = self.word.as_mut() {
            w.text.push_str(text);
            w.end = x + width * size;
        }
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
}

/// Every page's words, page by page until one fails (as pdf-extract's own by-page reading).
fn words_by_page(pdf: &[u8]) -> Result<Vec<PageWords>, pdf_extract::OutputError> {
    let mut doc = pdf_extract::Document::load_mem(pdf)?;
    if doc.is_encrypted() {
        doc.decrypt("")?;
    }
    let mut collector = WordCollector::default();
    let mut page = 1;
    loop {
        let done = collector.pages.len();
        if pdf_extract::output_doc_page(&doc, &mut collector, page).is_err() {
            collector.pages.truncate(done);
            collector.word = None;
            break;
        }
        page += 1;
    }
    Ok(collector.pages)
}

/// Extracts text in this process, turning a panic into `Unreadable` when panics unwind. Only
/// for the child and for benchmarks: it offers no protection against aborts, stack overflows,
/// runaway time or memory.
pub fn extract_in_process(pdf: &[u8]) -> Outcome {
    if pdf.is_empty() {
        return Outcome::unreadable("the file is empty");
    }
    if !looks_like_pdf(pdf) {
        return Outcome::unreadable("not a PDF (no %PDF- header)");
    }
    let result = std::panic::catch_unwind(|| words_by_page(pdf));
    match result {
        Err(_) => Outcome::unreadable("corrupt PDF: the parser failed on it"),
        Ok(Err(e)) => {
            let message = e.to_string();
            if mentions_encryption(pdf) || message.to_ascii_lowercase().contains("decrypt") {
                Outcome::unreadable("encrypted PDF: it needs a password")
            } else {
                Outcome::unreadable(format!("corrupt PDF: {}", first_line(&message, 160)))
            }
        }
        Ok(Ok(mut pages)) => {
            if pages.is_empty() {
                return Outcome::unreadable("corrupt PDF: no pages");
            }
            // A page with a stray character or two has no usable text layer: OCR reads it.
            for page in &mut pages {
                let alphanumeric = page
                    .words
                    .iter()
                    .flat_map(|w| w.text.chars())
                    .filter(|c| c.is_alphanumeric())
                    .count();
                if alphanumeric < 8 {
                    page.words.clear();
                }
            }
            if pages.iter().all(|p| p.words.is_empty()) && mentions_encryption(pdf) {
                return Outcome::unreadable("encrypted PDF: it needs a password");
            }
            Outcome::Text { pages }
        }
    }
}

fn first_line(s: &str, max: usize) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(max)
        .collect()
}

/// Limits of one extraction.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock bound; the child is killed after it.
    pub timeout: Duration,
    /// Address-space bound of the child (`RLIMIT_AS`).
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            memory_bytes: 1024 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// `LAB_EXTRACT_TIMEOUT_SECONDS` and `LAB_EXTRACT_MEMORY_MB`, defaulting to 20 s and 1 GiB.
    pub fn from_vars(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        let d = Self::default();
        Ok(Self {
            timeout: Duration::from_secs(
                vars.parsed_or("LAB_EXTRACT_TIMEOUT_SECONDS", d.timeout.as_secs())?,
            ),
            memory_bytes: vars
                .parsed_or("LAB_EXTRACT_MEMORY_MB", d.memory_bytes / (1024 * 1024))?
                * 1024
                * 1024,
        })
    }
}

/// Runs extractions in a child process: see the module docs.
#[derive(Debug, Clone)]
pub struct Isolated {
    program: PathBuf,
    limits: Limits,
}

impl Isolated {
    /// Re-executes the running binary (which must call [`run_child_if_requested`]).
    pub fn current_exe(limits: Limits) -> std::io::Result<Self> {
        Ok(Self::with_program(std::env::current_exe()?, limits))
    }

    /// Runs `program` (a binary that calls [`run_child_if_requested`]) as the child.
    pub fn with_program(program: impl Into<PathBuf>, limits: Limits) -> Self {
        Self {
            program: program.into(),
            limits,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Extracts `pdf` in a child process of its own; never fails, never takes (much) longer
    /// than the timeout: every failure of the child is an `Unreadable` outcome.
    pub async fn extract(&self, pdf: Vec<u8>) -> Outcome {
        self.extract_in(&mut Session::default(), None, pdf).await
    }

    /// As [`Self::extract`], in `session`'s worker when it last read a document of the same
    /// `owner` (and has not read [`MAX_DOCUMENTS_PER_WORKER`] yet); otherwise in a fresh one.
    /// Without an owner the worker reads this one document only.
    pub async fn extract_in(
        &self,
        session: &mut Session,
        owner: Option<Owner>,
        pdf: Vec<u8>,
    ) -> Outcome {
        let started = Instant::now();
        // A kept worker that exited meanwhile is replaced before it is handed a document.
        if let Some(worker) = session.worker.as_mut()
            && !matches!(worker.child.try_wait(), Ok(None))
        {
            session.worker = None;
        }
        let reuse = session.worker.as_ref().is_some_and(|w| {
            owner.is_some() && w.owner == owner && w.served < MAX_DOCUMENTS_PER_WORKER
        });
        let mut outcome = self.exchange(session, owner, reuse, &pdf).await;
        // A kept worker that fails on a document may have failed before it (its death is not
        // this document's fault): the document gets one fresh worker of its own.
        if reuse && session.worker_died {
            outcome = self.exchange(session, owner, false, &pdf).await;
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            reused = reuse,
            "pdf extraction"
        );
        outcome
    }

    /// One document through the session's worker (`reuse`) or a fresh one. The worker is out
    /// of the session while it works: if this future is dropped half-way, the next document
    /// gets a fresh worker, never one with a reply still in its pipe.
    async fn exchange(
        &self,
        session: &mut Session,
        owner: Option<Owner>,
        reuse: bool,
        pdf: &[u8],
    ) -> Outcome {
        session.worker_died = false;
        let kept = session.worker.take();
        let mut worker = match kept.filter(|_| reuse) {
            Some(worker) => worker,
            None => match self.spawn(owner) {
                Ok(worker) => {
                    session.started += 1;
                    worker
                }
                Err(e) => {
                    tracing::error!(error = %e, program = %self.program.display(), "cannot start the extraction child");
                    return Outcome::Failed {
                        reason: "extraction could not be started".into(),
                    };
                }
            },
        };
        match tokio::time::timeout(self.limits.timeout, worker.exchange(pdf)).await {
            Ok(Ok(outcome)) => {
                worker.served += 1;
                // Kept for the owner's next document; a document without one had its own.
                if owner.is_some() {
                    session.worker = Some(worker);
                }
                outcome
            }
            Ok(Err(_)) => {
                session.worker_died = true;
                worker.failure().await
            }
            Err(_) => {
                // kill_on_drop reaps it too; kill explicitly so it is gone before we go on.
                let _ = worker.child.start_kill();
                let _ = worker.child.wait().await;
                Outcome::unreadable(format!(
                    "extraction took longer than {} s",
                    self.limits.timeout.as_secs()
                ))
            }
        }
    }

    fn spawn(&self, owner: Option<Owner>) -> std::io::Result<Worker> {
        let mut command = tokio::process::Command::new(&self.program);
        // The child sets its own limits first thing, before it reads a byte of any PDF: with
        // no pre-exec hook here, the standard library can start it with posix_spawn (vfork)
        // instead of copying this multi-threaded process with fork.
        let memory = self.limits.memory_bytes;
        // CPU time, over all the documents a worker may read: a backstop behind the wall-clock
        // deadline of each.
        let cpu = (self.limits.timeout.as_secs().saturating_add(2))
            .saturating_mul(u64::from(MAX_DOCUMENTS_PER_WORKER));
        command
            .arg(CHILD_ARG)
            .arg(memory.to_string())
            .arg(cpu.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The child parses hostile input: it gets no credentials or configuration at all.
            .env_clear()
            .env("RUST_BACKTRACE", "0")
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("the child's pipes are missing"));
        };
        Ok(Worker {
            child,
            stdin,
            stdout,
            stderr,
            owner,
            served: 0,
        })
    }
}

/// Whose documents one worker may read one after another: one patient's, uploaded by one
/// account. A PDF that subverted its worker could then alter only documents its own uploader
/// could have falsified anyway, never another patient's or another uploader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub patient: uuid::Uuid,
    pub uploader: uuid::Uuid,
}

/// A worker is replaced after this many documents (its CPU budget and heap start afresh).
pub const MAX_DOCUMENTS_PER_WORKER: u32 = 32;

/// The extraction worker a processor keeps between documents (see [`Isolated::extract_in`]).
#[derive(Debug, Default)]
pub struct Session {
    worker: Option<Worker>,
    started: u64,
    /// The last exchange ended with the worker dead or talking nonsense (not a timeout, and
    /// not an answer about the document).
    worker_died: bool,
}

impl Session {
    /// How many worker processes this session has started.
    pub fn workers_started(&self) -> u64 {
        self.started
    }
}

#[derive(Debug)]
struct Worker {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    stderr: tokio::process::ChildStderr,
    owner: Option<Owner>,
    served: u32,
}

/// The largest outcome a child may send: JSON escaping can grow text sixfold (control
/// characters as \uXXXX), and each word carries its box (about 80 bytes).
const MAX_OUTCOME_BYTES: u64 = MAX_TEXT_BYTES as u64 * 6 + MAX_WORDS as u64 * 128 + 4096;

impl Worker {
    /// Sends one document (its length, then its bytes) and reads one outcome back the same way.
    async fn exchange(&mut self, pdf: &[u8]) -> std::io::Result<Outcome> {
        let (stdin, stdout) = (&mut self.stdin, &mut self.stdout);
        let write = async move {
            stdin.write_all(&(pdf.len() as u64).to_le_bytes()).await?;
            stdin.write_all(pdf).await?;
            stdin.flush().await
        };
        let read = async move {
            let mut len = [0u8; 8];
            stdout.read_exact(&mut len).await?;
            let len = u64::from_le_bytes(len);
            if len > MAX_OUTCOME_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "outcome too large",
                ));
            }
            let mut json = vec![0u8; len as usize];
            stdout.read_exact(&mut json).await?;
            serde_json::from_slice::<Outcome>(&json)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        // A child that dies early makes the write fail too: the read says what happened.
        let (_, outcome) = tokio::join!(write, read);
        outcome
    }

    /// What became of a worker that stopped answering: its exit status and last words.
    async fn failure(mut self) -> Outcome {
        drop(self.stdin);
        let status = match tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                let _ = self.child.start_kill();
                self.child.wait().await
            }
        };
        let mut err = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            (&mut self.stderr).take(64 * 1024).read_to_end(&mut err),
        )
        .await;
        let status = match status {
            Ok(status) => status,
            Err(e) => {
                tracing::error!(error = %e, "waiting for the extraction child");
                return Outcome::Failed {
                    reason: "waiting for the extraction child failed".into(),
                };
            }
        };
        let stderr = String::from_utf8_lossy(&err);
        let tail = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        tracing::warn!(?status, stderr = %first_line(tail, 300), "extraction child failed");
        // Fail closed, and do not blame the PDF: a kernel that refuses the filter gets no
        // unsandboxed parsing, and the report waits for a retry.
        if status.code() == Some(SANDBOX_REFUSED) {
            return Outcome::Failed {
                reason: "extraction could not enter its sandbox (seccomp refused)".into(),
            };
        }
        Outcome::unreadable(child_failure_reason(status, &stderr))
    }
}

fn child_failure_reason(status: std::process::ExitStatus, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("overflowed its stack") {
        return "corrupt PDF: the parser overflowed its stack on it".into();
    }
    if lower.contains("memory allocation") || lower.contains("capacity overflow") {
        return "the PDF needs more memory to read than allowed".into();
    }
    match status.signal() {
        Some(libc::SIGSYS) => {
            "the parser attempted an operation the sandbox forbids (network, exec or files)".into()
        }
        Some(libc::SIGXCPU) | Some(libc::SIGKILL) => "extraction used too much CPU time".into(),
        Some(libc::SIGSEGV) | Some(libc::SIGBUS) => {
            "corrupt PDF: the parser crashed on it (stack overflow or invalid memory access)".into()
        }
        Some(libc::SIGABRT) => {
            "corrupt PDF: the parser aborted on it (panic or out of memory)".into()
        }
        Some(signal) => format!("corrupt PDF: the parser died on it (signal {signal})"),
        None if lower.contains("panicked") => "corrupt PDF: the parser failed on it".into(),
        None => format!(
            "extraction failed (exit status {})",
            status.code().unwrap_or(-1)
        ),
    }
}

/// Sets a resource limit (soft and hard) on this process. Only `setrlimit`: safe in a forked
/// child before exec.
pub(super) fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: a plain syscall on a valid struct.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// If this process was started as the extraction child, does the extraction and exits; else
/// makes this (parent) process non-dumpable and returns. Call it first thing in `main`, before
/// any runtime or thread starts.
pub fn run_child_if_requested() {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(CHILD_ARG)) {
        // SAFETY: a plain prctl on this process. A child that escaped its parser still runs as
        // the same user; without this it could ptrace the parent or read its memory.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        return;
    }
    std::process::exit(child_main());
}

/// The system calls the child may make once it is sandboxed: memory, reading the PDF from
/// stdin, writing the result and messages, signal handling (the stack-overflow handler), time,
/// randomness for hash maps, and exiting; [`enter_sandbox`] adds `fcntl(F_GETFD)` and `tgkill`
/// to itself. No call that takes a path is allowed. Everything else kills it.
fn allowed_syscalls() -> Vec<i64> {
    vec![
        libc::SYS_read,
        libc::SYS_readv,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_fstat,
        libc::SYS_lseek,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_brk,
        libc::SYS_futex,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_clock_gettime,
        libc::SYS_getrandom,
        libc::SYS_sched_yield,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ]
}

/// `no_new_privs` and the seccomp filter of [`allowed_syscalls`] (seccompiler sets both).
fn enter_sandbox() -> Result<(), String> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let mut rules: std::collections::BTreeMap<i64, Vec<SeccompRule>> = allowed_syscalls()
        .into_iter()
        .map(|call| (call, Vec::new()))
        .collect();
    // `fcntl(fd, F_GETFD)` only: the standard library asks whether a descriptor is open (when
    // it closes one, in debug builds). No other fcntl command is allowed.
    let get_fd = SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::F_GETFD as u64,
    )
    .and_then(|condition| SeccompRule::new(vec![condition]))
    .map_err(|e| e.to_string())?;
    rules.insert(libc::SYS_fcntl, vec![get_fd]);
    // `tgkill` to this process only: `abort` (a panic, an allocation failure) signals itself.
    // Another process of the same user, the lab processor above all, stays out of reach.
    // SAFETY: getpid has no preconditions.
    let own_pid = unsafe { libc::getpid() } as u64;
    let to_self = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, own_pid)
        .and_then(|condition| SeccompRule::new(vec![condition]))
        .map_err(|e| e.to_string())?;
    rules.insert(libc::SYS_tgkill, vec![to_self]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}

/// The child's limits, before anything else: memory (`RLIMIT_AS`), CPU time, no core dumps,
/// the standard streams and the result's descriptor only, no new processes (root is exempt
/// from that one; seccomp is not), no file writes of any size (pipes are not files).
fn limit_child(memory: u64, cpu: u64) -> std::io::Result<()> {
    set_limit(libc::RLIMIT_AS, memory)?;
    set_limit(libc::RLIMIT_CPU, cpu)?;
    set_limit(libc::RLIMIT_CORE, 0)?;
    set_limit(libc::RLIMIT_NOFILE, 16)?;
    set_limit(libc::RLIMIT_NPROC, 0)?;
    set_limit(libc::RLIMIT_FSIZE, 0)
}

fn child_main() -> i32 {
    let limits: Vec<u64> = std::env::args()
        .skip(2)
        .take(2)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [memory, cpu] = limits[..] else {
        let _ = writeln!(std::io::stderr(), "the extraction child needs its limits");
        return SANDBOX_REFUSED;
    };
    if let Err(e) = limit_child(memory, cpu) {
        let _ = writeln!(std::io::stderr(), "cannot limit the extraction child: {e}");
        return SANDBOX_REFUSED;
    }
    // Keep the real stdout for the result and point fd 1 at stderr, so nothing the libraries
    // print can corrupt the JSON the parent reads.
    // SAFETY: dup/dup2 on the standard descriptors of this single-threaded process.
    let result_fd = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return 3;
        }
        fd
    };
    // Panic messages can quote PDF bytes: print only that it happened.
    std::panic::set_hook(Box::new(|_| {
        let _ = writeln!(std::io::stderr(), "pdf extraction panicked");
    }));
    if let Err(e) = enter_sandbox() {
        let _ = writeln!(std::io::stderr(), "cannot enter the sandbox: {e}");
        return SANDBOX_REFUSED;
    }
    // SAFETY: result_fd is a descriptor this process owns (dup above), wrapped once here.
    let mut out = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(result_fd) };
    let mut input = std::io::stdin().lock();
    // One document after another, each as its length and its bytes, until the parent closes.
    loop {
        let mut len = [0u8; 8];
        match input.read(&mut len[..1]) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(_) => return 4,
        }
        if input.read_exact(&mut len[1..]).is_err() {
            return 4;
        }
        let Ok(len) = usize::try_from(u64::from_le_bytes(len)) else {
            return 4;
        };
        let mut pdf = Vec::new();
        if pdf.try_reserve_exact(len).is_err()
            || (&mut input).take(len as u64).read_to_end(&mut pdf).is_err()
            || pdf.len() != len
        {
            return 4;
        }
        #[cfg(debug_assertions)]
        inject_fault(&pdf);
        let outcome = extract_in_process(&pdf);
        let json = serde_json::to_vec(&outcome).expect("outcome serialises");
        let sent = out
            .write_all(&(json.len() as u64).to_le_bytes())
            .and_then(|()| out.write_all(&json))
            .and_then(|()| out.flush());
        if sent.is_err() {
            return 5;
        }
    }
}

/// Debug builds only (compiled out of release builds, which Lambda runs): a PDF carrying
/// `%CAREFLOW-FAULT:{panic|abort|overflow|hang|oom|socket|exec|file|sandbox-refused}` makes the child fail or
/// misbehave that way, so the tests can prove that each failure of a real parser, and each
/// escape a subverted one would try, ends as `unreadable` and the batch goes on.
#[cfg(debug_assertions)]
fn inject_fault(pdf: &[u8]) {
    const MARKER: &[u8] = b"%CAREFLOW-FAULT:";
    let Some(at) = pdf.windows(MARKER.len()).position(|w| w == MARKER) else {
        return;
    };
    let rest = &pdf[at + MARKER.len()..];
    let fault = |name: &[u8]| rest.starts_with(name);
    if fault(b"panic") {
        // As under panic = "abort": the hook runs, then the process dies.
        std::panic::set_hook(Box::new(|_| {
            let _ = writeln!(std::io::stderr(), "pdf extraction panicked");
            std::process::abort();
        }));
        panic!("injected panic");
    } else if fault(b"abort") {
        std::process::abort();
    } else if fault(b"overflow") {
        #[allow(unconditional_recursion)]
        fn recurse(depth: u64) -> u64 {
            let frame = [depth; 64];
            recurse(std::hint::black_box(frame)[0] + 1) + 1
        }
        std::hint::black_box(recurse(0));
    } else if fault(b"hang") {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    } else if fault(b"socket") {
        // SAFETY: plain syscalls; the sandbox must kill the process at the first.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            let _ = writeln!(std::io::stderr(), "socket() returned {fd}");
        }
    } else if fault(b"exec") {
        let program = c"/bin/sh";
        let argv = [
            program.as_ptr(),
            c"-c".as_ptr(),
            c"exit 0".as_ptr(),
            std::ptr::null(),
        ];
        // SAFETY: NUL-terminated strings and a NULL-terminated argv that outlive the call.
        unsafe { libc::execv(program.as_ptr(), argv.as_ptr()) };
        let _ = writeln!(std::io::stderr(), "execv returned");
    } else if fault(b"file") {
        let created = std::fs::write("/tmp/careflow-sandbox-escape", b"x");
        let _ = writeln!(std::io::stderr(), "file write: {created:?}");
    } else if fault(b"sandbox-refused") {
        // As when the kernel refuses the filter: the status the child exits with then.
        std::process::exit(SANDBOX_REFUSED);
    } else if fault(b"oom") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 64 * 1024 * 1024]);
            std::hint::black_box(&hoard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_checks_come_first() {
        assert_eq!(
            extract_in_process(b""),
            Outcome::unreadable("the file is empty")
        );
        assert!(matches!(
            extract_in_process(b"GIF89a not a pdf"),
            Outcome::Unreadable { reason } if reason.starts_with("not a PDF")
        ));
        assert!(matches!(
            extract_in_process(b"%PDF-1.7\n garbage"),
            Outcome::Unreadable { reason } if reason.starts_with("corrupt PDF")
        ));
        assert!(looks_like_pdf(b"\xef\xbb\xbf%PDF-1.4"));
    }
}
