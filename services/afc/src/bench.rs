//! Benchmarks (placeholder, replaced below).

/// Options of `afc bench freeze`.
#[derive(Debug, clap::Args)]
pub struct FreezeBench {}

pub async fn freeze(_options: FreezeBench) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
