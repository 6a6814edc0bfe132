//! Where results go: stdout, or a file written atomically; and the stderr spinner.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

/// A condensed table that wraps to the terminal, styled only when colour is on.
pub fn table(color: bool, header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

/// Write with `f` to `path` (a temporary file beside it, then renamed: never half-written) or
/// to stdout. Only regular files are replaced that way: `/dev/null`, a FIFO or `/dev/stdout` is
/// written to as it is (renaming over `/dev/null` as root would replace the device with a file),
/// and a symbolic link is followed so the link stays a link.
pub fn write_to(
    path: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let resolved;
    let path = match path {
        Some(p) if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) => {
            // A dangling link: replace it as before.
            resolved = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            Some(resolved.as_path())
        }
        other => other,
    };
    match path {
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write output file {}", path.display()))?;
            let mut out = BufWriter::new(file);
            f(&mut out)
                .and_then(|()| Ok(out.flush()?))
                .with_context(|| format!("cannot write output file {}", path.display()))
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = dir.join(format!(
                ".{}.tmp-{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("report"),
                std::process::id()
            ));
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write output file {}", path.display()))?;
            let written = (|| -> anyhow::Result<()> {
                let mut out = BufWriter::new(file);
                f(&mut out)?;
                out.flush()?;
                drop(out);
                std::fs::rename(&tmp, path)?;
                Ok(())
            })();
            if let Err(err) = written {
                // Leave nothing half-written behind.
                let _ = std::fs::remove_file(&tmp);
                return Err(err.context(format!("cannot write output file {}", path.display())));
            }
            Ok(())
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            f(&mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// A spinner on stderr for runs longer than a second, only when stderr is a terminal.
pub struct Progress {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: String) -> Progress {
        use std::io::IsTerminal;
        use std::sync::atomic::{AtomicBool, Ordering};
        let done = std::sync::Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Progress { done, handle: None };
        }
        let flag = done.clone();
        let handle = std::thread::spawn(move || {
            let frames = ['|', '/', '-', '\\'];
            let started = std::time::Instant::now();
            let mut shown = false;
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if started.elapsed() >= std::time::Duration::from_secs(1)
                    && !flag.load(Ordering::Relaxed)
                {
                    eprint!("\r{} {label}…", frames[i % frames.len()]);
                    shown = true;
                    i += 1;
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        Progress {
            done,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
