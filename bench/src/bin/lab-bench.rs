//! Lab-report PDF extraction throughput: the processor's extraction (in process, and through
//! the isolating child process it really uses) against poppler's `pdftotext`, on the same
//! files, side by side: pages/s and MB/s.
//!
//! `lab-bench [--iterations N] [--dump] FILE_OR_DIR...` (scripts/bench-lab.sh passes the PDF
//! corpus and the generated lab reports); `--dump` prints, per file, the report the processor
//! would store (JSON, OCR included) instead of timing anything. Pages are counted by `pdfinfo` for every tool alike.
//! Files the isolated extraction refuses (encrypted, image-only, corrupt) still count: their
//! time is what the processor spends on them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use careflow::config::Vars;
use careflow::lab::ObjectRef;
use careflow::lab::extract::{
    Isolated, Limits, Outcome, Owner, Session, extract_in_process, run_child_if_requested,
};
use careflow::lab::ocr::Tesseract;
use careflow::lab::service::{Verdict, final_report};

struct File {
    path: PathBuf,
    bytes: Vec<u8>,
    pages: u64,
}

/// Per tool (in process, isolated child per PDF, isolated worker per batch, pdftotext): time for
/// all iterations, text or not.
type Run = [(Duration, bool); 4];

#[derive(Default, Clone, Copy)]
struct Totals {
    elapsed: Duration,
    pages: u64,
    bytes: u64,
    failures: u64,
}

impl Totals {
    fn add(&mut self, f: &File, elapsed: Duration, ok: bool, iterations: u32) {
        self.elapsed += elapsed;
        self.pages += f.pages * u64::from(iterations);
        self.bytes += f.bytes.len() as u64 * u64::from(iterations);
        self.failures += u64::from(!ok);
    }
}

fn collect(paths: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let p = Path::new(p);
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|e| e.extension().is_some_and(|x| x == "pdf"))
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(p.to_owned());
        }
    }
    out
}

fn pdfinfo_pages(path: &Path) -> u64 {
    let out = std::process::Command::new("pdfinfo").arg(path).output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("Pages:").map(|v| v.trim().parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

fn pdftotext(path: &Path) -> bool {
    std::process::Command::new("pdftotext")
        .args(["-q", "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .stdout(std::process::Stdio::piped())
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.iter().any(|b| b.is_ascii_alphanumeric()))
}

fn row(name: &str, t: Totals, iterations: u32) -> String {
    let secs = t.elapsed.as_secs_f64();
    format!(
        "| {name} | {:.1} | {:.2} | {:.1} | {} |",
        t.pages as f64 / secs,
        t.bytes as f64 / 1e6 / secs,
        secs * 1000.0 / f64::from(iterations),
        t.failures,
    )
}

fn main() -> anyhow::Result<()> {
    // The extraction child is this binary, as lab-processor's is: before any runtime starts.
    run_child_if_requested();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut iterations = 3u32;
    if let Some(i) = args.iter().position(|a| a == "--iterations") {
        iterations = args[i + 1].parse()?;
        args.drain(i..i + 2);
    }
    let dump = args.iter().any(|a| a == "--dump");
    args.retain(|a| a != "--dump");
    let files: Vec<File> = collect(&args)
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            let pages = pdfinfo_pages(&path);
            Some(File { path, bytes, pages })
        })
        .collect();
    if dump {
        // What the processor would store for each file (OCR for pages without text).
        let ocr = Tesseract::from_vars(&Vars::from_map::<String, String>([]))?;
        for f in &files {
            let verdict = match extract_in_process(&f.bytes) {
                Outcome::Text { mut pages } => {
                    for n in Outcome::pages_without_text(&pages) {
                        if let Some(ocr) = &ocr {
                            let deadline = tokio::time::Instant::now() + ocr.report_budget;
                            pages[n as usize - 1] = ocr.read_page(&f.bytes, n, deadline).await?;
                        }
                    }
                    Verdict::Read {
                        pages,
                        unread_pages: 0,
                    }
                }
                Outcome::Unreadable { reason } | Outcome::Failed { reason } => {
                    Verdict::Unreadable { reason }
                }
            };
            let nil = uuid::Uuid::nil();
            let object = ObjectRef {
                etag: None,
                version_id: None,
                sequencer: None,
            };
            let report = final_report(None, nil, nil, object, 0, verdict, chrono::Utc::now());
            println!(
                "{}",
                serde_json::json!({"file": f.path, "status": report.status, "reason": report.reason,
                    "collected_at": report.collected_at, "results": report.results})
            );
        }
        return Ok(());
    }
    let isolated = Isolated::current_exe(Limits::default())?;
    // One uploader's batch for one patient: lab-processor reuses one worker for it.
    let mut session = Session::default();
    let owner = Some(Owner {
        patient: uuid::Uuid::nil(),
        uploader: uuid::Uuid::nil(),
    });
    // Per file and tool: time for all iterations, and whether text came out.
    let mut runs: Vec<Run> = Vec::new();
    for f in &files {
        let started = Instant::now();
        let mut child_ok = false;
        for _ in 0..iterations {
            child_ok = matches!(
                isolated.extract(f.bytes.clone()).await,
                Outcome::Text { .. }
            );
        }
        let child = (started.elapsed(), child_ok);
        let started = Instant::now();
        let mut worker_ok = false;
        for _ in 0..iterations {
            worker_ok = matches!(
                isolated
                    .extract_in(&mut session, owner, f.bytes.clone())
                    .await,
                Outcome::Text { .. }
            );
        }
        let worker = (started.elapsed(), worker_ok);
        // In process only what the isolated run finished in time: a hostile file could take
        // the benchmark down with it (a panic is caught; an abort or a hang would not be).
        let inproc = if child.0 < Limits::default().timeout * iterations {
            let started = Instant::now();
            let mut ok = false;
            for _ in 0..iterations {
                ok = matches!(extract_in_process(&f.bytes), Outcome::Text { .. });
            }
            (started.elapsed(), ok)
        } else {
            (Duration::ZERO, false)
        };
        let started = Instant::now();
        let mut ok = false;
        for _ in 0..iterations {
            ok = pdftotext(&f.path);
        }
        runs.push([inproc, child, worker, (started.elapsed(), ok)]);
    }
    let names = [
        "pdf-extract, in process",
        "pdf-extract, isolated child per PDF (lab-processor across uploaders)",
        "pdf-extract, isolated worker per batch (lab-processor, one uploader's reports)",
        "poppler pdftotext (process per file)",
    ];
    let table = |title: &str, keep: &dyn Fn(&Run) -> bool| {
        let chosen: Vec<(&File, &Run)> = files.iter().zip(&runs).filter(|(_, r)| keep(r)).collect();
        let pages: u64 = chosen.iter().map(|(f, _)| f.pages).sum();
        let bytes: u64 = chosen.iter().map(|(f, _)| f.bytes.len() as u64).sum();
        println!(
            "\n{title}: {} files, {pages} pages, {:.2} MB, {iterations} iterations",
            chosen.len(),
            bytes as f64 / 1e6
        );
        println!("| extraction | pages/s | MB/s | ms per pass | files without text |");
        println!("|---|---|---|---|---|");
        for (i, name) in names.iter().enumerate() {
            let mut t = Totals::default();
            for (f, r) in &chosen {
                t.add(f, r[i].0, r[i].1, iterations);
            }
            println!("{}", row(name, t, iterations));
        }
    };
    table("All files (lab reports, hostile files, corpus)", &|_| true);
    table("Files every tool read text from", &|r| {
        r.iter().all(|(_, ok)| *ok)
    });
    println!(
        "\nworker processes started for the batch: {} ({} documents)",
        session.workers_started(),
        files.len() * iterations as usize
    );
    // OCR of every page without a text layer (once: a page takes seconds, not milliseconds).
    let Some(ocr) = Tesseract::from_vars(&Vars::from_map::<String, String>([]))? else {
        println!("\nOCR: tesseract and pdftoppm not found; not measured");
        return Ok(());
    };
    let (mut pages, mut words, mut elapsed) = (0u64, 0usize, Duration::ZERO);
    let mut cpu = Duration::ZERO;
    for f in &files {
        let Outcome::Text { pages: read } = extract_in_process(&f.bytes) else {
            continue;
        };
        for n in Outcome::pages_without_text(&read) {
            let (started, cpu_before) = (Instant::now(), children_cpu());
            let deadline = tokio::time::Instant::now() + ocr.timeout;
            if let Ok(page) = ocr.read_page(&f.bytes, n, deadline).await {
                words += page.words.len();
            }
            elapsed += started.elapsed();
            cpu += children_cpu().saturating_sub(cpu_before);
            pages += 1;
        }
    }
    println!(
        "\nOCR (pdftoppm at {} dpi, then tesseract, one page at a time, sandboxed): {pages} pages \
         without a text layer, {words} words, {:.2} pages/s, {:.2} s and {:.2} s of CPU per page",
        ocr.dpi,
        pages as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / pages.max(1) as f64,
        cpu.as_secs_f64() / pages.max(1) as f64,
    );
    Ok(())
}

/// CPU time of this process's finished children (the OCR programs), user and system.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}
