//! `afc province provision`: creates or updates the hub's province stream, as the
//! province's provisioner (`province-admin`).

use std::path::Path;

use domain::City;
use protocol::subjects;

/// Makes the hub's `AFC_PROVINCE` source every city of `cities` and prints what it sources.
pub async fn provision(hub: &str, credentials: Option<&Path>, cities: &[City]) -> anyhow::Result<()> {
    let client = super::connect(hub, credentials, "province-admin", subjects::province_inbox("admin")).await?;
    let info = bus::streams::ensure_province_stream(&async_nats::jetstream::new(client), cities).await?;
    let names: Vec<String> = info.config.sources.iter().flatten().map(|s| s.name.clone()).collect();
    println!("{} on {hub} sources {}", info.config.name, names.join(", "));
    Ok(())
}
