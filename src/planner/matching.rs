//! Matching declared objects to remote ones (SPEC §1): bindings first, then names, then `was`
//! names, each pass over all objects.

use super::*;

/// What matching found for one declared object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    Binding,
    Name,
    Was(usize),
}

/// Matches declared objects to remote ones: all bindings first, then names, then `was` names.
/// A remote object is claimed at most once; a binding to an id the platform no longer has is
/// ignored (the object was deleted remotely and will be matched afresh or recreated).
pub(super) fn match_objects<'r, 'b, D, R>(
    declared: &[&D],
    remote: &'r [R],
    binding: impl Fn(&D) -> Option<&'b str>,
    names: impl Fn(&D) -> (&String, &Vec<String>),
    remote_id_name: impl Fn(&R) -> (&String, &String),
) -> Matching<'r, R> {
    let mut out: Vec<Option<(&R, How)>> = vec![None; declared.len()];
    let mut ambiguous: BTreeMap<usize, Vec<&'r R>> = BTreeMap::new();
    let mut claimed: BTreeSet<usize> = BTreeSet::new();
    for (i, d) in declared.iter().enumerate() {
        if let Some(id) = binding(d)
            && let Some(j) = remote.iter().position(|r| remote_id_name(r).0 == id)
            && claimed.insert(j)
        {
            out[i] = Some((&remote[j], How::Binding));
        }
    }
    // One pass per kind of name. Every remote object a declared object could be is collected
    // first: more than one is ambiguous, and then none is taken (nor pruned) — a person decides.
    let mut by_name = |wanted: &dyn Fn(&D) -> Vec<(String, How)>,
                       out: &mut Vec<Option<(&'r R, How)>>,
                       ambiguous: &mut BTreeMap<usize, Vec<&'r R>>| {
        for (i, d) in declared.iter().enumerate() {
            if out[i].is_some() || ambiguous.contains_key(&i) {
                continue;
            }
            let mut candidates: Vec<(usize, How)> = Vec::new();
            for (name, how) in wanted(d) {
                for (j, r) in remote.iter().enumerate() {
                    if *remote_id_name(r).1 == name && !claimed.contains(&j) {
                        candidates.push((j, how));
                    }
                }
            }
            match candidates.as_slice() {
                [] => {}
                [(j, how)] => {
                    claimed.insert(*j);
                    out[i] = Some((&remote[*j], *how));
                }
                several => {
                    for (j, _) in several {
                        claimed.insert(*j);
                    }
                    ambiguous.insert(i, several.iter().map(|(j, _)| &remote[*j]).collect());
                }
            }
        }
    };
    by_name(
        &|d| vec![(names(d).0.clone(), How::Name)],
        &mut out,
        &mut ambiguous,
    );
    by_name(
        &|d| {
            names(d)
                .1
                .iter()
                .enumerate()
                .map(|(k, w)| (w.clone(), How::Was(k)))
                .collect()
        },
        &mut out,
        &mut ambiguous,
    );
    Matching {
        found: out,
        ambiguous,
    }
}

/// What matching found: per declared object (by index) its remote object, and the declared objects
/// that several remote objects could be.
pub(super) struct Matching<'r, R> {
    pub(super) found: Vec<Option<(&'r R, How)>>,
    pub(super) ambiguous: BTreeMap<usize, Vec<&'r R>>,
}
