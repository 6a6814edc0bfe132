//! File discovery with the `ignore` crate (gitignore-aware, parallel) and reading.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use globset::GlobSet;
use ignore::{WalkBuilder, WalkState};
use rayon::prelude::*;

use super::{InputFile, LintError};

/// Directories never descended into (Ruff's defaults plus caches).
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
    "__pycache__",
];

/// Result of reading the files to lint.
pub struct Collected {
    pub inputs: Vec<InputFile>,
    /// Celery command lines found in deployment files.
    pub worker_commands: Vec<crate::lint::model::facts::WorkerCommand>,
    /// Files that could not be read or decoded: one warning line each.
    pub warnings: Vec<String>,
}

/// Display form of a path: relative to the working directory when it is below it.
pub fn display_path(path: &Path, cwd: &Path) -> PathBuf {
    let clean: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if let Ok(rel) = clean.strip_prefix(cwd) {
        return rel.to_path_buf();
    }
    if clean.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        clean
    }
}

/// Dotted module name of `path`, walking up while the parent directory is a package.
pub fn module_name(path: &Path, is_package_dir: &dyn Fn(&Path) -> bool) -> (String, bool) {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    let is_init = stem == "__init__";
    let mut parts: Vec<String> = Vec::new();
    if !is_init {
        parts.push(stem);
    }
    let mut dir = path.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        if !is_package_dir(&d) {
            break;
        }
        match d.file_name().and_then(|n| n.to_str()) {
            Some(name) if !name.is_empty() && name != "." && name != ".." => {
                parts.push(name.to_string())
            }
            _ => break,
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    parts.reverse();
    let valid = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    (
        if valid {
            parts.join(".")
        } else {
            String::new()
        },
        is_init,
    )
}

fn excluded(path: &Path, exclude: Option<&GlobSet>, cwd: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if DEFAULT_EXCLUDES.contains(&name) {
        return true;
    }
    match exclude {
        Some(set) => {
            let shown = display_path(path, cwd);
            set.is_match(&shown) || set.is_match(name)
        }
        None => false,
    }
}

/// Find the Python files under `paths`. A missing path is an error; unreadable entries inside
/// a tree become warnings.
pub fn collect(
    paths: &[PathBuf],
    exclude: Option<&GlobSet>,
    cwd: &Path,
) -> Result<Collected, LintError> {
    // (path, is a symbolic link): the walker knows the file type, so no second `lstat`.
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let warnings = Mutex::new(Vec::new());
    let deploy: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| LintError::Path {
            path: root.display().to_string(),
            message: match e.kind() {
                std::io::ErrorKind::NotFound if std::fs::symlink_metadata(root).is_ok() => {
                    "broken symbolic link".to_string()
                }
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                _ => e.to_string(),
            },
        })?;
        if meta.is_file() {
            let link = std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink());
            files.push((root.clone(), link));
            continue;
        }
        let found = Mutex::new(Vec::new());
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(true)
            .git_exclude(true)
            .require_git(false)
            .threads(threads)
            .filter_entry({
                let exclude = exclude.cloned();
                let cwd = cwd.to_path_buf();
                move |e| e.depth() == 0 || !excluded(e.path(), exclude.as_ref(), &cwd)
            })
            .build_parallel()
            .run(|| {
                let found = &found;
                let warnings = &warnings;
                let deploy = &deploy;
                Box::new(move |entry| {
                    match entry {
                        Ok(e) => {
                            if super::deploy::is_deployment_file(e.path())
                                && e.file_type().is_some_and(|t| t.is_file())
                            {
                                deploy
                                    .lock()
                                    .expect("walk lock")
                                    .push(e.path().to_path_buf());
                            }
                            let is_py = e
                                .path()
                                .extension()
                                .is_some_and(|x| x == "py" || x == "pyi");
                            let link = e.path_is_symlink();
                            if is_py && e.file_type().is_some_and(|t| t.is_file() || t.is_symlink())
                            {
                                found.lock().expect("walk lock").push((e.into_path(), link));
                            }
                        }
                        Err(err) => warnings.lock().expect("walk lock").push(err.to_string()),
                    }
                    WalkState::Continue
                })
            });
        files.extend(found.into_inner().expect("walk lock"));
    }
    // `lint . shop/tasks.py` names one file twice: compare normalised paths.
    // Only paths under a root spelled with `./`, `//` or a trailing `/` need it: everything
    // the walker finds is the root joined with plain names.
    let normal = |f: &Path| -> PathBuf {
        f.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    };
    if paths.iter().any(|r| normal(r).as_os_str() != r.as_os_str()) {
        for (f, _) in &mut files {
            *f = normal(f);
        }
    }
    files.sort_unstable();
    files.dedup_by(|a, b| a.0 == b.0);
    // `alias.py -> tasks.py` beside `tasks.py`: lint the file once (and never stage two fixes
    // for one file). Only symlinks are resolved, so the common case costs nothing.
    let links: Vec<usize> = files
        .iter()
        .enumerate()
        .filter(|(_, (_, link))| *link)
        .map(|(i, _)| i)
        .collect();
    let mut files: Vec<PathBuf> = files.into_iter().map(|(f, _)| f).collect();
    if !links.is_empty() {
        let absolute = |f: &Path| {
            if f.is_absolute() {
                f.to_path_buf()
            } else {
                cwd.join(f)
            }
        };
        let regular: std::collections::HashSet<PathBuf> = files
            .iter()
            .enumerate()
            .filter(|(i, _)| !links.contains(i))
            .map(|(_, f)| absolute(f))
            .collect();
        let mut targets = std::collections::HashSet::new();
        let drop: std::collections::HashSet<usize> = links
            .into_iter()
            .filter(|&i| {
                std::fs::canonicalize(&files[i])
                    .is_ok_and(|t| regular.contains(&t) || !targets.insert(t))
            })
            .collect();
        let mut i = 0;
        files.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
    }

    let mut pkg_cache: HashMap<PathBuf, bool> = HashMap::new();
    let mut named = Vec::with_capacity(files.len());
    for f in files {
        // Fill the package cache for this file's ancestors, then name the module from it.
        let mut dir = f.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if pkg_cache.contains_key(&d) {
                break;
            }
            let is_pkg = d.join("__init__.py").is_file();
            pkg_cache.insert(d.clone(), is_pkg);
            if !is_pkg {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        let (module, is_package) =
            module_name(&f, &|d: &Path| pkg_cache.get(d).copied().unwrap_or(false));
        named.push((f, module, is_package));
    }
    let read: Vec<Result<InputFile, String>> = named
        .into_par_iter()
        .map(|(path, module, is_package)| {
            let shown = display_path(&path, cwd);
            let bytes = std::fs::read(&path).map_err(|e| {
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    "broken symbolic link or vanished file".to_string()
                } else {
                    e.to_string()
                };
                format!("{}: cannot read file: {msg}; skipped", shown.display())
            })?;
            if bytes.contains(&0) {
                return Err(format!(
                    "{}: binary file (contains NUL bytes); skipped",
                    shown.display()
                ));
            }
            let mut text = String::from_utf8(bytes).map_err(|e| {
                format!(
                    "{}: not valid UTF-8 (byte {}); skipped",
                    shown.display(),
                    e.utf8_error().valid_up_to()
                )
            })?;
            if text.starts_with('\u{feff}') {
                text.replace_range(..3, "");
            }
            Ok(InputFile {
                path: shown,
                text,
                module,
                is_package,
                disk: Some(path.clone()),
            })
        })
        .collect();
    let mut inputs = Vec::new();
    let mut warnings = warnings.into_inner().expect("walk lock");
    for r in read {
        match r {
            Ok(i) => inputs.push(i),
            Err(w) => warnings.push(w),
        }
    }
    let mut deploy_files = deploy.into_inner().expect("walk lock");
    deploy_files.sort();
    let mut worker_commands = Vec::new();
    for f in deploy_files {
        let small = std::fs::metadata(&f).is_ok_and(|m| m.len() < 1 << 20);
        if small && let Ok(text) = std::fs::read_to_string(&f) {
            worker_commands.extend(super::deploy::scan_file(&f, &text));
        }
    }
    Ok(Collected {
        inputs,
        worker_commands,
        warnings,
    })
}
