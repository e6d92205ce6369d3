//! Matching declared objects to remote ones (SPEC §1): bindings first, then names, then `was`
//! names, each pass over all objects.
//!
//! Linear in the objects: the remote objects are indexed once per call by id (only when some
//! declared object has a binding) and by name, borrowing their strings, so that a group of
//! 10,000 tags costs 10,000 look-ups instead of 10,000² string compares.

use std::collections::HashMap;

use super::*;

/// What matching found for one declared object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    Binding,
    Name,
    Was(usize),
}

/// The remote objects by name: every object of a name, in listing order (a chain through
/// `next`, so that one allocation serves every duplicate).
struct ByName<'r> {
    first: HashMap<&'r str, usize>,
    next: Vec<usize>,
}

const END: usize = usize::MAX;

impl<'r> ByName<'r> {
    fn new(names: impl DoubleEndedIterator<Item = &'r str> + ExactSizeIterator) -> Self {
        let n = names.len();
        let mut first: HashMap<&'r str, usize> = HashMap::with_capacity(n);
        let mut next = vec![END; n];
        // Backwards, each object put before the later ones of its name: chains in listing order.
        for (j, name) in names.enumerate().rev() {
            if let Some(later) = first.insert(name, j) {
                next[j] = later;
            }
        }
        Self { first, next }
    }

    /// The objects named `name`, in listing order.
    fn get(&self, name: &str) -> impl Iterator<Item = usize> + '_ {
        let mut at = self.first.get(name).copied().unwrap_or(END);
        std::iter::from_fn(move || {
            (at != END).then(|| {
                let j = at;
                at = self.next[j];
                j
            })
        })
    }
}

/// Matches declared objects to remote ones: all bindings first, then names, then `was` names.
/// A remote object is claimed at most once; a binding to an id the platform no longer has is
/// ignored (the object was deleted remotely and will be matched afresh or recreated).
pub(super) fn match_objects<'r, 'b, D, R>(
    declared: &[&D],
    remote: &'r [R],
    binding: impl Fn(&D) -> Option<&'b str>,
    names: impl Fn(&D) -> (&str, &[String]),
    remote_id_name: impl Fn(&'r R) -> (&'r str, &'r str),
) -> Matching<'r, R> {
    let mut out: Vec<Option<(&R, How)>> = vec![None; declared.len()];
    let mut ambiguous: BTreeMap<usize, Vec<&'r R>> = BTreeMap::new();
    let mut claimed = vec![false; remote.len()];
    let bound: Vec<Option<&str>> = declared.iter().map(|d| binding(d)).collect();
    if bound.iter().any(Option::is_some) {
        // The first object of an id, as a scan from the start would find it.
        let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(remote.len());
        for (j, r) in remote.iter().enumerate().rev() {
            by_id.insert(remote_id_name(r).0, j);
        }
        for (i, id) in bound.iter().enumerate() {
            if let Some(id) = id
                && let Some(&j) = by_id.get(id)
                && !claimed[j]
            {
                claimed[j] = true;
                out[i] = Some((&remote[j], How::Binding));
            }
        }
    }
    let by_name = ByName::new(remote.iter().map(|r| remote_id_name(r).1));
    // One pass per kind of name. Every remote object a declared object could be is collected
    // first: more than one is ambiguous, and then none is taken (nor pruned) — a person decides.
    let mut candidates: Vec<(usize, How)> = Vec::new();
    for was_pass in [false, true] {
        for (i, d) in declared.iter().enumerate() {
            if out[i].is_some() || ambiguous.contains_key(&i) {
                continue;
            }
            candidates.clear();
            let (name, was) = names(d);
            if was_pass {
                for (k, w) in was.iter().enumerate() {
                    candidates.extend(
                        by_name
                            .get(w)
                            .filter(|&j| !claimed[j])
                            .map(|j| (j, How::Was(k))),
                    );
                }
            } else {
                candidates.extend(
                    by_name
                        .get(name)
                        .filter(|&j| !claimed[j])
                        .map(|j| (j, How::Name)),
                );
            }
            match candidates.as_slice() {
                [] => {}
                [(j, how)] => {
                    claimed[*j] = true;
                    out[i] = Some((&remote[*j], *how));
                }
                several => {
                    for (j, _) in several {
                        claimed[*j] = true;
                    }
                    ambiguous.insert(i, several.iter().map(|(j, _)| &remote[*j]).collect());
                }
            }
        }
    }
    Matching {
        found: out,
        ambiguous,
        claimed,
    }
}

/// What matching found: per declared object (by index) its remote object, and the declared objects
/// that several remote objects could be.
pub(super) struct Matching<'r, R> {
    pub(super) found: Vec<Option<(&'r R, How)>>,
    pub(super) ambiguous: BTreeMap<usize, Vec<&'r R>>,
    /// Per remote object (by index): matched, or a candidate of an ambiguous declaration.
    pub(super) claimed: Vec<bool>,
}
