//! OCR of pages that have no text layer (scans, faxes): poppler's `pdftoppm` renders one page,
//! Tesseract reads it into words with boxes and a confidence each.
//!
//! Both programs parse what a stranger uploaded, so each runs as the extraction child does:
//! without our environment (no credentials), with limits on memory, CPU time, files and
//! processes, killed at a wall-clock deadline, and under a seccomp filter that refuses
//! sockets, new processes, signals to others, tracing, and every call that writes to or
//! changes the file system (opening for writing included). They may read files: the
//! programs, their libraries and Tesseract's language data. A crash, hang or memory blow-up
//! ends that report `unreadable` with a reason; the batch goes on.
//!
//! On Lambda the programs come from a layer (`scripts/build-ocr-layer.sh`): `/opt/bin`,
//! `/opt/lib`, `/opt/share/tessdata`. Without them, OCR is off and scans end `unreadable`
//! as before.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::extract::set_limit;
use super::layout::{PageWords, Word, deskew};
use crate::config::{ConfigError, Vars};

/// Where OCR looks for its programs when `LAB_OCR_BIN_DIR` is not set.
const SEARCH_PATH: &[&str] = &["/opt/bin", "/usr/local/bin", "/usr/bin", "/bin"];

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    /// The page (the file) is the problem: the report ends `unreadable` with this reason.
    #[error("{0}")]
    Unreadable(String),
    /// Ours: a program could not be started. The record is retried.
    #[error("{0}")]
    Failed(String),
}

/// Tesseract behind pdftoppm, with the limits of one page.
#[derive(Debug, Clone)]
pub struct Tesseract {
    pdftoppm: PathBuf,
    tesseract: PathBuf,
    /// Passed as `TESSDATA_PREFIX` (the layer's language data).
    tessdata: Option<PathBuf>,
    pub dpi: u32,
    pub timeout: Duration,
    /// All the OCR of one report: within the function's own timeout, with room to spare.
    pub report_budget: Duration,
    pub memory_bytes: u64,
    /// Scanned pages beyond this many are not read: the report goes to review.
    pub max_pages: usize,
}

impl Tesseract {
    /// `LAB_OCR` (`tesseract`, the default, or `off`), `LAB_OCR_BIN_DIR` (else the first of
    /// `/opt/bin`, `/usr/local/bin`, `/usr/bin` holding both programs), `LAB_OCR_DPI` (300),
    /// `LAB_OCR_PAGE_TIMEOUT_SECONDS` (30), `LAB_OCR_REPORT_SECONDS` (60: all pages of one
    /// report, inside lab-processor's 120 s), `LAB_OCR_MEMORY_MB` (1024), `LAB_OCR_MAX_PAGES`
    /// (10). `None` when off or not installed. Programs in `{prefix}/bin` beside a
    /// `{prefix}/share/tessdata` (the layer's `/opt`) get that language data.
    pub fn from_vars(vars: &Vars) -> Result<Option<Self>, ConfigError> {
        let mode = vars
            .optional("LAB_OCR")
            .unwrap_or_else(|| "tesseract".into());
        match mode.as_str() {
            "off" => return Ok(None),
            "tesseract" => {}
            _ => {
                return Err(ConfigError::Invalid {
                    name: "LAB_OCR",
                    message: "must be tesseract or off".into(),
                });
            }
        }
        let dirs: Vec<PathBuf> = match vars.optional("LAB_OCR_BIN_DIR") {
            Some(dir) => vec![dir.into()],
            None => SEARCH_PATH.iter().map(PathBuf::from).collect(),
        };
        let Some(dir) = dirs
            .into_iter()
            .find(|d| d.join("pdftoppm").is_file() && d.join("tesseract").is_file())
        else {
            tracing::warn!("OCR is off: pdftoppm and tesseract were not found");
            return Ok(None);
        };
        let tessdata = dir
            .parent()
            .map(|prefix| prefix.join("share/tessdata"))
            .filter(|data| data.join("eng.traineddata").is_file());
        Ok(Some(Self {
            pdftoppm: dir.join("pdftoppm"),
            tesseract: dir.join("tesseract"),
            tessdata,
            dpi: vars.parsed_or("LAB_OCR_DPI", 300u32)?.clamp(72, 600),
            timeout: Duration::from_secs(vars.parsed_or("LAB_OCR_PAGE_TIMEOUT_SECONDS", 30u64)?),
            report_budget: Duration::from_secs(vars.parsed_or("LAB_OCR_REPORT_SECONDS", 60u64)?),
            memory_bytes: vars.parsed_or("LAB_OCR_MEMORY_MB", 1024u64)? * 1024 * 1024,
            max_pages: vars.parsed_or("LAB_OCR_MAX_PAGES", 10usize)?,
        }))
    }

    /// Runs both programs once (`--version`) in their sandbox: a layer of the wrong
    /// architecture, a missing library or a sandbox that breaks them shows at start, not as
    /// every scan ending unreadable.
    pub async fn verify(&self) -> Result<(), OcrError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        self.run(
            &self.tesseract,
            &["--version"],
            Vec::new(),
            64 * 1024,
            deadline,
        )
        .await?;
        self.run(&self.pdftoppm, &["-v"], Vec::new(), 64 * 1024, deadline)
            .await
            .map(|_| ())
    }

    /// Reads page `page` (1-based) of `pdf`, giving up at `deadline` (the report's budget) or
    /// after the page's own timeout, whichever is first.
    pub async fn read_page(
        &self,
        pdf: &[u8],
        page: u32,
        deadline: tokio::time::Instant,
    ) -> Result<PageWords, OcrError> {
        let deadline = deadline.min(tokio::time::Instant::now() + self.timeout);
        let page_arg = page.to_string();
        let dpi = self.dpi.to_string();
        // A grey-scale PGM on stdout: no compression to pay for on either side.
        let image = self
            .run(
                &self.pdftoppm,
                &[
                    "-r",
                    &dpi,
                    "-gray",
                    "-f",
                    &page_arg,
                    "-l",
                    &page_arg,
                    "-singlefile",
                    "-",
                ],
                pdf.to_vec(),
                64 * 1024 * 1024,
                deadline,
            )
            .await
            .map_err(|e| match e {
                OcrError::Unreadable(reason) => {
                    OcrError::Unreadable(format!("rendering page {page} for OCR failed: {reason}"))
                }
                failed => failed,
            })?;
        if image.is_empty() {
            return Err(OcrError::Unreadable(format!(
                "rendering page {page} for OCR produced no image"
            )));
        }
        let tsv = self
            .run(
                &self.tesseract,
                &[
                    "stdin", "stdout", "-l", "eng", "--psm", "6", "--dpi", &dpi, "tsv",
                ],
                image,
                16 * 1024 * 1024,
                deadline,
            )
            .await
            .map_err(|e| match e {
                OcrError::Unreadable(reason) => {
                    OcrError::Unreadable(format!("OCR of page {page} failed: {reason}"))
                }
                failed => failed,
            })?;
        let mut words = words_from_tsv(&String::from_utf8_lossy(&tsv), self.dpi);
        deskew(&mut words);
        Ok(PageWords { words, ocr: true })
    }

    async fn run(
        &self,
        program: &Path,
        args: &[&str],
        input: Vec<u8>,
        max_output: u64,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<u8>, OcrError> {
        let filter = sandbox_filter()
            .map_err(|e| OcrError::Failed(format!("building the OCR sandbox: {e}")))?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_clear()
            // One thread: Lambda's CPU share, and a bounded address space.
            .env("OMP_THREAD_LIMIT", "1")
            .kill_on_drop(true);
        if let Some(dir) = &self.tessdata {
            command.env("TESSDATA_PREFIX", dir);
        }
        let memory = self.memory_bytes;
        let cpu = self.timeout.as_secs().saturating_add(2);
        // SAFETY: runs in the forked child before exec; setrlimit, prctl and seccomp are plain
        // system calls, and the filter was built (allocated) before the fork.
        unsafe {
            command.pre_exec(move || {
                for (resource, value) in [
                    (libc::RLIMIT_AS, memory),
                    (libc::RLIMIT_CPU, cpu),
                    (libc::RLIMIT_CORE, 0),
                    (libc::RLIMIT_NOFILE, 64),
                    (libc::RLIMIT_NPROC, 0),
                    (libc::RLIMIT_FSIZE, 0),
                ] {
                    set_limit(resource, value)?;
                }
                seccompiler::apply_filter(&filter)
                    .map_err(|_| std::io::Error::from_raw_os_error(libc::EPERM))
            });
        }
        let mut child = command.spawn().map_err(|e| {
            tracing::error!(error = %e, program = %program.display(), "cannot start OCR");
            OcrError::Failed("OCR could not be started".into())
        })?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let io = async move {
            let write = async move {
                let _ = stdin.write_all(&input).await;
                drop(stdin);
            };
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                let _ = (&mut stdout).take(max_output).read_to_end(&mut out).await;
            };
            let read_err = async {
                let _ = (&mut stderr).take(16 * 1024).read_to_end(&mut err).await;
            };
            tokio::join!(write, read_out, read_err);
            (out, err)
        };
        let waited = tokio::time::timeout_at(deadline, async {
            let (out, err) = io.await;
            (out, err, child.wait().await)
        })
        .await;
        let Ok((out, err, status)) = waited else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(OcrError::Unreadable(format!(
                "it took longer than the {} s a page or the {} s a report may take",
                self.timeout.as_secs(),
                self.report_budget.as_secs()
            )));
        };
        let status = status.map_err(|e| OcrError::Failed(format!("waiting for OCR: {e}")))?;
        if status.success() {
            return Ok(out);
        }
        let stderr = String::from_utf8_lossy(&err);
        tracing::warn!(?status, program = %program.display(), stderr = %stderr.lines().last().unwrap_or_default().chars().take(200).collect::<String>(), "OCR program failed");
        use std::os::unix::process::ExitStatusExt;
        // The shell or the loader could not run the program (a broken layer, a missing
        // library): ours, not the page's. The record is retried and reaches the dead letters.
        if matches!(status.code(), Some(126 | 127)) {
            return Err(OcrError::Failed(format!(
                "OCR could not run {} (exit status {})",
                program.file_name().unwrap_or_default().to_string_lossy(),
                status.code().unwrap_or(-1)
            )));
        }
        Err(OcrError::Unreadable(match status.signal() {
            Some(libc::SIGXCPU) | Some(libc::SIGKILL) => "it used too much CPU time".into(),
            Some(signal) => format!("the program died (signal {signal})"),
            None if stderr.contains("alloc") => "it needed more memory than allowed".into(),
            None => format!(
                "the program failed (exit status {})",
                status.code().unwrap_or(-1)
            ),
        }))
    }
}

/// Tesseract's TSV (level 5 rows are words) to words in points.
pub fn words_from_tsv(tsv: &str, dpi: u32) -> Vec<Word> {
    let scale = 72.0 / dpi as f32;
    tsv.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                return None;
            }
            let n = |i: usize| cols[i].parse::<f32>().ok();
            let text = cols[11].trim();
            if text.is_empty() {
                return None;
            }
            let (left, top, width, height, conf) = (n(6)?, n(7)?, n(8)?, n(9)?, n(10)?);
            let id = |i: usize| cols[i].parse::<u32>().ok();
            // Blocks, paragraphs and lines are numbered within their parent.
            let line = id(2)? * 1_000_000 + id(3)? * 1_000 + id(4)?;
            Some(Word {
                text: text.to_owned(),
                x0: left * scale,
                x1: (left + width) * scale,
                top: top * scale,
                bottom: (top + height) * scale,
                confidence: Some((conf / 100.0).clamp(0.0, 1.0)),
                line: Some(line),
            })
        })
        .collect()
}

/// The system calls the OCR programs may not make (everything else is allowed: they are
/// ordinary dynamically linked programs that read their data files). Refused calls fail with
/// `ENOSYS`, which also makes glibc fall back from `clone3` to `clone` (a new thread is allowed,
/// a new process is not) and from `openat2` to `openat` (whose flags are checked).
fn sandbox_filter() -> Result<seccompiler::BpfProgram, String> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    let arch =
        seccompiler::TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let always = |call: i64| (call, Vec::new());
    let masked = |arg: u8, mask: u64, value: u64| -> Result<SeccompRule, String> {
        SeccompCondition::new(
            arg,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(mask),
            value,
        )
        .and_then(|c| SeccompRule::new(vec![c]))
        .map_err(|e| e.to_string())
    };
    let write_flags =
        [libc::O_WRONLY, libc::O_RDWR, libc::O_CREAT, libc::O_TRUNC].map(|f| f as u64);
    let opens_for_writing = |arg: u8| -> Result<Vec<SeccompRule>, String> {
        write_flags.iter().map(|f| masked(arg, *f, *f)).collect()
    };
    let mut rules: std::collections::BTreeMap<i64, Vec<SeccompRule>> = [
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_kill,
        libc::SYS_tkill,
        libc::SYS_tgkill,
        libc::SYS_vfork,
        libc::SYS_clone3,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_chroot,
        libc::SYS_pivot_root,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_unlinkat,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_mkdirat,
        libc::SYS_symlinkat,
        libc::SYS_linkat,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_truncate,
        libc::SYS_ftruncate,
        libc::SYS_mknodat,
        libc::SYS_setuid,
        libc::SYS_setgid,
        libc::SYS_setreuid,
        libc::SYS_setregid,
        libc::SYS_setresuid,
        libc::SYS_setresgid,
        // Signals and handles that reach other processes, and opening files by other means
        // than open/openat (whose flags are checked below).
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_pidfd_getfd,
        libc::SYS_process_madvise,
        libc::SYS_kcmp,
        libc::SYS_openat2,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_memfd_create,
        libc::SYS_fanotify_init,
        libc::SYS_inotify_init1,
        libc::SYS_acct,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_quotactl,
    ]
    .into_iter()
    .map(always)
    .collect();
    #[cfg(target_arch = "x86_64")]
    for call in [
        libc::SYS_fork,
        libc::SYS_creat,
        libc::SYS_unlink,
        libc::SYS_rename,
        libc::SYS_mkdir,
        libc::SYS_rmdir,
        libc::SYS_symlink,
        libc::SYS_link,
        libc::SYS_chmod,
        libc::SYS_chown,
        libc::SYS_lchown,
        libc::SYS_mknod,
    ] {
        rules.insert(call, Vec::new());
    }
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_open, opens_for_writing(1)?);
    rules.insert(libc::SYS_openat, opens_for_writing(2)?);
    // A new process (clone without CLONE_THREAD); threads stay possible.
    rules.insert(
        libc::SYS_clone,
        vec![masked(0, libc::CLONE_THREAD as u64, 0)?],
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tesseract_words_are_placed_in_points() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   4\t1\t1\t1\t1\t0\t170\t166\t860\t43\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t300\t600\t150\t40\t92.5\tGlucose\n\
                   5\t1\t1\t1\t1\t2\t900\t600\t60\t40\t41\t105\n\
                   5\t1\t1\t1\t1\t3\t900\t600\t60\t40\t95\t \n";
        let words = words_from_tsv(tsv, 300);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].text, "Glucose");
        assert!((words[0].x0 - 72.0).abs() < 0.01 && (words[0].top - 144.0).abs() < 0.01);
        assert_eq!(words[1].confidence, Some(0.41));
        assert!(sandbox_filter().is_ok());
    }
}
