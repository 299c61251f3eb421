//! The province's notices to blocking (`events::province`, on
//! `afc.<city>.province.blocking.<kind>`): `province_block`, an identifier two or more cities
//! blocked, which this city blocks too; `province_unblock`, the province withdrawing that
//! block, which this city lifts if the block it holds is the province's. Through the engine's
//! urgent queue (a block, as a report's; a lift, as staff's), answered once its event is
//! committed: `recorded` when it blocked or lifted it, not when there was nothing to do (a
//! notice heard again, a city's own block).

use bytes::Bytes;
use events::province::{NoticeError, NoticeTaken, ProvinceBlockNotice, ProvinceUnblockNotice, kind};
use runtime::Router;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use super::engine::{EngineMsg, StaffRefusal};
use crate::core::Input;

const NOTICE_SHAPE: &str = r#"{"identifier": "<kind>:<value>", "cities": ["<city>", ...], "case_id": "<city>-<16 hex>", "fraud_type": "...", "first_reported_at_ms": <ms>, "decided_at_ms": <ms>}"#;

const UNBLOCK_SHAPE: &str = r#"{"identifier": "<kind>:<value>", "lifted_in": "<city>", "decided_at_ms": <ms>}"#;

fn unavailable(message: impl Into<String>) -> NoticeError {
    NoticeError::Unavailable { message: message.into() }
}

/// A notice of the shape `shape`, taken by the engine as `input`.
async fn take<N: DeserializeOwned>(
    engine: &mpsc::Sender<EngineMsg>,
    body: &[u8],
    shape: &str,
    input: fn(N) -> Input,
) -> Result<NoticeTaken, NoticeError> {
    let notice: N =
        serde_json::from_slice(body).map_err(|e| NoticeError::Refused { message: format!("expected {shape}: {e}") })?;
    let (reply, answer) = oneshot::channel();
    let stopped = || unavailable("the blocking engine stopped");
    engine.send(EngineMsg::Staff(input(notice), reply)).await.map_err(|_| stopped())?;
    match answer.await.map_err(|_| stopped())? {
        Ok(events) => Ok(NoticeTaken { recorded: !events.is_empty() }),
        Err(StaffRefusal::Rejected(rejection)) => Err(NoticeError::Refused { message: rejection.to_string() }),
        Err(StaffRefusal::Unavailable(message)) => Err(unavailable(message)),
    }
}

async fn province_block(engine: &mpsc::Sender<EngineMsg>, body: &[u8]) -> Result<NoticeTaken, NoticeError> {
    take::<ProvinceBlockNotice>(engine, body, NOTICE_SHAPE, Input::ProvinceBlock).await
}

async fn province_unblock(engine: &mpsc::Sender<EngineMsg>, body: &[u8]) -> Result<NoticeTaken, NoticeError> {
    take::<ProvinceUnblockNotice>(engine, body, UNBLOCK_SHAPE, Input::ProvinceUnblock).await
}

/// The outcome only: the message of a refusal may quote the notice.
fn log(what: &'static str, result: &Result<NoticeTaken, NoticeError>) {
    match result {
        Ok(taken) => tracing::info!(recorded = taken.recorded, "{what} taken"),
        Err(NoticeError::Refused { .. }) => tracing::warn!("{what} refused"),
        Err(NoticeError::Unavailable { .. }) => tracing::warn!("{what} not taken now"),
    }
}

/// Blocking's notices from the province.
pub(super) fn router(engine: mpsc::Sender<EngineMsg>) -> Router {
    let unblocks = engine.clone();
    Router::new()
        .verb(kind::PROVINCE_BLOCK, move |body: Bytes| {
            let engine = engine.clone();
            async move {
                let result = province_block(&engine, &body).await;
                log("province block", &result);
                result
            }
        })
        .verb(kind::PROVINCE_UNBLOCK, move |body: Bytes| {
            let engine = unblocks.clone();
            async move {
                let result = province_unblock(&engine, &body).await;
                log("province unblock", &result);
                result
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that stopped takes no notice: the coordinator asks again later.
    #[tokio::test]
    async fn a_notice_to_a_stopped_engine_is_unavailable() {
        let (engine, stopped) = mpsc::channel(1);
        drop(stopped);
        let body = serde_json::json!({
            "identifier": "phone:+8617000000000",
            "cities": ["jiaxing", "hangzhou"],
            "case_id": domain::CaseId::derive(&domain::City::parse("jiaxing").unwrap(), 7),
            "fraud_type": "pig_butchering",
            "first_reported_at_ms": 1,
            "decided_at_ms": 2,
        });
        let answer = province_block(&engine, body.to_string().as_bytes()).await;
        assert!(matches!(answer, Err(NoticeError::Unavailable { .. })), "{answer:?}");
        let body =
            serde_json::json!({"identifier": "phone:+8617000000000", "lifted_in": "jiaxing", "decided_at_ms": 3});
        let answer = province_unblock(&engine, body.to_string().as_bytes()).await;
        assert!(matches!(answer, Err(NoticeError::Unavailable { .. })), "{answer:?}");
    }
}
