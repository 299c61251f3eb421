//! The command-line client of intake (submit a report, show a case), of blocking (check,
//! list, lift, a case's blocks) and of dissuasion (`afc task …`, through [`ask_within`]).

use std::time::Duration;

use anyhow::Context;
use domain::{CaseId, City, Service};
use protocol::intake::{ReportResponse, ShowRequest, ShowResponse, VERB_REPORT, VERB_SHOW};
use protocol::subjects;

/// How long a command waits for intake's answer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

async fn request(client: &async_nats::Client, city: &City, verb: &str, body: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    ask(client, city, Service::Intake, verb, body).await
}

/// Sends `body` to `service`'s command `verb` and returns the answer's bytes.
pub async fn ask(
    client: &async_nats::Client,
    city: &City,
    service: Service,
    verb: &str,
    body: Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    ask_within(client, city, service, verb, body, COMMAND_TIMEOUT).await
}

/// As [`ask`], waiting at most `timeout` (a command that waits on another service itself).
pub async fn ask_within(
    client: &async_nats::Client,
    city: &City,
    service: Service,
    verb: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> anyhow::Result<Vec<u8>> {
    let subject = subjects::command(city, service, verb);
    let answer = tokio::time::timeout(timeout, client.request(subject.clone(), body.into()))
        .await
        .with_context(|| format!("no answer on {subject} within {timeout:?}"))?
        .with_context(|| format!("request on {subject}"))?;
    Ok(answer.payload.to_vec())
}

/// Submits a report body (JSON bytes) to a city's intake.
pub async fn report(client: &async_nats::Client, city: &City, body: Vec<u8>) -> anyhow::Result<ReportResponse> {
    let answer = request(client, city, VERB_REPORT, body).await?;
    serde_json::from_slice(&answer).context("unreadable answer from intake")
}

/// Fetches a case's timeline.
pub async fn show(client: &async_nats::Client, city: &City, case_id: &CaseId) -> anyhow::Result<ShowResponse> {
    let body = serde_json::to_vec(&ShowRequest { case_id: case_id.clone() })?;
    let answer = request(client, city, VERB_SHOW, body).await?;
    serde_json::from_slice(&answer).context("unreadable answer from intake")
}

/// Asks blocking's command `verb` with `request`, reading its typed answer.
pub async fn blocking<Q: serde::Serialize, A: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    city: &City,
    verb: &str,
    request: &Q,
) -> anyhow::Result<A> {
    let answer = ask(client, city, Service::Blocking, verb, serde_json::to_vec(request)?).await?;
    serde_json::from_slice(&answer).context("unreadable answer from blocking")
}
