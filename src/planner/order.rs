//! Choosing order values that need the fewest edit calls (SPEC §1, "Order").
//!
//! Items are given in desired position (first = highest). An item with an explicit order must end
//! at exactly that value. The others only need to sort in their relative position: strictly
//! decreasing among themselves. We keep the largest set of items whose current values already
//! satisfy that, with enough integer room between them for the items in between, and renumber only
//! the rest, spreading them out so that later inserts find gaps.

/// The spacing between renumbered neighbours, when room allows.
pub const STEP: u64 = 100;
const MAX: u64 = u32::MAX as u64;

/// One item to order: its current value (`None` when it does not exist yet) and an explicit target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub current: Option<u32>,
    pub explicit: Option<u32>,
}

/// Target values, one per slot. A slot whose target equals its current value needs no edit.
pub fn assign(slots: &[Slot]) -> Vec<u32> {
    let mut out: Vec<Option<u32>> = slots.iter().map(|s| s.explicit).collect();
    let free: Vec<usize> = (0..slots.len())
        .filter(|&i| slots[i].explicit.is_none())
        .collect();
    let currents: Vec<Option<u32>> = free.iter().map(|&i| slots[i].current).collect();
    for (k, v) in free.iter().zip(relative(&currents)) {
        out[*k] = Some(v);
    }
    out.into_iter()
        .map(|v| v.expect("every slot assigned"))
        .collect()
}

/// Strictly decreasing values for items in position order, keeping as many current values as
/// possible.
pub fn relative(current: &[Option<u32>]) -> Vec<u32> {
    let n = current.len();
    let keep = kept(current);
    let mut out = vec![0u64; n];
    for &i in &keep {
        out[i] = u64::from(current[i].expect("kept items exist"));
    }
    // Fill each run of unkept items between two anchors (or the ends).
    let mut anchors: Vec<Option<usize>> = vec![None];
    anchors.extend(keep.iter().map(|&i| Some(i)));
    anchors.push(None);
    for w in anchors.windows(2) {
        let (lo_idx, hi_idx) = (w[0], w[1]);
        let start = lo_idx.map_or(0, |i| i + 1);
        let end = hi_idx.unwrap_or(n);
        let count = end - start;
        if count == 0 {
            continue;
        }
        // Values strictly between `above` and `below`; open ends get STEP spacing.
        let above = lo_idx.map(|i| out[i]);
        let below = hi_idx.map(|i| out[i]);
        let values = fill(above, below, count as u64);
        out[start..end].copy_from_slice(&values);
    }
    out.into_iter().map(|v| v as u32).collect()
}

/// `count` strictly decreasing values between `above` (exclusive, or the top) and `below`
/// (exclusive, or the bottom).
fn fill(above: Option<u64>, below: Option<u64>, count: u64) -> Vec<u64> {
    match (above, below) {
        (Some(a), Some(b)) => {
            // Evenly spaced inside the gap; `kept` guarantees a - b > count.
            let gap = (a - b) / (count + 1);
            (1..=count).map(|k| a - k * gap).collect()
        }
        (None, Some(b)) => {
            // Above the first anchor: b + STEP, b + 2·STEP, … capped by the top of the range.
            let step = ((MAX - b) / count).clamp(1, STEP);
            (0..count).map(|k| b + (count - k) * step).collect()
        }
        (Some(a), None) => {
            // Below the last anchor, down to 0.
            let step = (a / (count + 1)).clamp(1, STEP);
            let step = if a >= count * step { step } else { 1 };
            (1..=count).map(|k| a - k * step).collect()
        }
        (None, None) => (0..count).map(|k| (count - k) * STEP).collect(),
    }
}

/// Indices of the items to keep: the longest chain i₁ < i₂ < … whose values leave room for every
/// item between and around them. With d = value + index, room between i < j means
/// value_i − value_j ≥ j − i, i.e. d_i ≥ d_j: the longest non-increasing subsequence of d.
fn kept(current: &[Option<u32>]) -> Vec<usize> {
    let n = current.len();
    let candidates: Vec<(usize, u64)> = current
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, u64::from(c))))
        // Room below for the items after it, and above for the items before it.
        .filter(|&(i, c)| c >= (n - 1 - i) as u64 && c + i as u64 <= MAX)
        .collect();
    // Patience sorting on -d for a longest non-increasing subsequence, with predecessor links.
    let mut tails: Vec<usize> = Vec::new(); // indexes into `candidates`
    let mut prev: Vec<Option<usize>> = vec![None; candidates.len()];
    let d = |k: usize| candidates[k].1 + candidates[k].0 as u64;
    for (k, link) in prev.iter_mut().enumerate() {
        // First tail whose d is strictly smaller than ours (we extend chains with d ≥ ours).
        let pos = tails.partition_point(|&t| d(t) >= d(k));
        if pos > 0 {
            *link = Some(tails[pos - 1]);
        }
        if pos == tails.len() {
            tails.push(k);
        } else {
            tails[pos] = k;
        }
    }
    let mut chain = Vec::new();
    let mut cur = tails.last().copied();
    while let Some(k) = cur {
        chain.push(candidates[k].0);
        cur = prev[k];
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn edits(current: &[Option<u32>]) -> usize {
        let out = relative(current);
        current
            .iter()
            .zip(&out)
            .filter(|(c, o)| **c != Some(**o))
            .count()
    }

    #[test]
    fn in_order_needs_nothing() {
        let cur = [Some(30), Some(20), Some(10)];
        assert_eq!(relative(&cur), vec![30, 20, 10]);
    }

    #[test]
    fn all_zero_renumbers_all_but_one() {
        let cur = [Some(0), Some(0), Some(0)];
        assert_eq!(relative(&cur), vec![200, 100, 0]);
        assert_eq!(edits(&cur), 2);
    }

    #[test]
    fn one_moved_item_is_the_only_edit() {
        // The third item moved to the top in the file.
        let cur = [Some(100), Some(300), Some(200)];
        let out = relative(&cur);
        assert_eq!(edits(&cur), 1);
        assert!(out.windows(2).all(|w| w[0] > w[1]), "{out:?}");
    }

    #[test]
    fn new_items_fit_into_gaps() {
        let cur = [Some(300), None, Some(100), None];
        assert_eq!(relative(&cur), vec![300, 200, 100, 50]);
    }

    #[test]
    fn no_room_between_neighbours_forces_a_renumber() {
        let cur = [Some(5), None, Some(4)];
        let out = relative(&cur);
        assert!(out.windows(2).all(|w| w[0] > w[1]), "{out:?}");
        assert_eq!(edits(&cur), 2);
    }

    #[test]
    fn top_of_range() {
        let cur = [None, Some(u32::MAX)];
        let out = relative(&cur);
        assert!(out[0] > out[1], "{out:?}");
    }

    #[test]
    fn explicit_orders_are_exact() {
        let slots = [
            Slot {
                current: Some(1),
                explicit: Some(900),
            },
            Slot {
                current: Some(50),
                explicit: None,
            },
            Slot {
                current: Some(40),
                explicit: None,
            },
        ];
        assert_eq!(assign(&slots), vec![900, 50, 40]);
    }

    proptest! {
        #[test]
        fn always_strictly_decreasing_and_minimal(cur in proptest::collection::vec(proptest::option::of(0u32..2000), 0..12)) {
            let out = relative(&cur);
            prop_assert_eq!(out.len(), cur.len());
            prop_assert!(out.windows(2).all(|w| w[0] > w[1]), "{:?} -> {:?}", cur, out);
            // Minimal: no assignment keeps more current values than a brute-force search finds.
            let n = cur.len();
            let mut best = 0;
            for mask in 0u32..(1 << n) {
                let idx: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                let ok = idx.iter().all(|&i| cur[i].is_some_and(|c| u64::from(c) >= (n - 1 - i) as u64))
                    && idx.windows(2).all(|w| {
                        let (a, b) = (cur[w[0]].unwrap() as i64, cur[w[1]].unwrap() as i64);
                        a - b >= (w[1] - w[0]) as i64
                    });
                if ok { best = best.max(idx.len()); }
            }
            let kept = cur.iter().zip(&out).filter(|(c, o)| **c == Some(**o)).count();
            prop_assert_eq!(kept, best);
        }
    }
}
