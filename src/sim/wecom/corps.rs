//! Many corps behind one WeCom simulator, as an SCRM vendor's fleet of client accounts sees
//! WeCom: one host, each corp its own secret, tokens, tags, customers and rate limit.
//!
//! The fixture's corp is the *primary* one: `SimHandle::with_state::<Corp>` reaches it, its
//! tokens are spelt as they always were, and a call whose token no corp issued goes to it (which
//! answers 40014), so a single-corp simulator behaves exactly as before. Corps added with
//! [`Corps::add`] are found by `gettoken`'s `corpid` and, for every other call, by the corp that
//! issued its `access_token`: a token only ever reaches its own corp's state.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Corp, Fixture, SimError, SimPlatform};
use crate::sim::Clock;

/// Every corp a simulator serves: the fixture's first, then those added, by corp ID.
#[derive(Debug)]
pub struct Corps {
    corps: Vec<Corp>,
    /// Corp ID → index in `corps`.
    by_id: HashMap<String, usize>,
}

impl Corps {
    pub(super) fn new(primary: Corp) -> Self {
        let by_id = HashMap::from([(primary.corp_id.clone(), 0)]);
        Self {
            corps: vec![primary],
            by_id,
        }
    }

    /// Adds the corp `fixture.corp_id` (its secret is `fixture.token`) with the fixture's tags
    /// and customers, on `clock`.
    ///
    /// # Errors
    /// [`SimError::Fixture`] when the fixture names no corp ID, one already served, or breaks a
    /// rule of WeCom's (as for the primary corp).
    pub fn add(&mut self, fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<(), SimError> {
        let fail = |message: String| SimError::Fixture {
            platform: SimPlatform::Wecom,
            message,
        };
        fixture.check_common(SimPlatform::Wecom)?;
        let Some(id) = fixture.corp_id.clone() else {
            return Err(fail("an added corp needs a `corpId`".into()));
        };
        if self.by_id.contains_key(&id) {
            return Err(fail(format!("the corp `{id}` is already served")));
        }
        let mut corp = Corp::from_fixture(fixture, clock)?;
        corp.token_prefix = format!("{id}-");
        self.by_id.insert(id, self.corps.len());
        self.corps.push(corp);
        Ok(())
    }

    /// The fixture's corp.
    pub fn primary_mut(&mut self) -> &mut Corp {
        &mut self.corps[0]
    }

    /// The corp `corp_id`, if served.
    pub fn corp(&self, corp_id: &str) -> Option<&Corp> {
        self.by_id.get(corp_id).map(|&i| &self.corps[i])
    }

    /// The corp `corp_id`, if served, to change it (fail its next calls, revoke its tokens, …).
    pub fn corp_mut(&mut self, corp_id: &str) -> Option<&mut Corp> {
        self.by_id.get(corp_id).map(|&i| &mut self.corps[i])
    }

    /// How many corps are served.
    pub fn len(&self) -> usize {
        self.corps.len()
    }

    /// Never: the fixture's corp is always served.
    pub fn is_empty(&self) -> bool {
        self.corps.is_empty()
    }

    /// The corp `gettoken` asks for; an unknown or missing `corpid` goes to the primary corp,
    /// which answers 41002 or 40013.
    pub(super) fn by_corp_id(&mut self, corp_id: Option<&String>) -> &mut Corp {
        let i = corp_id
            .and_then(|c| self.by_id.get(c))
            .copied()
            .unwrap_or(0);
        &mut self.corps[i]
    }

    /// The corp that issued `token`; else the primary corp, which refuses it (41001, 40014).
    pub(super) fn by_token(&mut self, token: Option<&String>) -> &mut Corp {
        let i = self.index_of_token(token).unwrap_or(0);
        &mut self.corps[i]
    }

    fn index_of_token(&self, token: Option<&String>) -> Option<usize> {
        let token = token?;
        if self.corps.len() == 1 {
            return None;
        }
        // Tokens of added corps start with their corp ID (see `add`); the primary's never do.
        let (corp, _) = token.rsplit_once('-')?;
        let i = *self.by_id.get(corp)?;
        (i != 0).then_some(i)
    }

    /// The corp a call is for, as the rate limit keys it: `None` for the primary corp (the one
    /// limit a single-corp simulator always had), else the corp ID.
    pub(super) fn tenant(&self, path: &str, query: &[(String, String)]) -> Option<String> {
        if self.corps.len() == 1 {
            return None;
        }
        let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let i = if path == "/cgi-bin/gettoken" {
            get("corpid").and_then(|c| self.by_id.get(c)).copied()
        } else {
            self.index_of_token(get("access_token"))
        }?;
        (i != 0).then(|| self.corps[i].corp_id.clone())
    }
}
