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
    super::out::line(format_args!(
        "{} on {hub} sources {} ({} replicas)",
        info.config.name,
        names.join(", "),
        info.config.num_replicas
    ))
}

/// Runs the province coordinator until `shutdown`.
pub async fn coordinator(
    hub: &str,
    credentials: Option<&Path>,
    cities: Vec<City>,
    data_dir: std::path::PathBuf,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let who = security::hub::COORDINATOR;
    let name = format!("{}-{who}", subjects::PROVINCE_DOMAIN);
    let client = super::connect_watcher(hub, credentials, &name, subjects::province_inbox(who)).await?;
    let options = coordinator::shell::Options::new(cities, data_dir);
    coordinator::shell::run(client, options, shutdown).await?;
    Ok(())
}

/// How `afc province report` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, amounts in yuan, then the cities to call in.
    #[default]
    Table,
    /// One line a city and one for the province, amounts in fen.
    Csv,
    /// The coordinator's answer as it is.
    Json,
    /// The ranking chart (money frozen of reported loss, the cities to call in red), an SVG
    /// document: `--format svg > ranking.svg`.
    Svg,
}

/// What `afc province report` asks.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    pub period: Option<String>,
    pub city: Option<City>,
    pub margin: u8,
    pub format: Format,
}

/// Asks the coordinator for a period's report and prints it.
pub async fn report(hub: &str, credentials: Option<&Path>, args: ReportArgs) -> anyhow::Result<()> {
    use protocol::coordinator::{CoordinatorError, ReportRequest, verb};
    let who = security::roles::OBSERVER;
    let name = format!("{}-{who}", subjects::PROVINCE_DOMAIN);
    let client = super::connect(hub, credentials, &name, subjects::province_inbox(who)).await?;
    let period = args.period.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        coordinator::core::Period::month_of(now.as_millis() as u64).to_string()
    });
    let request = ReportRequest {
        period,
        margin_percent: Some(args.margin),
        city: args.city.as_ref().map(|c| c.as_str().to_owned()),
    };
    let verb = if args.city.is_some() { verb::CITY } else { verb::REPORT };
    let answer = client
        .request(subjects::coordinator_command(verb), protocol::to_json(&request).into())
        .await
        .map_err(|e| anyhow::anyhow!("asking the province coordinator on {hub}: {e}"))?;
    let reply: protocol::Reply<coordinator::core::Report, CoordinatorError> = serde_json::from_slice(&answer.payload)?;
    let report = reply.into_result().map_err(|e| anyhow::anyhow!("{e}"))?;
    match args.format {
        Format::Json => super::out::json(&report),
        Format::Svg => super::out::print(|out| writeln!(out, "{}", coordinator::core::ranking_svg(&report))),
        Format::Csv => super::out::print(|out| write_csv(out, &report)),
        Format::Table => super::out::print(|out| write_table(out, &report)),
    }
}

/// Asks the coordinator for its status and prints it.
pub async fn status(hub: &str, credentials: Option<&Path>, json: bool) -> anyhow::Result<()> {
    use protocol::coordinator::{CoordinatorError, Status, verb};
    let who = security::roles::OBSERVER;
    let name = format!("{}-{who}", subjects::PROVINCE_DOMAIN);
    let client = super::connect(hub, credentials, &name, subjects::province_inbox(who)).await?;
    let answer = client
        .request(subjects::coordinator_command(verb::STATUS), "{}".into())
        .await
        .map_err(|e| anyhow::anyhow!("asking the province coordinator on {hub}: {e}"))?;
    let reply: protocol::Reply<Status, CoordinatorError> = serde_json::from_slice(&answer.payload)?;
    let status = reply.into_result().map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        return super::out::json(&status);
    }
    super::out::print(|out| write_status(out, &status))
}

/// The status as an operator reads it.
pub fn write_status(out: &mut dyn std::io::Write, status: &protocol::coordinator::Status) -> std::io::Result<()> {
    writeln!(
        out,
        "province of {}; AFC_PROVINCE absorbed to sequence {}",
        status.cities.join(", "),
        status.absorbed_stream_seq
    )?;
    writeln!(out, "{:<24} {:>12} {:>10} {:>10}  gaps", "producer", "highest seq", "duplicates", "conflicts")?;
    for p in &status.producers {
        let gaps: Vec<String> =
            p.gaps.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
        let gaps = if gaps.is_empty() { "none".to_owned() } else { gaps.join(", ") };
        writeln!(out, "{:<24} {:>12} {:>10} {:>10}  {gaps}", p.producer, p.highest_seq, p.duplicates, p.conflicts)?;
    }
    let pending: Vec<String> = status.notices_pending.iter().map(|(city, n)| format!("{city} {n}")).collect();
    writeln!(
        out,
        "notices: {} taken, {} refused, {} dropped; pending: {}",
        status.notices_taken,
        status.notices_refused,
        status.notices_dropped,
        if pending.is_empty() { "none".to_owned() } else { pending.join(", ") }
    )?;
    writeln!(out, "events re-sent from producers' logs: {}", status.events_resent)?;
    let refused: Vec<String> = status.refused.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
    writeln!(
        out,
        "refused (dead-lettered): {}",
        if refused.is_empty() { "none".to_owned() } else { refused.join(", ") }
    )
}

/// The figures of a row, in the columns' order, amounts in fen.
fn columns(row: &coordinator::core::Row) -> [String; 15] {
    let f = &row.figures;
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        f.reports.to_string(),
        f.reported_loss.get().to_string(),
        f.accounts_stopped.to_string(),
        f.money_stopped.get().to_string(),
        f.money_frozen.get().to_string(),
        opt(row.frozen_share_bp),
        opt(row.time_to_freeze_s_p50),
        opt(row.time_to_freeze_s_p90),
        f.blocks.to_string(),
        f.pool_entries.to_string(),
        f.sms_warnings.to_string(),
        f.calls.to_string(),
        f.visits.to_string(),
        f.persuaded.to_string(),
        f.money_returned.get().to_string(),
    ]
}

const HEADERS: [&str; 15] = [
    "reports",
    "reported_loss_fen",
    "accounts_stopped",
    "money_stopped_fen",
    "money_frozen_fen",
    "frozen_share_bp",
    "ttf_p50_s",
    "ttf_p90_s",
    "blocks",
    "pool_entries",
    "sms",
    "calls",
    "visits",
    "persuaded",
    "money_returned_fen",
];

fn row_name(row: &coordinator::core::Row) -> &str {
    row.city.as_ref().map_or("province", City::as_str)
}

fn write_csv(out: &mut dyn std::io::Write, report: &coordinator::core::Report) -> std::io::Result<()> {
    writeln!(out, "period,city,{}", HEADERS.join(","))?;
    for row in report.rows.iter().chain(std::iter::once(&report.totals)) {
        writeln!(out, "{},{},{}", report.period, row_name(row), columns(row).join(","))?;
    }
    Ok(())
}

/// The report as the joint meeting reads it (`afc province report`; the lab's demo prints it).
pub fn write_table(out: &mut dyn std::io::Write, report: &coordinator::core::Report) -> std::io::Result<()> {
    let yuan = |fen: domain::Fen| format!("{:.2}", fen.get() as f64 / 100.0);
    let share = |bp: Option<u64>| bp.map_or("-".to_owned(), |bp| format!("{}.{:02}%", bp / 100, bp % 100));
    // The coordinator keeps time to freeze in whole seconds, at least 1.
    let secs = |s: Option<u64>| match s {
        None => "-".to_owned(),
        Some(0 | 1) => "≤1 s".to_owned(),
        Some(s) => format!("{s} s"),
    };
    writeln!(out, "province report {} (Beijing time)", report.period)?;
    writeln!(
        out,
        "{:<12} {:>8} {:>16} {:>9} {:>16} {:>16} {:>8} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>16}",
        "city",
        "reports",
        "loss ¥",
        "stopped",
        "stopped ¥",
        "frozen ¥",
        "frozen",
        "ttf p50",
        "ttf p90",
        "blocks",
        "sms",
        "calls",
        "visits",
        "returned ¥"
    )?;
    for row in report.rows.iter().chain(std::iter::once(&report.totals)) {
        let f = &row.figures;
        writeln!(
            out,
            "{:<12} {:>8} {:>16} {:>9} {:>16} {:>16} {:>8} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>16}",
            row_name(row),
            f.reports,
            yuan(f.reported_loss),
            f.accounts_stopped,
            yuan(f.money_stopped),
            yuan(f.money_frozen),
            share(row.frozen_share_bp),
            secs(row.time_to_freeze_s_p50),
            secs(row.time_to_freeze_s_p90),
            f.blocks,
            f.sms_warnings,
            f.calls,
            f.visits,
            yuan(f.money_returned),
        )?;
    }
    if report.flagged.is_empty() {
        writeln!(out, "no city to call in")?;
    }
    for flag in &report.flagged {
        writeln!(
            out,
            "to be called in: {} ({:?} {} against the median {})",
            flag.city, flag.figure, flag.value, flag.median
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use protocol::coordinator::{ProducerStatus, Status};

    #[test]
    fn the_status_names_each_producers_gaps_and_the_notices_each_city_is_to_hear() {
        let status = Status {
            cities: vec!["hangzhou".into(), "wenzhou".into()],
            absorbed_stream_seq: 42,
            producers: vec![ProducerStatus {
                producer: "hangzhou.freezing".into(),
                highest_seq: 40,
                gaps: vec![(3, 3), (10, 12)],
                duplicates: 1,
                conflicts: 0,
            }],
            refused: vec![("unknown_city".into(), 2)],
            notices: Vec::new(),
            notices_pending: vec![("wenzhou".into(), 5)],
            notices_taken: 7,
            notices_refused: 1,
            notices_dropped: 0,
            events_resent: 4,
        };
        let mut out = Vec::new();
        super::write_status(&mut out, &status).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("hangzhou.freezing") && text.contains("3, 10-12"), "{text}");
        assert!(text.contains("7 taken, 1 refused, 0 dropped; pending: wenzhou 5"), "{text}");
        assert!(text.contains("re-sent from producers' logs: 4"), "{text}");
        assert!(text.contains("unknown_city 2"), "{text}");
    }
}
