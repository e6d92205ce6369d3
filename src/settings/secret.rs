//! Where a platform's secret lives, and reading it before the first call.

use std::path::PathBuf;

use secrecy::SecretString;

/// Where a platform's one secret lives. Reading it is deferred to the commands that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// A secret that could not be read, with the place to fix. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset.
    #[error("platform {platform:?}: environment variable {var} is not set")]
    MissingEnv { platform: String, var: String },
    /// The environment variable is set to nothing (or only spaces).
    #[error("platform {platform:?}: environment variable {var} is empty")]
    EmptyEnv { platform: String, var: String },
    /// The file cannot be read.
    #[error("platform {platform:?}: cannot read secret_file {path}: {reason}")]
    File {
        platform: String,
        path: String,
        reason: String,
    },
    /// The file is empty.
    #[error("platform {platform:?}: secret_file {path} is empty")]
    EmptyFile { platform: String, path: String },
    /// A line break inside the secret: a platform would refuse it (or worse, a header would be
    /// split), so it is refused before any call.
    #[error(
        "platform {platform:?}: the secret in {source_name} has {lines} lines; a secret is one line"
    )]
    MultiLine {
        platform: String,
        /// `environment variable X` or `secret_file PATH`.
        source_name: String,
        lines: usize,
    },
}

impl SecretSource {
    /// Reads the secret. Spaces around it are dropped, and so is the one newline that ends a
    /// file; any other line break is an error.
    pub fn read(&self, platform: &str) -> Result<SecretString, SecretError> {
        match self {
            SecretSource::Env(var) => {
                let value = std::env::var_os(var).ok_or_else(|| SecretError::MissingEnv {
                    platform: platform.into(),
                    var: var.clone(),
                })?;
                let value = value.to_string_lossy();
                check(platform, &format!("environment variable {var}"), &value).map_err(|e| match e
                {
                    Check::Empty => SecretError::EmptyEnv {
                        platform: platform.into(),
                        var: var.clone(),
                    },
                    Check::Error(e) => e,
                })
            }
            SecretSource::File(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
                    platform: platform.into(),
                    path: shown.clone(),
                    reason: crate::model::diag::io_reason(&e),
                })?;
                let text = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                check(platform, &format!("secret_file {shown}"), text).map_err(|e| match e {
                    Check::Empty => SecretError::EmptyFile {
                        platform: platform.into(),
                        path: shown.clone(),
                    },
                    Check::Error(e) => e,
                })
            }
        }
    }
}

enum Check {
    Empty,
    Error(SecretError),
}

fn check(platform: &str, source_name: &str, value: &str) -> Result<SecretString, Check> {
    let value = value.trim_matches([' ', '\t']);
    if value.contains(['\n', '\r']) {
        return Err(Check::Error(SecretError::MultiLine {
            platform: platform.into(),
            source_name: source_name.into(),
            lines: value.lines().count().max(2),
        }));
    }
    if value.is_empty() {
        return Err(Check::Empty);
    }
    Ok(SecretString::from(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, content: &str) -> SecretSource {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        SecretSource::File(path)
    }

    #[test]
    fn a_secret_file_may_end_with_one_newline_but_holds_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let shown = |e: SecretError| {
            e.to_string()
                .replace(&dir.path().display().to_string(), "D")
        };
        for ok in ["s3cret", "s3cret\n", "s3cret\r\n", "  s3cret \n"] {
            let s = file(&dir, "ok", ok).read("p").unwrap();
            assert_eq!(s.expose_secret(), "s3cret", "{ok:?}");
        }
        let two = file(&dir, "two", "s3cret\nmore\n").read("p").unwrap_err();
        let text = shown(two);
        assert_eq!(
            text,
            "platform \"p\": the secret in secret_file D/two has 2 lines; a secret is one line"
        );
        assert!(!text.contains("s3cret"));
        assert_eq!(
            shown(file(&dir, "blank", "s3cret\n\n").read("p").unwrap_err()),
            "platform \"p\": the secret in secret_file D/blank has 2 lines; a secret is one line"
        );
        assert_eq!(
            shown(file(&dir, "empty", "\n").read("p").unwrap_err()),
            "platform \"p\": secret_file D/empty is empty"
        );
        assert_eq!(
            shown(
                SecretSource::File(dir.path().join("gone"))
                    .read("p")
                    .unwrap_err()
            ),
            "platform \"p\": cannot read secret_file D/gone: no such file"
        );
    }

    #[test]
    fn an_environment_variable_holds_one_line_and_something() {
        let e = |v: &str| match check("p", "environment variable V", v) {
            Ok(_) => "ok".to_owned(),
            Err(Check::Empty) => "empty".to_owned(),
            Err(Check::Error(e)) => e.to_string(),
        };
        assert_eq!(e("tok"), "ok");
        assert_eq!(e(""), "empty");
        assert_eq!(e("  "), "empty");
        assert_eq!(
            e("tok\nen"),
            "platform \"p\": the secret in environment variable V has 2 lines; a secret is one line"
        );
        assert_eq!(
            e("tok\n"),
            "platform \"p\": the secret in environment variable V has 2 lines; a secret is one line"
        );
    }
}
