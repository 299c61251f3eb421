//! `afc province provision`: creates or updates the hub's province stream, as the
//! province's provisioner (`province-admin`).

use std::path::Path;

use domain::City;
use protocol::subjects;

/// The most copies JetStream keeps of a stream.
pub const MAX_REPLICAS: usize = 5;

/// `--replicas N`: 1 to [`MAX_REPLICAS`] (one copy per hub node; JetStream keeps at most 5).
/// clap names the flag and the value before the error.
pub fn parse_replicas(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(replicas) if (1..=MAX_REPLICAS).contains(&replicas) => Ok(replicas),
        _ => Err(format!(
            "accepted: 1 to {MAX_REPLICAS} copies of the province stream, one per hub node (3 on a hub of three nodes)"
        )),
    }
}

/// Makes the hub's `AFC_PROVINCE` source every city of `cities` and prints what it sources.
/// With `replicas`, the stream has that many copies (a clustered hub needs at least as many
/// nodes); without, a new stream has one and an existing one keeps its own.
pub async fn provision(
    hub: &str,
    credentials: Option<&Path>,
    cities: &[City],
    replicas: Option<usize>,
) -> anyhow::Result<()> {
    let client = super::connect(hub, credentials, "province-admin", subjects::province_inbox("admin")).await?;
    let js = async_nats::jetstream::new(client);
    let info = match replicas {
        Some(replicas) => bus::streams::ensure_province_stream_replicated(&js, cities, replicas).await?,
        None => bus::streams::ensure_province_stream(&js, cities).await?,
    };
    let names: Vec<String> = info.config.sources.iter().flatten().map(|s| s.name.clone()).collect();
    println!("{} on {hub} sources {} ({} replicas)", info.config.name, names.join(", "), info.config.num_replicas);
    Ok(())
}
