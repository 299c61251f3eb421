//! The carriers of `afc-lab bench blocking-orders`: in the lab's process, on connections of
//! their own as each carrier's gateway identity at the city (`<city>-carrier-<carrier>`, as
//! the simulated carriers connect), subscribed to `afc.carrier.<carrier>.*`. Each request is
//! stamped on arrival with the lab's monotonic clock — the clock the submitter takes its due
//! times from, so no skew — and answered at once, `ok`, as applied (the simulated carriers'
//! answer, without their world: the deployment's world has no carriers, so only these answer).
//! A request that does not parse is recorded as such and answered `invalid_request`.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use domain::{Carrier, City};
use futures::StreamExt;
use protocol::Reply;
use protocol::adapter::{AdapterError, AdapterErrorKind};
use protocol::carrier::{BlockReply, BlockRequest};
use protocol::subjects::{self, carrier_verb};
use security::secrets::city_identity;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::deployment::Embedded;
use crate::secured;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub carrier: Carrier,
    /// The verb (`block`, `lift`, …), from the subject.
    pub verb: String,
    /// The request's id and target (`<kind>:<value>`), or `None` when the body did not parse.
    pub request: Option<(String, String)>,
}

/// The running carriers. Dropping them stops them.
pub struct LabCarriers {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for LabCarriers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl LabCarriers {
    /// Connects the three carriers to `city`'s server and subscribes; the subscriptions are in
    /// place when this returns.
    pub async fn start(deployment: &Embedded, city: &City) -> anyhow::Result<LabCarriers> {
        let url = deployment.province.city(city)?.server.url();
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let mut tasks = Vec::new();
        for carrier in Carrier::ALL {
            let client = match deployment.secrets_dir() {
                Some(dir) => {
                    let who = format!("carrier-{carrier}");
                    secured::connect(dir, &city_identity(city, &who), subjects::city_inbox(city, &who), &url).await?
                }
                None => async_nats::connect(&url).await.with_context(|| format!("connecting to {url}"))?,
            };
            let mut subscription = client.subscribe(subjects::carrier_verbs(carrier)).await?;
            client.flush().await?;
            let arrivals = arrivals.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(message) = subscription.next().await {
                    let at = Instant::now();
                    let verb = subjects::command_verb(message.subject.as_str()).to_owned();
                    let parsed = serde_json::from_slice::<BlockRequest>(&message.payload);
                    let request =
                        parsed.as_ref().ok().map(|r| (r.request_id.as_str().to_owned(), r.identifier.to_string()));
                    arrivals.lock().expect("arrivals lock").push(Arrival { at, carrier, verb: verb.clone(), request });
                    let Some(reply_to) = message.reply else { continue };
                    let body = match parsed {
                        Ok(request) if verb == carrier_verb::BLOCK || verb == carrier_verb::LIFT => {
                            protocol::to_json(&Reply::<BlockReply, AdapterError>::Ok(BlockReply {
                                request_id: request.request_id,
                                identifier: request.identifier,
                                applied_at_ms: domain::system_clock().now_ms(),
                                blocked: verb == carrier_verb::BLOCK,
                            }))
                        }
                        _ => protocol::to_json(&Reply::<(), AdapterError>::Error(AdapterError {
                            kind: AdapterErrorKind::InvalidRequest,
                            message: format!("the lab's carriers answer block and lift only, not {verb}"),
                        })),
                    };
                    // A lost answer shows as an order blocking sends again: counted as a repeat.
                    let _ = client.publish(reply_to, body.into()).await;
                }
            }));
        }
        Ok(LabCarriers { arrivals, tasks })
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.arrivals.lock().expect("arrivals lock").len()
    }

    /// Every request received, in order of arrival at each carrier.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().expect("arrivals lock").clone()
    }
}
