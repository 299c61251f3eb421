//! What one identity may do on its server: the subjects it may publish and subscribe to,
//! whether it answers requests, and its inbox. The server enforces it (nats-server
//! `permissions`); nothing here trusts the client.
//!
//! Each service states its own grant next to its code (`intake::grant`, `freezing::grant`):
//! a grant lists what the service does, and the builder turns each thing into the subjects
//! nats-server checks (a JetStream consumer is six of them).

use std::collections::BTreeSet;

use protocol::subjects::{self, js_api};

/// What an identity may do. Built with the methods below; rendered into a server's config by
/// [`Grant::render`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    publish: BTreeSet<String>,
    subscribe: BTreeSet<String>,
    /// Answers requests it receives: one reply each, within [`RESPONSE_EXPIRES`].
    answers: bool,
    /// Publishes nothing but its answers (a bank gateway): `publish` is ignored.
    answers_only: bool,
}

/// How long after a request its answer may still be published.
pub const RESPONSE_EXPIRES: &str = "1m";

impl Grant {
    pub fn new() -> Grant {
        Grant::default()
    }

    /// May publish to `subject` (a pattern: `*` one token, `>` the rest).
    pub fn publish(mut self, subject: impl Into<String>) -> Grant {
        self.publish.insert(subject.into());
        self
    }

    /// May subscribe to `subject`.
    pub fn subscribe(mut self, subject: impl Into<String>) -> Grant {
        self.subscribe.insert(subject.into());
        self
    }

    /// Replies to its requests arrive under `prefix` (its client sets it as its inbox
    /// prefix); it may read no other inbox.
    pub fn inbox(self, prefix: &str) -> Grant {
        self.subscribe(format!("{prefix}.>"))
    }

    /// Serves requests on `subject` and answers each once.
    pub fn answers(mut self, subject: impl Into<String>) -> Grant {
        self.answers = true;
        self.subscribe(subject)
    }

    /// Answers the NATS micro protocol's discovery requests (`$SRV.PING`, `…INFO`,
    /// `…STATS`): every service does, so an operator's tooling lists it.
    pub fn discoverable(self) -> Grant {
        self.answers(subjects::MICRO_DISCOVERY)
    }

    /// Asks the services for their discovery answers (an operator's or monitor's identity).
    pub fn discovers(self) -> Grant {
        self.publish(subjects::MICRO_DISCOVERY)
    }

    /// Serves requests on `subject`, answers each once, and publishes nothing else.
    pub fn answers_only(mut self, subject: impl Into<String>) -> Grant {
        self.answers_only = true;
        self.answers(subject)
    }

    /// Reads the stream `stream` (its information) and appends to it by publishing its
    /// subjects (the caller grants those with [`Grant::publish`]).
    pub fn produces_into(self, stream: &str) -> Grant {
        self.publish(js_api::stream_info(stream))
    }

    /// Consumes `stream` through the durable consumer `durable` filtered on `filter`: creates
    /// (or finds) exactly that consumer, pulls and acknowledges its messages, reads a message
    /// by sequence, and hears when one exhausts its deliveries.
    pub fn consumes(self, stream: &str, durable: &str, filter: &str) -> Grant {
        self.publish(js_api::stream_info(stream))
            .publish(js_api::consumer_create(stream, durable, filter))
            .publish(js_api::consumer_info(stream, durable))
            .publish(js_api::consumer_next(stream, durable))
            .publish(js_api::stream_msg_get(stream))
            .publish(js_api::ack(stream, durable))
            .subscribe(subjects::max_deliveries_advisory(stream, durable))
    }

    /// Reads `stream`: its information, a message by sequence, and its messages in order
    /// through ephemeral consumers of its own (which cannot reach a durable's settings, but
    /// may pull from any consumer of the stream: an identity for engineers and auditors, not
    /// for a service).
    pub fn reads(self, stream: &str) -> Grant {
        self.publish(js_api::stream_info(stream))
            .publish(js_api::stream_msg_get(stream))
            .publish(js_api::ephemeral_consumer_create(stream))
            .publish(js_api::any_consumer_info(stream))
            .publish(js_api::any_consumer_next(stream))
    }

    /// Creates and updates `stream` and manages its consumers (a provisioner).
    pub fn provisions(self, stream: &str) -> Grant {
        self.publish(js_api::INFO)
            .publish(js_api::stream_create(stream))
            .publish(js_api::stream_update(stream))
            .publish(js_api::stream_info(stream))
            .publish(js_api::consumers(stream))
    }

    /// Whether the grant lets its identity publish to the literal subject `subject`.
    pub fn may_publish(&self, subject: &str) -> bool {
        !self.answers_only && self.publish.iter().any(|pattern| matches(pattern, subject))
    }

    /// Whether the grant lets its identity subscribe to the literal subject `subject`.
    pub fn may_subscribe(&self, subject: &str) -> bool {
        self.subscribe.iter().any(|pattern| matches(pattern, subject))
    }

    /// The `permissions` block of a nats-server user, indented by `indent`.
    pub fn render(&self, indent: &str) -> String {
        let list = |subjects: &BTreeSet<String>| {
            let items: Vec<String> = subjects.iter().map(|s| format!("{indent}    {}", quoted(s))).collect();
            items.join("\n")
        };
        let mut out = format!("{indent}permissions: {{\n");
        if self.answers_only || self.publish.is_empty() {
            out.push_str(&format!("{indent}  publish: {{ deny: [\">\"] }}\n"));
        } else {
            out.push_str(&format!("{indent}  publish: {{ allow: [\n{}\n{indent}  ] }}\n", list(&self.publish)));
        }
        if self.subscribe.is_empty() {
            out.push_str(&format!("{indent}  subscribe: {{ deny: [\">\"] }}\n"));
        } else {
            out.push_str(&format!("{indent}  subscribe: {{ allow: [\n{}\n{indent}  ] }}\n", list(&self.subscribe)));
        }
        if self.answers {
            out.push_str(&format!("{indent}  allow_responses: {{ max: 1, expires: \"{RESPONSE_EXPIRES}\" }}\n"));
        }
        out.push_str(&format!("{indent}}}\n"));
        out
    }
}

/// A subject in a nats-server config: quoted, since `$` and `>` have meanings there.
pub(crate) fn quoted(subject: &str) -> String {
    format!("\"{}\"", subject.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether the NATS subject pattern `pattern` matches the literal `subject`.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut literal = subject.split('.');
    for token in pattern.split('.') {
        match (token, literal.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (expected, Some(got)) if expected == got => {}
            _ => return false,
        }
    }
    literal.next().is_none()
}

#[cfg(test)]
mod tests {
    use domain::City;
    use protocol::subjects::bank_verb;

    use super::*;

    #[test]
    fn a_pattern_matches_as_nats_server_matches() {
        assert!(matches("x.*.evt.>", "x.hangzhou.evt.intake.case_reported"));
        assert!(!matches("x.*.evt.>", "x.hangzhou.evt"), "`>` needs one token at least");
        assert!(matches("x.bank.*.freeze", "x.bank.icbc.freeze"));
        assert!(!matches("x.bank.*.freeze", "x.bank.icbc.freeze.now"));
        assert!(!matches("x.bank.icbc.*", "x.bank.boc.freeze"));
        assert!(matches("a.b", "a.b") && !matches("a.b", "a.b.c") && !matches("a.b.c", "a.b"));
    }

    #[test]
    fn a_consumer_is_granted_its_own_durable_and_filter_only() {
        let city = City::parse("hangzhou").unwrap();
        let stream = city.stream_name();
        let filter = subjects::service_events(&city, domain::Service::Intake);
        let grant = Grant::new().consumes(&stream, "freezing", &filter);
        assert!(grant.may_publish(&js_api::consumer_create(&stream, "freezing", &filter)));
        assert!(!grant.may_publish(&js_api::consumer_create(&stream, "freezing", &subjects::city_events(&city))));
        assert!(!grant.may_publish(&js_api::consumer_next(&stream, "intake-timeline")));
        assert!(!grant.may_publish(&js_api::stream_update(&stream)));
        assert!(grant.may_publish("$JS.ACK.AFC_HANGZHOU.freezing.1.4.2.1796014648007413358.0"));
    }

    #[test]
    fn a_gateway_that_only_answers_publishes_nothing_else_and_renders_so() {
        let bank = domain::BankId::parse("icbc").unwrap();
        let grant = Grant::new().answers_only(subjects::bank_verbs(&bank));
        assert!(grant.may_subscribe(&subjects::bank(&bank, bank_verb::FREEZE)));
        assert!(!grant.may_publish(&subjects::bank(&bank, bank_verb::FREEZE)));
        let text = grant.render("");
        assert!(text.contains("publish: { deny: [\">\"] }"), "{text}");
        assert!(text.contains("allow_responses: { max: 1, expires: \"1m\" }"), "{text}");
    }
}
