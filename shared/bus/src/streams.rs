//! Stream provisioning: each city's events go to its own stream in its own JetStream domain;
//! the province stream on the hub sources every city stream across domains.

use async_nats::jetstream::{self, stream};
use domain::City;
use protocol::subjects;

use crate::BusError;
use crate::limits::{
    CITY_STREAM_DUPLICATE_WINDOW, CITY_STREAM_MAX_AGE, SIGNAL_STREAM_DUPLICATE_WINDOW, SIGNAL_STREAM_MAX_AGE,
};

/// The city's stream as a service starting in the city finds it: used as it is when it exists
/// (a provisioner made it and owns its configuration: in a secured deployment a service's
/// identity may read the stream's information and may not change it), created only when it
/// does not (a deployment without a provisioner: the embedded demo, tests).
pub async fn city_stream(js: &jetstream::Context, city: &City) -> Result<(), BusError> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::GetStreamErrorKind;
    let name = city.stream_name();
    match js.get_stream(&name).await {
        Ok(_) => Ok(()),
        Err(error) if matches!(error.kind(), GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
            ensure_city_stream(js, city).await.map(|_| ())
        }
        Err(error) => Err(BusError::Stream { stream: name, source: error.into() }),
    }
}

/// Creates or updates the city's stream `AFC_<CITY>` holding its events and dead letters (a
/// provisioner's call).
pub async fn ensure_city_stream(js: &jetstream::Context, city: &City) -> Result<stream::Info, BusError> {
    let name = city.stream_name();
    let config = stream::Config {
        name: name.clone(),
        subjects: vec![subjects::city_events(city), subjects::city_dead_letters(city)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: CITY_STREAM_MAX_AGE,
        duplicate_window: CITY_STREAM_DUPLICATE_WINDOW,
        allow_direct: true,
        ..Default::default()
    };
    js.create_or_update_stream(config).await.map_err(|e| BusError::Stream { stream: name, source: e.into() })
}

/// The city's signal stream as dissuasion starting in the city finds it: used as it is when it
/// exists (a provisioner's), created only when it does not (the embedded demo, tests).
pub async fn signal_stream(js: &jetstream::Context, city: &City) -> Result<(), BusError> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::GetStreamErrorKind;
    let name = city.signal_stream_name();
    match js.get_stream(&name).await {
        Ok(_) => Ok(()),
        Err(error) if matches!(error.kind(), GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
            ensure_signal_stream(js, city).await.map(|_| ())
        }
        Err(error) => Err(BusError::Stream { stream: name, source: error.into() }),
    }
}

/// Creates or updates the city's signal stream `AFC_<CITY>_SIG` on `afc.<city>.sig.>` (a
/// provisioner's call): days of retention, no province source.
pub async fn ensure_signal_stream(js: &jetstream::Context, city: &City) -> Result<stream::Info, BusError> {
    let name = city.signal_stream_name();
    let config = stream::Config {
        name: name.clone(),
        subjects: vec![subjects::city_signals(city)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: SIGNAL_STREAM_MAX_AGE,
        duplicate_window: SIGNAL_STREAM_DUPLICATE_WINDOW,
        ..Default::default()
    };
    js.create_or_update_stream(config).await.map_err(|e| BusError::Stream { stream: name, source: e.into() })
}

/// Creates or updates the province stream on the hub (see
/// [`ensure_province_stream_replicated`]), keeping the replicas it has: one for a new stream.
pub async fn ensure_province_stream(hub: &jetstream::Context, cities: &[City]) -> Result<stream::Info, BusError> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::GetStreamErrorKind;
    let replicas = match hub.get_stream(subjects::PROVINCE_STREAM).await {
        Ok(stream) => stream.cached_info().config.num_replicas.max(1),
        Err(error) if matches!(error.kind(), GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
            1
        }
        Err(error) => {
            return Err(BusError::Stream { stream: subjects::PROVINCE_STREAM.to_owned(), source: error.into() });
        }
    };
    ensure_province_stream_replicated(hub, cities, replicas).await
}

/// Creates or updates the province stream on the hub with `replicas` copies (3 on a 3-node
/// hub: it goes on sourcing while one node is down; 1 on a hub of one server), sourcing the
/// events of every city through the city's JetStream domain (`$JS.<city>.API`).
/// Deduplication happens at each city stream; the province keeps no duplicate window of its
/// own (a sourcing stream with one stalls when ids repeat, nats-server#4459).
pub async fn ensure_province_stream_replicated(
    hub: &jetstream::Context,
    cities: &[City],
    replicas: usize,
) -> Result<stream::Info, BusError> {
    let sources = cities
        .iter()
        .map(|city| stream::Source {
            name: city.stream_name(),
            filter_subject: Some(subjects::city_events(city)),
            // Each city's deliveries on a prefix of its own: across accounts the province
            // imports exactly that, so a city can only ever feed its own source.
            external: Some(stream::External {
                api_prefix: subjects::domain_api(city.as_str()),
                delivery_prefix: Some(subjects::source_deliver_prefix(city)),
            }),
            ..Default::default()
        })
        .collect();
    let config = stream::Config {
        name: subjects::PROVINCE_STREAM.to_owned(),
        // Beside the sources: the events the coordinator had a producer re-send from its log.
        subjects: vec![subjects::province_resent_all()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: CITY_STREAM_MAX_AGE,
        sources: Some(sources),
        num_replicas: replicas.max(1),
        ..Default::default()
    };
    hub.create_or_update_stream(config)
        .await
        .map_err(|e| BusError::Stream { stream: subjects::PROVINCE_STREAM.to_owned(), source: e.into() })
}
