//! PDF for procurement documents: the HTML report printed by headless Chromium, whose print
//! engine honours the report's page-break rules (no chart or short table cut in half).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PRINT_LIMIT: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("a PDF is printed by headless Chromium, and none was found (tried {tried}); install it (Debian: apt-get install chromium) or set RTCBENCH_CHROMIUM to its path")]
    NoChromium { tried: String },
    #[error("{browser} could not print {html}: {reason}")]
    Print {
        browser: String,
        html: String,
        reason: String,
    },
}

/// The browser to print with: `RTCBENCH_CHROMIUM`, else the first of the usual names on PATH.
pub fn find_chromium() -> Result<PathBuf, PdfError> {
    if let Some(p) = std::env::var_os("RTCBENCH_CHROMIUM") {
        let p = PathBuf::from(p);
        return match p.is_file() {
            true => Ok(p),
            false => Err(PdfError::NoChromium {
                tried: format!("RTCBENCH_CHROMIUM={}", p.display()),
            }),
        };
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(PdfError::NoChromium {
        tried: names.join(", "),
    })
}

/// Prints `html` to `pdf` with `browser`, within a time limit.
pub fn print(browser: &Path, html: &Path, pdf: &Path) -> Result<(), PdfError> {
    let fail = |reason: String| PdfError::Print {
        browser: browser.display().to_string(),
        html: html.display().to_string(),
        reason,
    };
    let html_abs = std::path::absolute(html).map_err(|e| fail(e.to_string()))?;
    let pdf_abs = std::path::absolute(pdf).map_err(|e| fail(e.to_string()))?;
    let _ = std::fs::remove_file(&pdf_abs);
    // A profile of its own, so a desktop browser that is open does not take the job over.
    let profile = std::env::temp_dir().join(format!("rtcbench-pdf-{}", std::process::id()));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf_abs.display()))
        .arg(format!("file://{}", html_abs.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > PRINT_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                return Err(fail(format!("no PDF within {} s", PRINT_LIMIT.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let _ = std::fs::remove_dir_all(&profile);
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let head = std::fs::read(&pdf_abs)
        .map(|b| b.get(..5).map(<[u8]>::to_vec).unwrap_or_default())
        .unwrap_or_default();
    if !status.success() || head != b"%PDF-" {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(fail(format!(
            "{status}, no PDF written; it said: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    Ok(())
}
