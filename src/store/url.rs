//! Naming a database without leaking it: a URL may carry a password, so errors and logs only ever
//! see what [`describe`] keeps of it.

/// The URL's scheme (`sqlite`, `postgres`, …), or "" when it has none.
pub(super) fn scheme(url: &str) -> &str {
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            scheme
        }
        _ => "",
    }
}

/// The URL's scheme and host (`postgres://db.internal:5432`), or for SQLite its file
/// (`sqlite:tagsync.db`): never user, password, database options or query.
pub(super) fn describe(url: &str) -> String {
    let scheme = scheme(url);
    if scheme.is_empty() {
        return "(a URL without a scheme)".to_owned();
    }
    let rest = &url[scheme.len() + 1..];
    if scheme == "sqlite" {
        // SQLite URLs hold no credentials; the file is what a reader needs to know.
        let file = rest
            .trim_start_matches("//")
            .split(['?', '#'])
            .next()
            .unwrap_or("");
        return format!("sqlite:{file}");
    }
    // Drop everything up to the last '@' first: a password may itself contain '/', '?' or '#'.
    let rest = rest.trim_start_matches("//");
    let after_user = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = after_user.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_credentials() {
        let cases = [
            ("sqlite://tagsync.db?mode=rwc", "sqlite:tagsync.db"),
            (
                "sqlite:/var/lib/tagsync/mirror.db",
                "sqlite:/var/lib/tagsync/mirror.db",
            ),
            ("sqlite::memory:", "sqlite::memory:"),
            ("postgres://u:secret@db:5432/tagsync", "postgres://db:5432"),
            (
                "postgresql://u:s/e?c#r@et@db/x?options=-c",
                "postgresql://db",
            ),
            (
                "postgres:///tagsync?host=/run/postgresql&password=secret",
                "postgres://",
            ),
            ("postgres://db", "postgres://db"),
            ("mysql://root:pw@h/db", "mysql://h"),
            ("tagsync.db", "(a URL without a scheme)"),
        ];
        for (url, expected) in cases {
            assert_eq!(describe(url), expected, "{url}");
        }
    }

    #[test]
    fn scheme_is_only_a_scheme() {
        assert_eq!(scheme("postgresql://x"), "postgresql");
        assert_eq!(scheme("sqlite::memory:"), "sqlite");
        assert_eq!(scheme("tagsync.db"), "");
        assert_eq!(scheme("user pass:x"), "");
    }
}
