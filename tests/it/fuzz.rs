//! Fuzzing on the stable toolchain: proptest-driven, not `cargo fuzz` (libFuzzer needs nightly,
//! which the build machines do not have).
//!
//! Targets: the tag-file parser (`model::tagfile::parse`), the configuration loader
//! (`settings::load_str` in process, and `tagsync validate` as a child process for arbitrary
//! `TAGSYNC_…` overrides, since the loader reads the process environment and tests run in
//! parallel), and each platform's response parser (`platforms::<name>::wire::parse`).
//!
//! Inputs are the corpora mutated (`tests/data/{good,bad}`, `config/`, `tests/data/wire/`): byte
//! flips, truncations, deletions, duplicated lines, YAML syntax, anchors and aliases, merge keys,
//! huge numbers and invalid UTF-8 spliced in; plus generated deep nesting, alias bombs, raw
//! bytes, and arbitrary JSON put in place of any subtree of a real answer.
//!
//! The property, for every input: no panic, an answer within [`LIMIT`] (a hang guard, not a
//! performance test: the benches measure speed), and every error typed and located: a tag-file
//! or config diagnostic points at a line and column inside the text (or names the variable), a
//! wire answer is one of the client's verdicts, and a `protocol` verdict says what did not match.
//!
//! A short run is part of `cargo test`. A long campaign (about ten minutes on two cores):
//!
//! ```sh
//! TAGSYNC_TEST_FUZZ_CASES=100000 cargo test --release --test it fuzz
//! ```
//!
//! The variable starts with `TAGSYNC_TEST_` so that the configuration loader under test ignores
//! it. Every failure found becomes a plain regression test at the bottom of this file.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::platforms::http::Outcome;

/// The longest one input may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(10);

/// Cases per target: a few dozen in `cargo test`, `TAGSYNC_TEST_FUZZ_CASES` for a campaign.
fn cases() -> u32 {
    std::env::var("TAGSYNC_TEST_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        // Findings become plain regression tests below, not a persistence file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `f` on its own thread: a panic or an answer later than [`LIMIT`] fails the case (the
/// thread of a hang is left behind; the test fails anyway). The thread has Rust's default 2 MiB
/// stack, as tokio's workers do, so that deep recursion shows here as it would in the daemon.
fn guarded<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::Builder::new()
        .name(format!("fuzz {what}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("a thread starts");
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("{what} panicked: {msg}")))
        }
        Err(_) => Err(TestCaseError::fail(format!(
            "{what} took more than {:?} (hang?)",
            started.elapsed()
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds and mutations.

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn read_all(paths: Vec<PathBuf>) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Every tag file of the examples and of the input corpus.
fn tag_seeds() -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    files_under(&root().join("config/tags"), &is_yaml, &mut paths);
    for kind in ["good", "bad"] {
        files_under(
            &root().join("tests/data").join(kind),
            &|p: &Path| is_yaml(p) && p.components().any(|c| c.as_os_str() == "tags"),
            &mut paths,
        );
    }
    assert!(paths.len() > 40, "the tag-file seeds are found");
    read_all(paths)
}

/// Every configuration of the examples and of the input corpus.
fn config_seeds() -> Vec<Vec<u8>> {
    let mut paths = vec![root().join("config/tagsync.example.yaml")];
    for kind in ["good", "bad"] {
        files_under(
            &root().join("tests/data").join(kind),
            &|p: &Path| p.file_name().is_some_and(|n| n == "tagsync.yaml"),
            &mut paths,
        );
    }
    assert!(paths.len() > 30, "the configuration seeds are found");
    read_all(paths)
}

/// What a mutation splices in: YAML syntax, anchors, aliases and merge keys, tags, numbers at and
/// past every limit, odd whitespace and bytes that are not UTF-8.
const SNIPPETS: &[&[u8]] = &[
    b":",
    b": ",
    b"- ",
    b"-",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"? ",
    b"|",
    b">-",
    b"'",
    b"\"",
    b"#",
    b"\t",
    b"\n",
    b"\r\n",
    b"  ",
    b"---\n",
    b"...\n",
    b"%YAML 1.2\n",
    b"%TAG ! tag:x,2000:\n",
    b"&a ",
    b"*a",
    b"&b [1, 2]",
    b"<<: *a",
    b"<<: {name: x}",
    b"!!str ",
    b"!!int ",
    b"!!binary ",
    b"!custom ",
    b"~",
    b"null",
    b"true",
    b"yes",
    b"0",
    b"-1",
    b"4294967295",
    b"4294967296",
    b"18446744073709551616",
    b"99999999999999999999999999999999999999",
    b"-9223372036854775809",
    b"1e400",
    b".nan",
    b"-.inf",
    b"0x7fffffff",
    b"0o777",
    b"1_000",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\x00",
    b"\x1b[31m",
    b"\xef\xbb\xbf",
    "\u{2028}".as_bytes(),
    "e\u{301}".as_bytes(),
    "😀".as_bytes(),
    "客户".as_bytes(),
    b"name: ",
    b"tags: ",
    b"groups:\n",
    b"was: ",
    b"order: ",
    b"prune: ",
    b"platforms: ",
    b"key: ",
    b"kind: ",
    b"base_url: ",
    b"secret_env: ",
    b"rate_limit: ",
    b"schedule: ",
];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, usize),
    InsertRepeated(Index, usize, usize),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    Indent(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = 0..SNIPPETS.len();
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), snippet.clone()).prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<Index>(), snippet, 2usize..2_000)
            .prop_map(|(i, s, n)| Mutation::InsertRepeated(i, s, n)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), 1usize..9).prop_map(|(i, n)| Mutation::Indent(i, n)),
    ]
}

fn line_bounds(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push((start, bytes.len()));
    }
    out
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::FlipBit(i, b) if !bytes.is_empty() => {
                let k = i.index(bytes.len());
                bytes[k] ^= 1 << b;
            }
            Mutation::SetByte(i, v) if !bytes.is_empty() => {
                let k = i.index(bytes.len());
                bytes[k] = *v;
            }
            Mutation::Truncate(i) => {
                let k = at(i, bytes.len());
                bytes.truncate(k);
            }
            Mutation::Delete(i, n) if !bytes.is_empty() => {
                let k = i.index(bytes.len());
                let end = (k + n).min(bytes.len());
                bytes.drain(k..end);
            }
            Mutation::Insert(i, s) => {
                let k = at(i, bytes.len());
                bytes.splice(k..k, SNIPPETS[*s].iter().copied());
            }
            Mutation::InsertRepeated(i, s, n) => {
                let k = at(i, bytes.len());
                let text = SNIPPETS[*s].repeat(*n);
                bytes.splice(k..k, text);
            }
            Mutation::DuplicateLine(i) => {
                let lines = line_bounds(&bytes);
                if !lines.is_empty() {
                    let (s, e) = lines[i.index(lines.len())];
                    let line = bytes[s..e].to_vec();
                    bytes.splice(e..e, line);
                }
            }
            Mutation::SwapLines(a, b) => {
                let lines = line_bounds(&bytes);
                if lines.len() > 1 {
                    let mut all: Vec<Vec<u8>> =
                        lines.iter().map(|(s, e)| bytes[*s..*e].to_vec()).collect();
                    all.swap(a.index(lines.len()), b.index(lines.len()));
                    bytes = all.concat();
                }
            }
            Mutation::Indent(i, n) => {
                let lines = line_bounds(&bytes);
                if !lines.is_empty() {
                    let (s, _) = lines[i.index(lines.len())];
                    bytes.splice(s..s, std::iter::repeat_n(b' ', *n));
                }
            }
            _ => {}
        }
    }
    bytes
}

/// Inputs no mutation of a small file reaches: deep nesting, alias bombs, long and raw inputs.
fn generated_yaml() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Deep flow and block nesting.
        (1usize..20_000, 0usize..3).prop_map(|(n, kind)| match kind {
            0 => format!("groups: {}", "[".repeat(n)).into_bytes(),
            1 => format!("groups: {}{}", "[".repeat(n), "]".repeat(n)).into_bytes(),
            _ => {
                let mut s = String::from("groups:\n");
                for d in 0..n.min(3_000) {
                    s.push_str(&" ".repeat(d + 2));
                    s.push_str("- ");
                    s.push('\n');
                }
                s.into_bytes()
            }
        }),
        // A billion laughs: each level refers to the previous one `width` times.
        (2usize..40, 2usize..12, any::<bool>()).prop_map(|(levels, width, in_name)| {
            let mut s = String::from("a0: &a0 [\"lol\"]\n");
            for l in 1..levels {
                let refs = vec![format!("*a{}", l - 1); width].join(", ");
                s.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
            }
            let last = levels - 1;
            if in_name {
                s.push_str(&format!(
                    "groups:\n  - name: *a{last}\n    tags: *a{last}\n"
                ));
            } else {
                s.push_str(&format!("groups: *a{last}\n"));
            }
            s.into_bytes()
        }),
        // Merge keys that refer to themselves or each other.
        (1usize..50).prop_map(|n| {
            let mut s = String::from("base: &m0 {name: x}\n");
            for i in 1..n {
                s.push_str(&format!("m{i}: &m{i}\n  <<: *m{}\n  name: y{i}\n", i - 1));
            }
            s.push_str(&format!(
                "groups:\n  - <<: *m{}\n    tags: [a]\n",
                n.saturating_sub(1)
            ));
            s.into_bytes()
        }),
        // Anything at all.
        proptest::collection::vec(any::<u8>(), 0..512),
        // Long names and many entries.
        (1usize..5_000, 1usize..300).prop_map(|(len, tags)| {
            let mut s = format!("groups:\n  - name: {}\n    tags:\n", "名".repeat(len));
            for t in 0..tags {
                s.push_str(&format!("      - t{t}\n"));
            }
            s.into_bytes()
        }),
    ]
}

/// A seed chosen by `pick` and mutated 1 to 8 times, or a generated input.
fn fuzzed(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (0..seeds.len(), proptest::collection::vec(mutation(), 1..8))
        .prop_map(move |(i, ms)| apply(seeds[i].clone(), &ms));
    prop_oneof![4 => mutated, 1 => generated_yaml()]
}

// ---------------------------------------------------------------------------------------------
// The tag-file parser.

fn tag_context() -> Context {
    let names: std::collections::BTreeSet<String> = [
        "wecom-hq",
        "juzi-main",
        "juzi",
        "yzj",
        "dustess",
        "crm",
        "p",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    Context {
        default_platforms: names.iter().filter(|n| *n != "crm").cloned().collect(),
        known_platforms: names,
        prune_default: false,
    }
}

/// The tag-file half of `settings::tagdir` (bytes to text) and `tagfile::parse`: `Ok` or located
/// diagnostics, each inside the text.
fn check_tag_bytes(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let name = "fuzz.yaml";
    let errors = guarded("tagfile::parse", move || match String::from_utf8(bytes) {
        Err(e) => {
            let d = tagsync::model::diag::not_utf8(name, e.as_bytes(), e.utf8_error());
            (e.into_bytes(), vec![d])
        }
        Ok(text) => {
            let sources = [Source {
                name: name.into(),
                text,
            }];
            let errors = match parse(&sources, &tag_context()) {
                Ok(desired) => {
                    // A valid parse is a usable one.
                    assert!(!desired.groups().is_empty(), "a Desired has groups");
                    Vec::new()
                }
                Err(diags) => diags.iter().cloned().collect(),
            };
            let [src] = sources;
            (src.text.into_bytes(), errors)
        }
    })?;
    let (bytes, diags) = errors;
    check_located(name, &bytes, &diags)
}

/// Each diagnostic names `file`, a line and column inside `bytes` (columns in characters; one past
/// the end of a line or of the text is where "unexpected end" points), a message and words only.
fn check_located(
    file: &str,
    bytes: &[u8],
    diags: &[tagsync::model::Diagnostic],
) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    // Lines as YAML counts them: `\n`, `\r\n` and a lone `\r` all end one.
    let lines: Vec<&str> = text.split('\n').collect();
    for d in diags {
        prop_assert_eq!(&d.origin.file, file, "{}", d);
        prop_assert!(!d.message.trim().is_empty(), "empty message: {:?}", d);
        prop_assert!(d.origin.line >= 1 && d.origin.column >= 1, "{}", d);
        let max_line = lines.len() + text.matches('\r').count() + 1;
        prop_assert!(
            (d.origin.line as usize) <= max_line,
            "line past the end ({} lines): {}",
            lines.len(),
            d
        );
    }
    Ok(())
}

#[test]
fn tag_files_never_panic_and_every_error_is_located() {
    let seeds = tag_seeds();
    proptest!(config(cases()), |(bytes in fuzzed(seeds.clone()))| {
        check_tag_bytes(bytes)?;
    });
}

// ---------------------------------------------------------------------------------------------
// The configuration loader.

/// `settings::load_str`: `Ok` or diagnostics located in the text, or naming a `TAGSYNC_` variable
/// of this process's environment (line 0).
fn check_config_bytes(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let name = "fuzz.yaml";
    let Ok(text) = String::from_utf8(bytes) else {
        // Bytes that are not UTF-8 stop at `settings::load`'s read, covered for tag files above.
        return Ok(());
    };
    let (text, result) = guarded("settings::load_str", move || {
        let r = tagsync::settings::load_str(name, &text);
        (text, r.err())
    })?;
    let Some(diags) = result else {
        return Ok(());
    };
    let (in_file, from_env): (Vec<_>, Vec<_>) =
        diags.iter().cloned().partition(|d| d.origin.line != 0);
    for d in from_env {
        prop_assert!(
            d.origin.file.to_ascii_uppercase().contains("TAGSYNC_"),
            "an error outside the file names no variable: {}",
            d
        );
    }
    check_located(name, text.as_bytes(), &in_file)
}

#[test]
fn configurations_never_panic_and_every_error_is_located() {
    let seeds = config_seeds();
    proptest!(config(cases()), |(bytes in fuzzed(seeds.clone()))| {
        check_config_bytes(bytes)?;
    });
}

/// Keys a user sets in the environment: real ones, nested ones, misspelt and odd ones.
fn env_key() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "TAGSYNC_TAGS",
        "TAGSYNC_MAX_DELETES",
        "TAGSYNC_PRUNE",
        "TAGSYNC_SCHEDULE",
        "TAGSYNC_LISTEN",
        "TAGSYNC_DATABASE_URL",
        "TAGSYNC_HTTP_TOKEN_ENV",
        "TAGSYNC_HTTP_TOKEN_FILE",
        "TAGSYNC_PLATFORMS",
        "TAGSYNC_PLATFORMS__JUZI",
        "TAGSYNC_PLATFORMS__JUZI__MODE",
        "TAGSYNC_PLATFORMS__JUZI__KIND",
        "TAGSYNC_PLATFORMS__JUZI__BASE_URL",
        "TAGSYNC_PLATFORMS__JUZI__SECRET_ENV",
        "TAGSYNC_PLATFORMS__JUZI__SECRET_FILE",
        "TAGSYNC_PLATFORMS__JUZI__RATE_LIMIT__PER_SECOND",
        "TAGSYNC_PLATFORMS__JUZI__RATE_LIMIT",
        "TAGSYNC_PLATFORMS__JUZI__CORP_ID",
        "TAGSYNC_PLATFORMS__NEW__KIND",
        "TAGSYNC_PLATFORMS____KIND",
        "TAGSYNC___",
        "TAGSYNC_",
        "tagsync_max_deletes",
        "TAGSYNC_PRUNEE",
    ]);
    prop_oneof![
        4 => known.prop_map(String::from),
        1 => "TAGSYNC_[A-Za-z_]{0,24}",
        1 => "TAGSYNC_PLATFORMS__[a-z_-]{0,8}__[A-Za-z_]{0,12}",
    ]
}

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "0",
            "1",
            "-1",
            "true",
            "yes",
            "observe",
            "apply",
            "juzibot",
            "wecom",
            "https://x",
            "not a url",
            "[1, 2]",
            "{a: 1}",
            "{",
            "[",
            "\"",
            "99999999999999999999",
            "1e400",
            "0 * * * * *",
            "* * *",
            "TOKEN",
            "tags",
            "/",
            "~",
            "null",
        ])
        .prop_map(String::from),
        // Anything a shell can put in a variable (no NUL).
        "[^\u{0}]{0,40}",
    ]
}

/// `tagsync validate` with arbitrary `TAGSYNC_…` variables: exit 0, or exit 2 with every error
/// located in the file or naming a variable; never a panic (exit 101).
#[test]
fn environment_overrides_never_panic_and_every_error_is_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tags")).unwrap();
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tagsync.yaml"),
        "tags: tags\nmax_deletes: 20\nplatforms:\n  juzi:\n    kind: juzibot\n    \
         base_url: https://hub.juzibot.com\n    secret_env: JUZI_MAIN_TOKEN\n",
    )
    .unwrap();
    let dir_path = dir.path().to_path_buf();
    // Each case is a process: a tenth of the in-process count.
    let n = (cases() / 10).max(12);
    let vars = proptest::collection::vec((env_key(), env_value()), 1..5);
    proptest!(config(n), |(vars in vars)| {
        let mut cmd = assert_cmd::Command::cargo_bin("tagsync").unwrap();
        cmd.current_dir(&dir_path).args(["--config", "tagsync.yaml", "validate"]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().to_ascii_uppercase().starts_with("TAGSYNC_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("NO_COLOR", "1");
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        cmd.timeout(LIMIT);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        prop_assert!(code == Some(0) || code == Some(2), "exit {:?} for {:?}\n{}", code, vars, stderr);
        if code == Some(2) {
            let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
            prop_assert!(!errors.is_empty(), "exit 2 without an error line: {}", stderr);
            for line in errors {
                let located = line.starts_with("error: tagsync.yaml:")
                    || line.starts_with("error: tags")
                    || line.to_ascii_uppercase().starts_with("ERROR: ENVIRONMENT VARIABLE TAGSYNC_");
                prop_assert!(located, "not located: {} (for {:?})", line, vars);
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The platforms' response parsers.

type WireParse = fn(&str, u16, &[u8]) -> Option<Outcome>;

const PLATFORMS: &[(&str, WireParse)] = &[
    ("wecom", tagsync::platforms::wecom::wire::parse),
    ("juzibot", tagsync::platforms::juzibot::wire::parse),
    ("yzj", tagsync::platforms::yzj::wire::parse),
    ("dustess", tagsync::platforms::dustess::wire::parse),
    ("crm", tagsync::platforms::crm::wire::parse),
];

const VERDICTS: &[&str] = &[
    "ok",
    "refused",
    "unknown",
    "credential expired",
    "not ours",
    "rejected",
    "protocol",
];

/// Every answer of the platform's corpus: `(call, body)`.
fn wire_seeds(platform: &str) -> Vec<(String, Vec<u8>)> {
    let mut paths = Vec::new();
    files_under(
        &root().join("tests/data/wire").join(platform),
        &|p: &Path| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".response.json"))
        },
        &mut paths,
    );
    assert!(!paths.is_empty(), "{platform}: the wire corpus is found");
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let call = name.split('.').next().unwrap().to_owned();
            (call, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Arbitrary JSON, with the keys the platforms' documents use so that it gets past the first field.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "errcode",
            "errmsg",
            "code",
            "message",
            "msg",
            "success",
            "data",
            "tag_group",
            "group_id",
            "group_name",
            "tag",
            "tags",
            "id",
            "name",
            "order",
            "create_time",
            "deleted",
            "access_token",
            "expires_in",
            "list",
            "tagList",
            "tag_list",
            "groupId",
            "groupName",
            "tagId",
            "tagName",
            "sort",
            "pager",
            "numPages",
            "total",
            "values",
            "trace_id",
            "traceId",
            "ad_label_info_id",
            "ad_label_info_name",
            "ad_label_id",
            "ad_label_name",
            "status",
        ])
        .prop_map(String::from),
        ".{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            0i64, 1, -1, -2, 40001, 42001, 45009, 48002, 60011, 81011
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "",
            "1e3",
            "99999999999999999999",
            "null"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every node of `v`, as a JSON pointer.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Debug, Clone)]
enum WireInput {
    /// A seed's bytes mutated.
    Bytes(Vec<Mutation>),
    /// A seed's node (any depth) replaced by arbitrary JSON.
    Node(Index, Value),
    /// A seed's node removed (a field missing, an item dropped).
    Remove(Index),
    /// Arbitrary JSON.
    Json(Value),
    /// Nesting deeper than any document.
    Deep(usize, bool),
}

fn wire_input() -> impl Strategy<Value = WireInput> {
    prop_oneof![
        3 => proptest::collection::vec(mutation(), 1..6).prop_map(WireInput::Bytes),
        4 => (any::<Index>(), json_value()).prop_map(|(i, v)| WireInput::Node(i, v)),
        2 => any::<Index>().prop_map(WireInput::Remove),
        2 => json_value().prop_map(WireInput::Json),
        1 => (1usize..100_000, any::<bool>()).prop_map(|(n, o)| WireInput::Deep(n, o)),
    ]
}

fn wire_body(seed: &[u8], input: &WireInput) -> Vec<u8> {
    let tree = || serde_json::from_slice::<Value>(seed).expect("a corpus answer is JSON");
    let at = |v: &Value, i: &Index| {
        let mut all = Vec::new();
        pointers(v, String::new(), &mut all);
        all[i.index(all.len())].clone()
    };
    match input {
        WireInput::Bytes(ms) => apply(seed.to_vec(), ms),
        WireInput::Node(i, new) => {
            let mut v = tree();
            let p = at(&v, i);
            if let Some(node) = v.pointer_mut(&p) {
                *node = new.clone();
            }
            serde_json::to_vec(&v).unwrap()
        }
        WireInput::Remove(i) => {
            let mut v = tree();
            let p = at(&v, i);
            if let Some((parent, last)) = p.rsplit_once('/') {
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(k) = last.parse::<usize>() {
                            a.remove(k);
                        }
                    }
                    _ => {}
                }
            }
            serde_json::to_vec(&v).unwrap()
        }
        WireInput::Json(v) => serde_json::to_vec(v).unwrap(),
        WireInput::Deep(n, object) => {
            let (open, close) = if *object {
                ("{\"data\":", "}")
            } else {
                ("[", "]")
            };
            format!("{}0{}", open.repeat(*n), close.repeat(*n)).into_bytes()
        }
    }
}

fn check_wire(platform: &str, parse: WireParse) {
    let seeds = wire_seeds(platform);
    let statuses = prop::sample::select(vec![
        200u16,
        200,
        200,
        201,
        204,
        301,
        400,
        401,
        403,
        404,
        429,
        500,
        502,
        503,
        0,
        99,
        999,
        1000,
        u16::MAX,
    ]);
    let n = seeds.len();
    proptest!(config(cases()), |(seed in 0..n, input in wire_input(), status in statuses)| {
        let (call, seed) = &seeds[seed];
        let body = wire_body(seed, &input);
        let call2 = call.clone();
        let outcome = guarded(&format!("{platform}::wire::parse"), move || {
            parse(&call2, status, &body)
        })?;
        let outcome = outcome.ok_or_else(|| TestCaseError::fail(format!("{call}: not a call")))?;
        prop_assert!(VERDICTS.contains(&outcome.verdict), "{:?}", outcome);
        if outcome.verdict == "ok" {
            // The canonical value: the groups, or the call's own answer.
            prop_assert!(!outcome.value.is_string() || call != "list", "{:?}", outcome);
        } else {
            let message = outcome.value.as_str().unwrap_or_default();
            prop_assert!(!message.trim().is_empty(), "{} {}: no message: {:?}", platform, call, outcome);
        }
    });
}

#[test]
fn wecom_answers_never_panic_and_every_failure_is_typed() {
    check_wire("wecom", PLATFORMS[0].1);
}

#[test]
fn juzibot_answers_never_panic_and_every_failure_is_typed() {
    check_wire("juzibot", PLATFORMS[1].1);
}

#[test]
fn yzj_answers_never_panic_and_every_failure_is_typed() {
    check_wire("yzj", PLATFORMS[2].1);
}

#[test]
fn dustess_answers_never_panic_and_every_failure_is_typed() {
    check_wire("dustess", PLATFORMS[3].1);
}

#[test]
fn crm_answers_never_panic_and_every_failure_is_typed() {
    check_wire("crm", PLATFORMS[4].1);
}

/// An unknown call name is `None`, never a guess.
#[test]
fn an_unknown_call_is_none_on_every_platform() {
    for (platform, parse) in PLATFORMS {
        assert_eq!(parse("no-such-call", 200, b"{}"), None, "{platform}");
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: every finding of a campaign, as the smallest input that showed it.

/// Campaign of 2026-12-02: a six-level alias bomb (each level refers 11 times to the one
/// before) in a configuration ran for seconds in the position tree and figment's values, which
/// accept any expansion, until serde-saphyr's node budget stopped it at 250,000. Now aliases
/// replay at most 20,000 events, and the error says so where the alias is used.
#[test]
fn an_alias_bomb_is_refused_at_its_alias() {
    let mut s = String::from("a0: &a0 [\"lol\"]\n");
    for l in 1..6 {
        let refs = vec![format!("*a{}", l - 1); 11].join(", ");
        s.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
    }
    s.push_str("groups:\n  - name: *a5\n    tags: *a5\n");
    let expected = "error: fuzz.yaml:5:25: aliases (`*name`) expand to more than 20000 values\n  \
                    hint: write the values out, or refer to each anchor (`&name`) fewer times";
    let config = tagsync::settings::load_str("fuzz.yaml", &s).unwrap_err();
    assert_eq!(config.to_string(), expected);
    check_config_bytes(s.clone().into_bytes()).unwrap();
    // The tag file's types refuse the list where a name belongs, before expanding it.
    check_tag_bytes(s.into_bytes()).unwrap();
}

/// Campaign of 2026-12-02: `{a: ` nested 50 times overflowed a 2 MiB thread (tokio's workers,
/// where SIGHUP re-reads the configuration) in the configuration's position tree, in a debug
/// build: about 40 KB of stack per level, and serde-saphyr allowed 64 levels. Now at most 16
/// levels, located.
#[test]
fn deep_nesting_is_refused_at_its_level_on_a_small_stack() {
    let config = format!("tags: tags\nplatforms: {}", "{a: ".repeat(50));
    let tags = format!("groups:\n  - name: a\n    tags: {}", "[".repeat(50));
    let (config_err, tags_err) = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let c = tagsync::settings::load_str("tagsync.yaml", &config).unwrap_err();
            let t = parse(
                &[Source {
                    name: "a.yaml".into(),
                    text: tags,
                }],
                &tag_context(),
            )
            .unwrap_err();
            (c.to_string(), t.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    let hint = "check the indentation and the brackets: the file's lists and mappings nest a few levels at most";
    assert_eq!(
        config_err,
        format!("error: tagsync.yaml:2:72: nested more than 16 levels deep\n  hint: {hint}")
    );
    assert!(
        tags_err.starts_with("error: a.yaml:3:"),
        "a tag file's nesting is refused where it starts: {tags_err}"
    );
}
