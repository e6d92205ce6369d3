//! Deterministic faults and the request-rate limit: the [`FaultSpec`] that `tagsync sim --faults
//! SPEC` parses, scripted faults, and the generator that makes them reproducible.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;
use tokio::time::Instant;

/// One way a simulated call can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// HTTP 500 with no envelope; nothing applied.
    Http500,
    /// HTTP 429 with no envelope; nothing applied.
    Http429,
    /// The platform's own "busy, try later" answer (see each platform's `//!`); nothing applied.
    Busy,
    /// The call is answered correctly, after [`FaultSpec::delay`].
    Delay,
    /// No answer for [`FaultSpec::hang`] (or until shutdown), then the connection is dropped;
    /// nothing applied.
    Timeout,
    /// The connection is reset before any answer; nothing applied.
    Reset,
    /// The write is applied, then the connection is reset instead of answering.
    Lost,
}

impl FaultKind {
    /// Every kind, in the order `kinds=all` lists them.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Http500,
        FaultKind::Http429,
        FaultKind::Busy,
        FaultKind::Delay,
        FaultKind::Timeout,
        FaultKind::Reset,
        FaultKind::Lost,
    ];

    /// The name used in a fault spec.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Http500 => "http500",
            FaultKind::Http429 => "http429",
            FaultKind::Busy => "busy",
            FaultKind::Delay => "delay",
            FaultKind::Timeout => "timeout",
            FaultKind::Reset => "reset",
            FaultKind::Lost => "lost",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| FaultSpecError::new(s, "unknown fault kind"))
    }
}

/// Random faults and the rate limit of one simulator, as `tagsync sim --faults SPEC` writes them.
///
/// ```text
/// SPEC  = "none" | ITEM ("," ITEM)*
/// ITEM  = "seed=" u64                      the fault sequence's seed (default 0)
///       | "rate=" 0..=1                    share of calls that get a fault (default 0)
///       | "kinds=" KIND ("+" KIND)*        which faults to draw from (default: all; needs `rate`)
///       | "delay=" DURATION                how long a `delay` fault holds a response (default 250ms)
///       | "hang=" DURATION                 how long a `timeout` fault keeps a call open (default 60s)
///       | "rps=" u32                       the platform's rate limit, requests per second (default: none)
/// KIND  = "http500" | "http429" | "busy" | "delay" | "timeout" | "reset" | "lost" | "all"
/// DURATION = integer followed by "ms" or "s" (a bare integer is milliseconds)
/// ```
///
/// For example `seed=42,rate=0.3,kinds=http500+http429+busy+delay+timeout+reset+lost,rps=20`.
/// [`Display`](fmt::Display) writes a spec that parses back to the same value.
///
/// # Guarantees
/// - Every call draws from the seeded generator exactly twice, whatever happens to it, so the same
///   seed and the same sequence of calls (method and path) give the same faults on every run.
/// - Faults never change state, except `lost`, which applies the write and then drops the answer.
///   `lost` is only drawn for writes; for a read it is left out of the choice.
/// - The generator is SplitMix64, written out here rather than taken from `rand`, whose `StdRng`
///   may change its sequence between versions: a recorded seed must reproduce forever.
/// - The rate limit is a sliding one-second window over admitted calls; a refused call is
///   answered with the platform's frequency error, not applied, and not counted.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// Seed of the fault sequence.
    pub seed: u64,
    /// Share of calls that get a fault, in `[0, 1]`.
    pub rate: f64,
    /// The kinds drawn from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// How long a [`FaultKind::Delay`] holds a response.
    pub delay: Duration,
    /// How long a [`FaultKind::Timeout`] keeps a call open: far longer than a client's timeout.
    pub hang: Duration,
    /// Requests per second admitted before the platform's frequency error; `None` is unlimited.
    pub rps: Option<u32>,
}

impl Default for FaultSpec {
    /// No faults, no rate limit.
    fn default() -> Self {
        Self {
            seed: 0,
            rate: 0.0,
            kinds: FaultKind::ALL.to_vec(),
            delay: Duration::from_millis(250),
            hang: Duration::from_secs(60),
            rps: None,
        }
    }
}

/// A fault spec that could not be parsed: which item, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid fault spec item `{item}`: {reason} (expected e.g. `seed=42,rate=0.3,kinds=http500+lost,delay=200ms,hang=60s,rps=20`)"
)]
pub struct FaultSpecError {
    /// The offending item as written.
    pub item: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FaultSpecError {
    fn new(item: &str, reason: impl Into<String>) -> Self {
        Self {
            item: item.to_owned(),
            reason: reason.into(),
        }
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = FaultSpec::default();
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(spec);
        }
        let mut kinds_given = false;
        let mut rate_given = false;
        for item in text.split(',').map(str::trim) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(FaultSpecError::new(item, "expected KEY=VALUE"));
            };
            let bad = |reason: &str| FaultSpecError::new(item, reason);
            match key.trim() {
                "seed" => {
                    spec.seed = value
                        .parse()
                        .map_err(|_| bad("the seed must be an unsigned integer"))?;
                }
                "rate" => {
                    let rate: f64 = value
                        .parse()
                        .map_err(|_| bad("the rate must be a number between 0 and 1"))?;
                    if !(0.0..=1.0).contains(&rate) {
                        return Err(bad("the rate must be between 0 and 1"));
                    }
                    spec.rate = rate;
                    rate_given = true;
                }
                "kinds" => {
                    let mut kinds = Vec::new();
                    for name in value.split('+').map(str::trim) {
                        if name == "all" {
                            kinds.extend(FaultKind::ALL);
                        } else {
                            kinds.push(name.parse().map_err(|_: FaultSpecError| {
                                bad(&format!(
                                    "unknown fault kind `{name}` (known: http500, http429, busy, \
                                     delay, timeout, reset, lost, all)"
                                ))
                            })?);
                        }
                    }
                    kinds.sort();
                    kinds.dedup();
                    spec.kinds = kinds;
                    kinds_given = true;
                }
                "delay" => spec.delay = parse_duration(value).map_err(|r| bad(&r))?,
                "hang" => spec.hang = parse_duration(value).map_err(|r| bad(&r))?,
                "rps" => {
                    let rps: u32 = value
                        .parse()
                        .map_err(|_| bad("rps must be a positive integer"))?;
                    if rps == 0 {
                        return Err(bad("rps must be a positive integer"));
                    }
                    spec.rps = Some(rps);
                }
                _ => {
                    return Err(bad(
                        "unknown key (known: seed, rate, kinds, delay, hang, rps)",
                    ));
                }
            }
        }
        if kinds_given && !rate_given {
            return Err(FaultSpecError::new(
                text,
                "`kinds` without `rate` would inject nothing; add e.g. rate=0.2",
            ));
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    /// The spec in the syntax that parses back to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        write!(
            f,
            "seed={},rate={},kinds={},delay={}ms,hang={}ms",
            self.seed,
            self.rate,
            kinds.join("+"),
            self.delay.as_millis(),
            self.hang.as_millis()
        )?;
        if let Some(rps) = self.rps {
            write!(f, ",rps={rps}")?;
        }
        Ok(())
    }
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let (digits, unit_ms) = if let Some(d) = value.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = value.strip_suffix('s') {
        (d, 1000)
    } else {
        (value, 1)
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .map(Duration::from_millis)
        .ok_or_else(|| "a duration is an integer followed by `ms` or `s`".to_owned())
}

/// What the framework does with one call, decided before the platform sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The call's number in arrival order, starting at 1.
    pub seq: u64,
    /// Refused by the rate limit: answered with the frequency error, not applied.
    pub rate_limited: bool,
    pub fault: Option<FaultKind>,
}

/// A scripted fault: the next `remaining` calls to `path` (or to any path) get `kind`.
#[derive(Debug, Clone)]
struct Script {
    path: Option<String>,
    kind: FaultKind,
    remaining: usize,
}

/// The runtime side of a [`FaultSpec`] plus scripted faults and the rate limiter.
#[derive(Debug)]
pub(crate) struct Faults {
    spec: FaultSpec,
    rng: SplitMix64,
    seq: u64,
    scripts: Vec<Script>,
    admitted: VecDeque<Instant>,
    /// The windows of a simulator's other accounts (`Platform::tenant`), each its own limit.
    tenants: HashMap<String, VecDeque<Instant>>,
}

impl Faults {
    pub(crate) fn new(spec: FaultSpec) -> Self {
        Self {
            rng: SplitMix64(spec.seed),
            spec,
            seq: 0,
            scripts: Vec::new(),
            admitted: VecDeque::new(),
            tenants: HashMap::new(),
        }
    }

    pub(crate) fn spec(&self) -> &FaultSpec {
        &self.spec
    }

    /// Queues `kind` for the next `times` calls to `path` (`None`: any path). A scripted `lost`
    /// waits for a write.
    pub(crate) fn script(&mut self, path: Option<String>, kind: FaultKind, times: usize) {
        self.scripts.push(Script {
            path,
            kind,
            remaining: times,
        });
    }

    /// Decides the fate of the next call, made for `tenant` (`None`: the simulator's one account,
    /// or its primary one): each tenant has its own rate-limit window.
    pub(crate) fn decide(
        &mut self,
        path: &str,
        write: bool,
        tenant: Option<&str>,
        now: Instant,
    ) -> Decision {
        self.seq += 1;
        // Always draw twice, so that the sequence depends only on the calls, not on their fates.
        let roll = self.rng.next_f64();
        let pick = self.rng.next_u64();
        let rate_limited = !self.admit(tenant, now);
        let applicable = |k: &FaultKind| write || *k != FaultKind::Lost;
        let scripted = self.scripts.iter_mut().find(|s| {
            s.remaining > 0 && s.path.as_deref().is_none_or(|p| p == path) && applicable(&s.kind)
        });
        let fault = if rate_limited {
            None
        } else if let Some(script) = scripted {
            script.remaining -= 1;
            Some(script.kind)
        } else if roll < self.spec.rate {
            let kinds: Vec<FaultKind> =
                self.spec.kinds.iter().copied().filter(applicable).collect();
            // `kinds.len()` is tiny, so the modulo's bias is negligible.
            (!kinds.is_empty()).then(|| kinds[(pick % kinds.len() as u64) as usize])
        } else {
            None
        };
        self.scripts.retain(|s| s.remaining > 0);
        Decision {
            seq: self.seq,
            rate_limited,
            fault,
        }
    }

    /// A sliding one-second window: admits the call if fewer than `rps` were admitted in the last
    /// second. Refused calls do not count.
    fn admit(&mut self, tenant: Option<&str>, now: Instant) -> bool {
        let Some(rps) = self.spec.rps else {
            return true;
        };
        let admitted = match tenant {
            None => &mut self.admitted,
            Some(t) => self.tenants.entry(t.to_owned()).or_default(),
        };
        while admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            admitted.pop_front();
        }
        if admitted.len() >= rps as usize {
            return false;
        }
        admitted.push_back(now);
        true
    }
}

/// SplitMix64 (Steele, Lea and Flood), small and stable forever.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example_and_prints_it_back() {
        let spec: FaultSpec =
            "seed=42,rate=0.3,kinds=http500+http429+busy+delay+timeout+reset+lost,delay=200ms,hang=2s,rps=20"
                .parse()
                .unwrap();
        assert_eq!(spec.seed, 42);
        assert_eq!(spec.rate, 0.3);
        assert_eq!(spec.kinds, FaultKind::ALL.to_vec());
        assert_eq!(spec.delay, Duration::from_millis(200));
        assert_eq!(spec.hang, Duration::from_secs(2));
        assert_eq!(spec.rps, Some(20));
        assert_eq!(spec.to_string().parse::<FaultSpec>().unwrap(), spec);
    }

    #[test]
    fn none_and_empty_mean_no_faults() {
        for text in ["", "none", "  "] {
            let spec: FaultSpec = text.parse().unwrap();
            assert_eq!(spec.rate, 0.0);
            assert_eq!(spec.rps, None);
        }
    }

    #[test]
    fn bad_specs_name_the_item() {
        let cases = [
            ("rate=2", "rate=2"),
            ("seed=x", "seed=x"),
            ("kinds=http500+boom,rate=0.1", "kinds=http500+boom"),
            ("rate", "rate"),
            ("color=red", "color=red"),
            ("delay=5m", "delay=5m"),
            ("rps=0", "rps=0"),
            ("kinds=lost", "kinds=lost"),
        ];
        for (text, item) in cases {
            let err = text.parse::<FaultSpec>().unwrap_err();
            assert_eq!(err.item, item, "{text}: {err}");
        }
    }

    #[test]
    fn lost_is_never_drawn_for_reads() {
        let mut spec: FaultSpec = "rate=1,kinds=lost".parse().unwrap();
        spec.seed = 7;
        let mut faults = Faults::new(spec);
        let now = Instant::now();
        assert_eq!(faults.decide("/r", false, None, now).fault, None);
        assert_eq!(
            faults.decide("/w", true, None, now).fault,
            Some(FaultKind::Lost)
        );
    }

    #[test]
    fn each_tenant_has_its_own_window() {
        let spec: FaultSpec = "rps=2".parse().unwrap();
        let mut faults = Faults::new(spec);
        let now = Instant::now();
        let limited = |f: &mut Faults, tenant| f.decide("/r", false, tenant, now).rate_limited;
        assert!(!limited(&mut faults, None));
        assert!(!limited(&mut faults, None));
        assert!(
            limited(&mut faults, None),
            "the primary account's third call"
        );
        assert!(!limited(&mut faults, Some("b")));
        assert!(!limited(&mut faults, Some("b")));
        assert!(limited(&mut faults, Some("b")), "b's own third call");
        assert!(!limited(&mut faults, Some("c")));
        let later = now + Duration::from_secs(1);
        assert!(!faults.decide("/r", false, Some("b"), later).rate_limited);
    }
}
