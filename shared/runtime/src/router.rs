//! The command router: one queue subscription on `afc.<city>.cmd.<service>.*`, each request
//! routed by its verb (the subject's last token) to the handler registered for it, at most
//! [`COMMANDS_IN_FLIGHT`] at once. A handler returns `Result<T, E>`; the router answers
//! `{"ok": T}` or `{"error": E}`. A verb nobody registered is answered with the
//! `unknown_verb` error of `protocol::command`, listing the verbs the service knows.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use domain::{City, Service};
use futures::StreamExt;
use futures::future::BoxFuture;
use protocol::command::{CommandError, CommandErrorKind, CommandResponse};
use protocol::{Reply, subjects, to_json};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::discovery::VerbStats;
use crate::limits::COMMANDS_IN_FLIGHT;
use crate::{BoxError, Shutdown, stopped};

/// Longest verb echoed back in an `unknown_verb` answer.
const MAX_VERB_ECHO_CHARS: usize = 64;

type Handler = Arc<dyn Fn(Bytes) -> BoxFuture<'static, Vec<u8>> + Send + Sync>;

/// A verb's handler and what it answered so far (the micro protocol's `STATS`).
struct Route {
    handler: Handler,
    stats: Arc<VerbStats>,
}

/// Verbs and their handlers.
#[derive(Default)]
pub struct Router {
    verbs: BTreeMap<&'static str, Route>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("verbs", &self.verbs()).finish()
    }
}

impl Router {
    pub fn new() -> Router {
        Router::default()
    }

    /// Routes `verb` to `handler`, which gets the request body and returns the answer or a
    /// typed error.
    ///
    /// # Panics
    /// When `verb` is routed twice: a bug in the service.
    pub fn verb<F, Fut, T, E>(mut self, verb: &'static str, handler: F) -> Router
    where
        F: Fn(Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Serialize,
        E: Serialize,
    {
        let handler = Arc::new(handler);
        let stats = Arc::new(VerbStats::default());
        let counted = stats.clone();
        let erased: Handler = Arc::new(move |body| {
            let (handler, stats) = (handler.clone(), counted.clone());
            Box::pin(async move {
                let started = Instant::now();
                let result = handler(body).await;
                stats.record(started.elapsed(), result.is_err());
                to_json(&Reply::from(result))
            })
        });
        assert!(self.verbs.insert(verb, Route { handler: erased, stats }).is_none(), "verb {verb:?} is routed twice");
        self
    }

    /// Each verb with what it answered so far.
    pub(crate) fn stats(&self) -> Vec<(&'static str, Arc<VerbStats>)> {
        self.verbs.iter().map(|(verb, route)| (*verb, route.stats.clone())).collect()
    }

    /// The verbs routed, in order.
    pub fn verbs(&self) -> Vec<&'static str> {
        self.verbs.keys().copied().collect()
    }

    /// The answer to a request for `verb` (routed, or `unknown_verb`).
    pub async fn answer(&self, service: Service, verb: &str, body: Bytes) -> Vec<u8> {
        match self.verbs.get(verb) {
            Some(route) => (route.handler)(body).await,
            None => to_json(&CommandResponse::Error(self.unknown(service, verb))),
        }
    }

    fn unknown(&self, service: Service, verb: &str) -> CommandError {
        let verbs = self.verbs();
        let shown: String = verb.chars().take(MAX_VERB_ECHO_CHARS).collect();
        CommandError {
            kind: CommandErrorKind::UnknownVerb,
            message: format!("{service} has no command {shown:?}; its commands are {}", verbs.join(", ")),
            verbs: verbs.into_iter().map(str::to_owned).collect(),
        }
    }

    /// Subscribes (queue group = the service) to `subject`: the service's commands, or the
    /// province's notices to it.
    pub(crate) async fn subscribe(
        self,
        client: &async_nats::Client,
        city: &City,
        service: Service,
        subject: String,
    ) -> Result<Serving, BoxError> {
        let subscription = client.queue_subscribe(subject.clone(), service.as_str().to_owned()).await?;
        tracing::info!(%city, %service, %subject, verbs = ?self.verbs(), "serving commands");
        Ok(Serving { router: Arc::new(self), client: client.clone(), service, subscription })
    }
}

/// A router subscribed to its commands.
pub(crate) struct Serving {
    router: Arc<Router>,
    client: async_nats::Client,
    service: Service,
    subscription: async_nats::Subscriber,
}

impl Serving {
    /// Answers commands until shutdown; an error if the subscription ends before.
    pub(crate) async fn run(mut self, mut shutdown: Shutdown) -> Result<(), BoxError> {
        let slots = Arc::new(Semaphore::new(COMMANDS_IN_FLIGHT));
        loop {
            let message = tokio::select! {
                message = self.subscription.next() => match message {
                    Some(message) => message,
                    None => return Err("the command subscription ended".into()),
                },
                () = stopped(&mut shutdown) => break,
            };
            let Some(reply) = message.reply.clone() else {
                tracing::debug!(subject = %message.subject, "a command without a reply subject; ignored");
                continue;
            };
            let permit = slots.clone().acquire_owned().await.expect("semaphore never closes");
            let (router, client, service) = (self.router.clone(), self.client.clone(), self.service);
            tokio::spawn(async move {
                let verb = subjects::command_verb(message.subject.as_str());
                let body = router.answer(service, verb, message.payload).await;
                if let Err(error) = client.publish(reply, body.into()).await {
                    tracing::warn!(%error, "could not send a command reply");
                }
                drop(permit);
            });
        }
        // Commands in flight finish and answer before the service's stores close.
        let in_flight = u32::try_from(COMMANDS_IN_FLIGHT).expect("a small bound");
        let _ = slots.acquire_many(in_flight).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_routed_verb_answers_its_result_and_an_unknown_one_lists_the_verbs() {
        let router = Router::new()
            .verb("echo", |body: Bytes| async move { Ok::<_, String>(String::from_utf8_lossy(&body).into_owned()) })
            .verb("fail", |_| async { Err::<(), _>("no".to_owned()) });
        let answer = |bytes: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
        assert_eq!(
            answer(router.answer(Service::Intake, "echo", Bytes::from("hi")).await),
            serde_json::json!({"ok": "hi"})
        );
        assert_eq!(
            answer(router.answer(Service::Intake, "fail", Bytes::new()).await),
            serde_json::json!({"error": "no"})
        );
        let unknown = router.answer(Service::Intake, "shwo", Bytes::new()).await;
        let CommandResponse::Error(error) = serde_json::from_slice(&unknown).unwrap() else { panic!("an error") };
        assert_eq!(error.kind, CommandErrorKind::UnknownVerb);
        assert_eq!(error.verbs, ["echo", "fail"]);
        assert!(error.message.contains("\"shwo\"") && error.message.contains("echo, fail"), "{}", error.message);
    }

    #[test]
    #[should_panic(expected = "routed twice")]
    fn a_verb_routed_twice_is_a_bug() {
        let _ = Router::new().verb("a", |_| async { Ok::<(), ()>(()) }).verb("a", |_| async { Ok::<(), ()>(()) });
    }
}
