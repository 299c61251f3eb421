//! A single server's life cycle: start, publish, graceful restart, stop / start again, hard
//! kill, and cleanup on drop. JetStream data survives every restart (same store dir).

use async_nats::jetstream::{self, stream};
use testkit::NatsServer;

const STREAM: &str = "LIFECYCLE";

async fn stream_messages(server: &NatsServer) -> u64 {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = jetstream::new(client);
    let mut stream = js.get_stream(STREAM).await.expect("stream exists");
    stream.info().await.expect("stream info").state.messages
}

async fn publish_one(server: &NatsServer) {
    let client = async_nats::connect(server.url()).await.expect("connect");
    jetstream::new(client).publish("lifecycle.evt", "x".into()).await.expect("publish sent").await.expect("acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_restarts_with_its_store_and_cleans_up() {
    let mut server = NatsServer::single().await.expect("server started");
    assert!(server.url().starts_with("nats://127.0.0.1:"));
    assert!(server.leaf_port().is_none());
    assert!(server.log_path().is_file());
    let dir = server.dir().to_path_buf();

    let client = async_nats::connect(server.url()).await.expect("connect");
    jetstream::new(client)
        .create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["lifecycle.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("stream created");
    publish_one(&server).await;

    server.restart().await.expect("graceful restart");
    assert_eq!(stream_messages(&server).await, 1);

    server.stop().await.expect("stopped");
    assert!(!server.is_running());
    assert!(async_nats::connect(server.url()).await.is_err(), "nobody listens when stopped");
    server.start_again().await.expect("started again");
    publish_one(&server).await;
    assert_eq!(stream_messages(&server).await, 2);

    server.kill_hard();
    server.start_again().await.expect("started after a hard kill");
    assert_eq!(stream_messages(&server).await, 2);

    drop(server);
    assert!(!dir.exists(), "temp dir removed on drop");
}
