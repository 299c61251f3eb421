//! The province's notices to blocking (`events::province`, on
//! `afc.<city>.province.blocking.<kind>`): `province_block`, an identifier two or more cities
//! blocked, which this city blocks too. Through the engine's urgent queue (a block, as a
//! report's), answered once its event is committed: `recorded` when it blocked it, not when it
//! was blocked here already (a notice heard again, or a city's own block).

use bytes::Bytes;
use events::province::{NoticeError, NoticeTaken, ProvinceBlockNotice, kind};
use runtime::Router;
use tokio::sync::{mpsc, oneshot};

use super::engine::{EngineMsg, StaffRefusal};
use crate::core::Input;

const NOTICE_SHAPE: &str = r#"{"identifier": "<kind>:<value>", "cities": ["<city>", ...], "case_id": "<city>-<16 hex>", "fraud_type": "...", "first_reported_at_ms": <ms>, "decided_at_ms": <ms>}"#;

fn unavailable(message: impl Into<String>) -> NoticeError {
    NoticeError::Unavailable { message: message.into() }
}

async fn province_block(engine: &mpsc::Sender<EngineMsg>, body: &[u8]) -> Result<NoticeTaken, NoticeError> {
    let notice: ProvinceBlockNotice = serde_json::from_slice(body)
        .map_err(|e| NoticeError::Refused { message: format!("expected {NOTICE_SHAPE}: {e}") })?;
    let (reply, answer) = oneshot::channel();
    let stopped = || unavailable("the blocking engine stopped");
    engine.send(EngineMsg::Staff(Input::ProvinceBlock(notice), reply)).await.map_err(|_| stopped())?;
    match answer.await.map_err(|_| stopped())? {
        Ok(events) => Ok(NoticeTaken { recorded: !events.is_empty() }),
        Err(StaffRefusal::Rejected(rejection)) => Err(NoticeError::Refused { message: rejection.to_string() }),
        Err(StaffRefusal::Unavailable(message)) => Err(unavailable(message)),
    }
}

/// Blocking's notices from the province.
pub(super) fn router(engine: mpsc::Sender<EngineMsg>) -> Router {
    Router::new().verb(kind::PROVINCE_BLOCK, move |body: Bytes| {
        let engine = engine.clone();
        async move {
            let result = province_block(&engine, &body).await;
            // The outcome only: the message of a refusal may quote the notice.
            match &result {
                Ok(taken) => tracing::info!(recorded = taken.recorded, "province block taken"),
                Err(NoticeError::Refused { .. }) => tracing::warn!("province block refused"),
                Err(NoticeError::Unavailable { .. }) => tracing::warn!("province block not taken now"),
            }
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
    }
}
