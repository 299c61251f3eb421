//! `afc province provision`: creates or updates the hub's province stream.

use anyhow::Context;
use domain::City;

/// Makes the hub's `AFC_PROVINCE` source every city of `cities` and prints what it sources.
pub async fn provision(hub: &str, cities: &[City]) -> anyhow::Result<()> {
    let client = async_nats::connect(hub).await.with_context(|| format!("connecting to {hub}"))?;
    let info = bus::streams::ensure_province_stream(&async_nats::jetstream::new(client), cities).await?;
    let names: Vec<String> = info.config.sources.iter().flatten().map(|s| s.name.clone()).collect();
    println!("{} on {hub} sources {}", info.config.name, names.join(", "));
    Ok(())
}
