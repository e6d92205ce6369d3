//! The call log: one [`CallRecord`] per request a simulator received, with secrets removed, so
//! that tests can assert exactly which calls a sync made.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::FaultKind;

/// What replaces a secret in the log.
pub const REDACTED: &str = "***";

/// One request as the simulator saw it, and what it did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// Arrival order, starting at 1.
    pub seq: u64,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without the query, e.g. `/api/v1/tag/create`.
    pub path: String,
    /// Query parameters; secret values are [`REDACTED`].
    pub query: BTreeMap<String, String>,
    /// The JSON body with secret values [`REDACTED`]; `None` when the body was empty, and a short
    /// note in place of a body that is not JSON (it could not be redacted).
    pub body: Option<Value>,
    /// Whether the platform counts this call as a write.
    pub write: bool,
    /// The HTTP status the client received; `None` when the connection was dropped without one.
    pub status: Option<u16>,
    /// The envelope's errcode of the answer the simulator produced (the 个微 CRM's `errmsg`; also
    /// for a lost response, where the client never saw it); `None` when the answer had no envelope.
    pub errcode: Option<i64>,
    /// The fault injected, if any.
    pub fault: Option<FaultKind>,
    /// Refused by the rate limit (answered with the platform's frequency error, not applied).
    pub rate_limited: bool,
    /// The platform carried the call out: its handler ran and answered a 2xx status with the
    /// platform's success code (0 on most platforms, 20000 on the 个微 CRM) or no errcode. True for a lost response whose write succeeded; false for every other
    /// fault, a refusal, or a call the client abandoned before the handler ran.
    pub applied: bool,
}

/// Replaces the values of `secret_keys` in a query.
pub(crate) fn redact_query(
    pairs: Vec<(String, String)>,
    secret_keys: &[&str],
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = if secret_keys.contains(&k.as_str()) {
                REDACTED.to_owned()
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

/// Parses a request body and replaces the values of `secret_keys`, at any depth.
pub(crate) fn redact_body(bytes: &[u8], secret_keys: &[&str]) -> Option<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            redact_value(&mut value, secret_keys);
            Some(value)
        }
        Err(_) => Some(Value::String(format!("<{} bytes, not JSON>", bytes.len()))),
    }
}

fn redact_value(value: &mut Value, secret_keys: &[&str]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if secret_keys.contains(&k.as_str()) {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_value(v, secret_keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, secret_keys)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_at_any_depth() {
        let body = br#"{"token":"s3cret","a":[{"token":"x","b":1}],"c":"token"}"#;
        let value = redact_body(body, &["token"]).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"token":"***","a":[{"token":"***","b":1}],"c":"token"})
        );
        let query = redact_query(
            vec![
                ("token".into(), "s3cret".into()),
                ("tagId".into(), "t".into()),
            ],
            &["token"],
        );
        assert_eq!(query["token"], "***");
        assert_eq!(query["tagId"], "t");
    }

    #[test]
    fn a_body_that_is_not_json_is_not_logged() {
        let value = redact_body(b"token=s3cret", &["token"]).unwrap();
        assert_eq!(value, Value::String("<12 bytes, not JSON>".into()));
        assert_eq!(redact_body(b"  ", &["token"]), None);
    }
}
