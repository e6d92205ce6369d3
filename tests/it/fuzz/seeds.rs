//! Seeds and mutations: the corpora every target starts from, and what is done to them.

use proptest::prelude::*;
use proptest::sample::Index;

use std::path::{Path, PathBuf};

pub(super) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
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

pub(super) fn read_all(paths: Vec<PathBuf>) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

pub(super) fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Every tag file of the examples and of the input corpus.
pub(super) fn tag_seeds() -> Vec<Vec<u8>> {
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
pub(super) fn config_seeds() -> Vec<Vec<u8>> {
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
pub(super) const SNIPPETS: &[&[u8]] = &[
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
pub(super) enum Mutation {
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

pub(super) fn mutation() -> impl Strategy<Value = Mutation> {
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

pub(super) fn line_bounds(bytes: &[u8]) -> Vec<(usize, usize)> {
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

pub(super) fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
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
pub(super) fn generated_yaml() -> impl Strategy<Value = Vec<u8>> {
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
pub(super) fn fuzzed(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (0..seeds.len(), proptest::collection::vec(mutation(), 1..8))
        .prop_map(move |(i, ms)| apply(seeds[i].clone(), &ms));
    prop_oneof![4 => mutated, 1 => generated_yaml()]
}
