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
/// to stdout. Only regular files are replaced that way; renaming over `/dev/null` as root would
/// replace the device with a file. `/dev/stdout` is stdout; other names of open descriptors
/// (`/dev/stderr`, `/dev/fd/3`, `/proc/self/fd/3`), devices and FIFOs are written through,
/// appending, so a redirected descriptor keeps what it already holds; a symbolic link is
/// followed (even to a file that does not exist yet) so the link stays a link.
pub fn write_to(
    path: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(shown) = path.filter(|p| *p != Path::new("/dev/stdout")) else {
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        f(&mut out)?;
        out.flush()?;
        return Ok(());
    };
    let context = || format!("cannot write output file {}", shown.display());
    // Another name for an open descriptor (the shell's redirection stays as it is).
    let special = shown == Path::new("/dev/stderr")
        || shown.starts_with("/dev/fd")
        || shown.starts_with("/proc");
    let not_regular = std::fs::metadata(shown).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if special || not_regular {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(shown)
            .with_context(context)?;
        let mut out = BufWriter::new(file);
        return f(&mut out)
            .and_then(|()| Ok(out.flush()?))
            .with_context(context);
    }
    let target = link_target(shown);
    let path = target.as_deref().unwrap_or(shown);
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
    let file = std::fs::File::create(&tmp).with_context(context)?;
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
        return Err(err.context(context()));
    }
    Ok(())
}

/// Where a symbolic link at `path` points (its target need not exist), or `None`.
fn link_target(path: &Path) -> Option<std::path::PathBuf> {
    let mut current = path.to_path_buf();
    let mut followed = false;
    // A bounded walk along a chain of links (a loop ends it).
    for _ in 0..40 {
        if !std::fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            break;
        }
        let next = std::fs::read_link(&current).ok()?;
        current = match current.parent() {
            Some(parent) if next.is_relative() => parent.join(next),
            _ => next,
        };
        followed = true;
    }
    followed.then_some(current)
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
