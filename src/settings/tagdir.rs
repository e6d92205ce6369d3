//! Reading the tag files that `tags:` names: one file, or a directory tree of `*.yaml`/`*.yml`.
//!
//! Symbolic links are followed (a deployment may link shared tag files in), so the walk must
//! survive links that lead back up the tree: walkdir detects each loop by device and inode, and a
//! loop is reported once, however many of its links the walk meets. A file reached by two paths is
//! read once, under the first path in sorted order.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::model::diag::{Diagnostic, Diagnostics, Origin};
use crate::model::tagfile;

/// Reads every tag file of `path` (a file, or a directory searched recursively for `*.yaml` and
/// `*.yml`, sorted by path so that position-based order is stable).
pub fn read_tag_sources(path: &Path) -> Result<Vec<tagfile::Source>, Diagnostics> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Diagnostics::one(unreadable(path, &e)))?;
    let mut diags = Vec::new();
    let files = if meta.is_dir() {
        let files = walk(path, &mut diags);
        if files.is_empty() && diags.is_empty() {
            return Err(Diagnostics::one(
                Diagnostic::new(
                    Origin::new(&shown, 0, 0),
                    "no tag files (*.yaml, *.yml) in this directory",
                )
                .hint(format!(
                    "declare your groups in a file such as {}",
                    path.join("customers.yaml").display()
                )),
            ));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for f in files {
        match std::fs::read(&f) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => out.push(tagfile::Source {
                    name: f.display().to_string(),
                    text,
                }),
                Err(e) => diags.push(crate::model::diag::not_utf8(
                    &f.display().to_string(),
                    e.as_bytes(),
                    e.utf8_error(),
                )),
            },
            Err(e) => diags.push(unreadable(&f, &e)),
        }
    }
    match Diagnostics::from_vec(diags) {
        Some(d) => Err(d),
        None => Ok(out),
    }
}

/// Line 0: the path alone, as no line of a directory or an unreadable file is to blame.
fn unreadable(p: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::new(
        Origin::new(p.display().to_string(), 0, 0),
        format!(
            "cannot read tag files: {}",
            crate::model::diag::io_reason(e)
        ),
    )
    .hint("`tags:` in the configuration names a file or a directory of *.yaml files")
}

/// The tag files under `dir`, each real file once, sorted by path; loops and unreadable entries
/// go to `diags`.
fn walk(dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen_files = HashSet::new();
    let mut seen_loops = HashSet::new();
    let walker = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    for entry in walker {
        match entry {
            Ok(e) => {
                let is_yaml = e
                    .path()
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml");
                if e.file_type().is_file() && is_yaml {
                    let real = std::fs::canonicalize(e.path()).unwrap_or_else(|_| e.path().into());
                    if seen_files.insert(real) {
                        files.push(e.into_path());
                    }
                }
            }
            Err(e) => {
                let at = e.path().unwrap_or(dir).to_path_buf();
                match e.loop_ancestor() {
                    Some(ancestor) => {
                        // The same loop is met once from each of its directories: name it by
                        // the real directories it goes through.
                        if seen_loops.insert(loop_key(ancestor, &at)) {
                            diags.push(
                                Diagnostic::new(
                                    Origin::new(at.display().to_string(), 0, 0),
                                    format!(
                                        "symbolic link loop: this link leads back to {}",
                                        ancestor.display()
                                    ),
                                )
                                .hint("remove the link or point it elsewhere; tag files are read once each"),
                            );
                        }
                    }
                    None => {
                        let io = e
                            .io_error()
                            .map(|io| std::io::Error::new(io.kind(), io.to_string()))
                            .unwrap_or_else(|| std::io::Error::other(e.to_string()));
                        diags.push(unreadable(&at, &io));
                    }
                }
            }
        }
    }
    files
}

/// The real directories a loop passes through: from `ancestor` down to the link at `link`.
fn loop_key(ancestor: &Path, link: &Path) -> BTreeSet<PathBuf> {
    let mut key = BTreeSet::new();
    let mut p = link.to_path_buf();
    while p.starts_with(ancestor) {
        key.insert(std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone()));
        if p == ancestor || !p.pop() {
            break;
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const TAGS: &str = "- group: 客户级别\n  tags: [重要客户]\n";

    /// Runs the walk on a thread: a hang fails the test after the timeout instead of hanging it.
    fn read_with_timeout(path: &Path) -> Result<Vec<tagfile::Source>, Diagnostics> {
        let (tx, rx) = mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read_tag_sources(&path));
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("read_tag_sources did not return: a symlink loop is followed forever")
    }

    #[test]
    fn symlink_loops_are_reported_once_each_and_files_read_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("10-a.yaml"), TAGS).unwrap();
        // A self-loop, a two-link loop, and a second path to a real file.
        symlink(".", root.join("loop")).unwrap();
        std::fs::create_dir(root.join("x")).unwrap();
        std::fs::create_dir(root.join("y")).unwrap();
        std::fs::write(root.join("x/20-b.yaml"), TAGS).unwrap();
        symlink("../y", root.join("x/to-y")).unwrap();
        symlink("../x", root.join("y/to-x")).unwrap();
        symlink("../10-a.yaml", root.join("y/same-as-a.yaml")).unwrap();

        let err = read_with_timeout(root).unwrap_err();
        let shown = err.to_string().replace(&root.display().to_string(), "T");
        assert_eq!(
            shown,
            "error: T/loop: symbolic link loop: this link leads back to T\n  \
             hint: remove the link or point it elsewhere; tag files are read once each\n\
             error: T/x/to-y/to-x: symbolic link loop: this link leads back to T/x\n  \
             hint: remove the link or point it elsewhere; tag files are read once each"
        );

        // Without the loops, each real file is read once.
        std::fs::remove_file(root.join("loop")).unwrap();
        std::fs::remove_file(root.join("y/to-x")).unwrap();
        let files = read_with_timeout(root).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|s| s.name.replace(&root.display().to_string(), "T"))
            .collect();
        assert_eq!(names, ["T/10-a.yaml", "T/x/20-b.yaml"]);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_located() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("tags.yaml");
        std::fs::write(&f, b"- group: a\n  tags: [b, \xff\xfe]\n").unwrap();
        let err = read_with_timeout(&f).unwrap_err();
        assert_eq!(
            err.to_string()
                .replace(&tmp.path().display().to_string(), "T"),
            "error: T/tags.yaml:2:13: not UTF-8 at line 2, column 13: save the file as UTF-8"
        );
    }
}
