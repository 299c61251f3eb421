//! The province coordinator's notices to freezing (`afc.<city>.province.freezing.<kind>`,
//! `events::province`): `cross_city`, cases of two or more cities stopped an account. The
//! notice goes through the engine, which owns the state, and is answered once its event is
//! committed: `{"ok": {"recorded": true|false}}`, or `{"error": {"kind": "refused"|
//! "unavailable", "message": ...}}`.

use bytes::Bytes;
use domain::City;
use events::province::{CrossCityNotice, NoticeError, NoticeTaken, kind};
use runtime::Router;
use tokio::sync::{mpsc, oneshot};

use super::engine::{EngineMsg, NoticeRefusal};
use crate::core::Input;

/// The shape a `cross_city` notice's body is expected in.
const CROSS_CITY_SHAPE: &str = r#"a JSON cross-city notice {"account": "<bank>:<number>", "claims": [{"city": "...", "case_id": "...", "first_stop_at_ms": 0}, ...], "decided_at_ms": 0}"#;

/// The router of the notices freezing hears.
pub(super) fn router(city: City, engine: mpsc::Sender<EngineMsg>) -> Router {
    Router::new().verb(kind::CROSS_CITY, move |body: Bytes| {
        let (city, engine) = (city.clone(), engine.clone());
        async move { cross_city(city, &engine, &body).await }
    })
}

async fn cross_city(city: City, engine: &mpsc::Sender<EngineMsg>, body: &[u8]) -> Result<NoticeTaken, NoticeError> {
    let notice: CrossCityNotice = serde_json::from_slice(body)
        .map_err(|e| NoticeError::Refused { message: format!("expected {CROSS_CITY_SHAPE}: {e}") })?;
    let input = Input::CrossCityNotice { city, account: notice.account, claims: notice.claims };
    let unavailable = || NoticeError::Unavailable { message: "the freezing engine stopped".into() };
    let (reply, answer) = oneshot::channel();
    engine.send(EngineMsg::Notice(input, reply)).await.map_err(|_| unavailable())?;
    match answer.await.map_err(|_| unavailable())? {
        Ok(recorded) => Ok(NoticeTaken { recorded }),
        Err(NoticeRefusal::Rejected(rejection)) => Err(NoticeError::Refused { message: rejection.to_string() }),
        Err(NoticeRefusal::Unavailable(message)) => Err(NoticeError::Unavailable { message }),
    }
}
