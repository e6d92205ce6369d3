//! Where a platform's secret lives, and reading it before the first call.

use std::path::PathBuf;

use secrecy::SecretString;

/// Where a platform's one secret lives. Reading it is deferred to the commands that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// A secret that could not be read, with the place to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset or empty.
    #[error("platform {platform:?}: environment variable {var} is not set")]
    MissingEnv { platform: String, var: String },
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
}

impl SecretSource {
    /// Reads the secret. Whitespace around it (a trailing newline in a file) is dropped.
    pub fn read(&self, platform: &str) -> Result<SecretString, SecretError> {
        match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_owned())),
                _ => Err(SecretError::MissingEnv {
                    platform: platform.into(),
                    var: var.clone(),
                }),
            },
            SecretSource::File(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
                    platform: platform.into(),
                    path: shown.clone(),
                    reason: e.kind().to_string(),
                })?;
                if text.trim().is_empty() {
                    return Err(SecretError::EmptyFile {
                        platform: platform.into(),
                        path: shown,
                    });
                }
                Ok(SecretString::from(text.trim().to_owned()))
            }
        }
    }
}

