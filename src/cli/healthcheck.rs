//! `tagsync healthcheck`: asks a running daemon's `/healthz`, for container HEALTHCHECKs (the
//! runtime image has no curl). Exit 0 when it answers 200, 1 otherwise.

use std::time::Duration;

use anyhow::Context as _;

use super::{Failure, Success};

pub async fn run(config: &std::path::Path, url: Option<String>) -> Result<Success, Failure> {
    let url = match url {
        Some(u) => u,
        None => {
            let settings = crate::settings::load(config)?;
            let mut addr = settings.listen;
            // A daemon listening on every address answers on loopback.
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            format!("http://{addr}/healthz")
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .context("cannot build the HTTP client")?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    let status = response.status();
    if status.is_success() {
        Ok(Success::Done)
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(Failure::Runtime(anyhow::anyhow!("{url}: {status}: {body}")))
    }
}
