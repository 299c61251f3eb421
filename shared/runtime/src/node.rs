//! A node: the services of one city in one process, each with its own stores and its own
//! NATS connection, sharing nothing but NATS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use domain::{City, Service, SharedClock};
use futures::future::BoxFuture;
use store::{Producer, Store, StoreError, WriterPriority};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::context::{Context, ServiceError};
use crate::limits::NODE_STOP_TIMEOUT;
use crate::vitals::NodeVitals;
use crate::{BoxError, Shutdown, error_chain, stopped};

/// A store a service keeps: the file `<name>.redb` in the node's data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSpec {
    /// The file's stem, unique in the node (it starts with the service's name).
    pub name: &'static str,
    /// Background for a writer nobody on the time-to-freeze path waits for.
    pub priority: WriterPriority,
}

impl StoreSpec {
    pub fn file_name(&self) -> String {
        format!("{}.redb", self.name)
    }
}

/// A service's opened stores, by their spec.
#[derive(Debug, Clone, Default)]
pub struct Stores(BTreeMap<&'static str, Store>);

impl Stores {
    /// The store opened for `spec`.
    ///
    /// # Panics
    /// When the service asks for a store it did not declare: a bug in the service.
    pub fn get(&self, spec: &StoreSpec) -> Store {
        self.0.get(spec.name).cloned().unwrap_or_else(|| panic!("store {} was not declared", spec.name))
    }

    /// Opens every store of `specs` in `dir` for `producer`.
    pub fn open(
        dir: &std::path::Path,
        specs: &[StoreSpec],
        producer: &Producer,
        clock: &SharedClock,
    ) -> Result<Stores, NodeError> {
        std::fs::create_dir_all(dir).map_err(|source| NodeError::DataDir { path: dir.to_owned(), source })?;
        let mut stores = BTreeMap::new();
        for spec in specs {
            let path = dir.join(spec.file_name());
            let store = Store::open_with(&path, producer.clone(), clock.clone(), spec.priority)
                .map_err(|source| NodeError::Store { path, source })?;
            stores.insert(spec.name, store);
        }
        Ok(Stores(stores))
    }
}

/// A service a node can host: its name, the stores it keeps, and how it runs.
pub trait Hosted: Send {
    fn service(&self) -> Service;

    /// The stores the node opens for it.
    fn stores(&self) -> &'static [StoreSpec];

    /// Runs the service until shutdown or its first failure (see [`Context::run`]).
    fn run(self: Box<Self>, context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>>;
}

/// Where and how a node runs.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub city: City,
    pub nats_url: String,
    /// The directory of every service's store files.
    pub data_dir: PathBuf,
    /// The business clock.
    pub clock: SharedClock,
    /// Where the identities' keys and the CA are (a deployment's secrets directory,
    /// `security::CredentialFiles::of_deployment`): each service connects as
    /// `<city>-<service>` over TLS, with its own inbox. `None`: anonymous, without TLS (a
    /// server on loopback in a test, the demo).
    pub credentials: Option<security::CredentialFiles>,
    /// Where to serve `/healthz` and `/readyz` (`crate::http`); nowhere when `None`.
    pub http: Option<SocketAddr>,
}

/// Why a node stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("creating the data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("opening the store {path}")]
    Store {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("connecting {service} to {url}")]
    Connect {
        service: Service,
        url: String,
        #[source]
        source: BoxError,
    },
    #[error("the identity of {service}: {source}")]
    Identity {
        service: Service,
        #[source]
        source: security::KeyError,
    },
    #[error("{service} panicked: {message}")]
    Panicked { service: Service, message: String },
    #[error("listening for HTTP on {addr}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("two services named {0}")]
    Duplicate(Service),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A task aborted when the node returns, however it returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The credentials `service` of `city` connects with.
fn credentials(
    files: &security::CredentialFiles,
    city: &City,
    service: Service,
) -> Result<security::Credentials, NodeError> {
    let inbox = protocol::subjects::city_inbox(city, service.as_str());
    files.credentials(&format!("{city}-{service}"), inbox).map_err(|source| NodeError::Identity { service, source })
}

/// Runs `services` for `options.city` until `shutdown` or the first failure. The first
/// service that fails stops the others (bounded by [`NODE_STOP_TIMEOUT`]) and its error is
/// returned.
pub async fn run_node(
    options: NodeOptions,
    services: Vec<Box<dyn Hosted>>,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let (stop, node_shutdown) = watch::channel(false);
    let names: Vec<Service> = services.iter().map(|hosted| hosted.service()).collect();
    let vitals = NodeVitals::new(options.city.clone(), &names);
    let http = match options.http {
        None => None,
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|source| NodeError::Http { addr, source })?;
            let addr = listener.local_addr().unwrap_or(addr);
            tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
            let serving = crate::http::serve(listener, vitals.clone(), node_shutdown.clone());
            Some(tokio::spawn(async move {
                if let Err(error) = serving.await {
                    tracing::error!(%error, "the HTTP endpoints stopped");
                }
            }))
        }
    };
    let _http = http.map(AbortOnDrop);
    let mut seen = std::collections::BTreeSet::new();
    let mut started = Vec::new();
    for hosted in services {
        let service = hosted.service();
        if !seen.insert(service) {
            return Err(NodeError::Duplicate(service));
        }
        let producer = Producer { city: options.city.clone(), service };
        let stores = Stores::open(&options.data_dir, hosted.stores(), &producer, &options.clock)?;
        let connect = match &options.credentials {
            None => async_nats::ConnectOptions::new(),
            Some(files) => credentials(files, &options.city, service)?.options(),
        };
        let client = connect
            .name(format!("afc-{}-{service}", options.city))
            .retry_on_initial_connect()
            .connect(&options.nats_url)
            .await
            .map_err(|e| NodeError::Connect { service, url: options.nats_url.clone(), source: e.into() })?;
        let mut context =
            Context::new(options.city.clone(), service, client, options.clock.clone(), node_shutdown.clone());
        for spec in hosted.stores() {
            context.watch_store(spec.name, &stores.get(spec));
        }
        vitals.started(context.vitals());
        started.push((hosted, context, stores));
    }
    let mut running = JoinSet::new();
    let mut names = std::collections::HashMap::new();
    for (hosted, context, stores) in started {
        let service = hosted.service();
        names.insert(running.spawn(hosted.run(context, stores)).id(), service);
    }
    let mut shutdown = shutdown;
    let first = loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break None,
            joined = running.join_next_with_id() => match joined {
                None => break None,
                Some(Ok((_, Ok(())))) => {}
                Some(Ok((_, Err(error)))) => break Some(NodeError::Service(error)),
                Some(Err(error)) if error.is_panic() => {
                    let service = names[&error.id()];
                    break Some(NodeError::Panicked { service, message: crate::context::panic_message(error.into_panic()) });
                }
                Some(Err(_)) => {}
            },
        }
    };
    let _ = stop.send(true);
    let rest = tokio::time::timeout(NODE_STOP_TIMEOUT, async {
        while let Some(joined) = running.join_next().await {
            if let Ok(Err(error)) = joined {
                tracing::error!(error = error_chain(&error), "failed while the node stopped");
            }
        }
    })
    .await;
    if rest.is_err() {
        tracing::warn!(timeout = ?NODE_STOP_TIMEOUT, "services did not stop in time; aborting them");
        running.abort_all();
    }
    first.map_or(Ok(()), Err)
}
