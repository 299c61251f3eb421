//! What leaves dissuasion: the SMS warnings to the carriers (`afc.carrier.<carrier>.sms`,
//! through `shared/adapters`: a timeout per attempt, bounded retries) and the reports it
//! files with intake for people who have paid.
//!
//! An SMS order is sent once its task's events are committed, with the number read from the
//! store (never from an event). The carrier's answer goes back to the engine as
//! `Input::SmsAnswered`; a carrier that does not answer is not asked again here: the SMS step's
//! deadline moves the person to a call (`core`), and a restart sends every awaited SMS again
//! under its id (the carrier sends each once).

use std::sync::Arc;

use adapters::carrier::Carriers;
use domain::City;
use protocol::carrier::{RequestId, SmsRequest};
use store::Store;
use tokio::sync::Semaphore;

use super::engine::{EngineMsg, EngineTx};
use super::store as tables;
use crate::core::{Input, Order};
use crate::limits::MAX_ORDERS_IN_FLIGHT;

pub(super) struct Orders {
    city: City,
    carriers: Carriers,
    store: Store,
    engine: EngineTx,
    in_flight: Semaphore,
}

impl Orders {
    pub(super) fn new(city: City, carriers: Carriers, store: Store, engine: EngineTx) -> Orders {
        Orders { city, carriers, store, engine, in_flight: Semaphore::new(MAX_ORDERS_IN_FLIGHT) }
    }

    /// Sends `order` in a task of its own; the carrier's answer goes back to the engine.
    pub(super) fn send(self: Arc<Self>, order: Order) {
        tokio::spawn(async move {
            let Order::Sms { request_id, carrier, person } = order;
            let permit = self.in_flight.acquire().await.expect("semaphore never closes");
            let number = self.store.read(move |tx| tables::number(tx, person)).await;
            let to = match number {
                Ok(Some(number)) => number,
                Ok(None) => {
                    // Forgotten with the person's last signal: the deadline calls instead.
                    tracing::warn!(%request_id, %person, "no number kept for an SMS warning");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%request_id, %error, "an SMS warning's number could not be read");
                    return;
                }
            };
            let Ok(request_id) = RequestId::parse(&request_id) else {
                tracing::error!(%request_id, "an SMS order's id cannot be put on the wire");
                return;
            };
            let request = SmsRequest { request_id: request_id.clone(), center: self.city.clone(), to };
            let reply = self.carriers.sms(carrier, &request).await;
            drop(permit);
            let delivered = match reply {
                Ok(reply) => reply.delivered,
                Err(error) => {
                    tracing::info!(%request_id, %carrier, error = %error, "SMS warning not confirmed; its deadline calls instead");
                    return;
                }
            };
            let answer = Input::SmsAnswered { request_id: request_id.as_str().to_owned(), delivered };
            let _ = self.engine.urgent.send(EngineMsg::Answer(answer)).await;
        });
    }
}
