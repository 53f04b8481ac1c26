//! The connection's behaviour when libvirtd misbehaves or goes away, against a scripted
//! server on an in-memory pipe: replies matched by serial out of order, PINGs answered,
//! keepalive giving up on a silent server, a dropped connection failing waiting calls,
//! and stream errors reaching the stream.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, DuplexStream};

use super::client::{Client, ConnectOptions};
use super::packet::{
    encode_frame, read_frame, Header, MessageType, Packet, RemoteError, Status,
    KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM,
};
use super::protocol::{procedure, Domain, StorageVol, Uuid};
use super::xdr::Encoder;
use super::Error;

fn pipe() -> (Client, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    (Client::over(Box::new(ours)), theirs)
}

async fn next(server: &mut DuplexStream) -> Packet {
    let frame = tokio::time::timeout(Duration::from_secs(5), read_frame(server))
        .await
        .expect("the client sent something")
        .unwrap()
        .expect("a packet");
    Packet::decode(&frame).unwrap()
}

async fn reply(server: &mut DuplexStream, call: &Header, status: Status, payload: &[u8]) {
    let h = Header {
        kind: MessageType::Reply,
        status,
        ..*call
    };
    server.write_all(&encode_frame(&h, payload)).await.unwrap();
}

fn domain_payload(name: &str) -> Vec<u8> {
    let mut e = Encoder::new();
    Domain {
        name: name.into(),
        uuid: Uuid([1; 16]),
        id: 3,
    }
    .encode(&mut e);
    e.into_bytes()
}

#[tokio::test]
async fn replies_out_of_order_reach_their_callers() {
    let (client, mut server) = pipe();
    let a = tokio::spawn({
        let c = client.clone();
        async move { c.domain_lookup_by_name("a").await }
    });
    let first = next(&mut server).await;
    let b = tokio::spawn({
        let c = client.clone();
        async move { c.domain_lookup_by_name("b").await }
    });
    let second = next(&mut server).await;
    assert_eq!(first.header.procedure, procedure::DOMAIN_LOOKUP_BY_NAME);
    assert_ne!(first.header.serial, second.header.serial);
    // Answer the second call first.
    let (for_b, for_a) = if first.payload.ends_with(&[b'a', 0, 0, 0]) {
        (second, first)
    } else {
        (first, second)
    };
    reply(&mut server, &for_b.header, Status::Ok, &domain_payload("b")).await;
    reply(&mut server, &for_a.header, Status::Ok, &domain_payload("a")).await;
    assert_eq!(a.await.unwrap().unwrap().name, "a");
    assert_eq!(b.await.unwrap().unwrap().name, "b");
}

#[tokio::test]
async fn remote_errors_are_decoded_and_pings_answered() {
    let (client, mut server) = pipe();
    // libvirtd pings us: we answer PONG.
    server
        .write_all(&encode_frame(&Header::keepalive(KEEPALIVE_PROC_PING), &[]))
        .await
        .unwrap();
    let pong = next(&mut server).await;
    assert_eq!(pong.header.program, KEEPALIVE_PROGRAM);
    assert_eq!(pong.header.procedure, KEEPALIVE_PROC_PONG);

    let call = tokio::spawn({
        let c = client.clone();
        async move { c.find_domain_by_name("gone").await }
    });
    let p = next(&mut server).await;
    let err = RemoteError {
        code: 42,
        domain: 10,
        message: Some("Domain not found: no domain with matching name 'gone'".into()),
        level: 2,
    };
    reply(&mut server, &p.header, Status::Error, &err.encode()).await;
    assert_eq!(call.await.unwrap().unwrap(), None, "not found is None");

    let call = tokio::spawn({
        let c = client.clone();
        async move { c.domain_lookup_by_name("x").await }
    });
    let p = next(&mut server).await;
    reply(&mut server, &p.header, Status::Error, &[0, 0]).await;
    let e = call.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
}

#[tokio::test]
async fn a_dropped_connection_fails_waiting_and_later_calls() {
    let (client, mut server) = pipe();
    let call = tokio::spawn({
        let c = client.clone();
        async move { c.capabilities().await }
    });
    next(&mut server).await;
    drop(server);
    let e = call.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Closed(_)), "{e:?}");
    assert!(!client.is_open());
    let e = client.capabilities().await.unwrap_err();
    assert!(
        e.to_string().contains("libvirt closed the connection"),
        "{e}"
    );
}

#[tokio::test]
async fn keepalive_gives_up_on_a_silent_server() {
    let (ours, mut theirs) = tokio::io::duplex(1 << 20);
    // Handshake by hand: AUTH_LIST (none), SUPPORTS_FEATURE (keepalive: yes), OPEN.
    let server = tokio::spawn(async move {
        for answer in [vec![0, 0, 0, 1, 0, 0, 0, 0], vec![0, 0, 0, 1], vec![]] {
            let p = next(&mut theirs).await;
            reply(&mut theirs, &p.header, Status::Ok, &answer).await;
        }
        // Then silence: read (and ignore) PINGs, never answer.
        let mut pings = 0;
        while let Ok(Some(f)) = read_frame(&mut theirs).await {
            if Packet::decode(&f).unwrap().header.program == KEEPALIVE_PROGRAM {
                pings += 1;
            }
        }
        pings
    });
    let client = Client::over(Box::new(ours));
    client
        .handshake(
            "test:///default",
            &ConnectOptions {
                keepalive_interval: Some(Duration::from_millis(50)),
                keepalive_count: 2,
                ..ConnectOptions::default()
            },
        )
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let c = client.clone();
        async move { c.capabilities().await }
    });
    let e = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("keepalive ended the wait")
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("keepalive"), "{e}");
    drop(client);
    assert!(server.await.unwrap() >= 1, "we pinged before giving up");
}

#[tokio::test]
async fn a_stream_error_from_libvirt_fails_the_upload() {
    let (client, mut server) = pipe();
    let vol = StorageVol {
        pool: "default".into(),
        name: "v".into(),
        key: "/p/v".into(),
    };
    let upload = tokio::spawn({
        let c = client.clone();
        async move {
            let s = c.storage_vol_upload(&vol, 0, 0).await?;
            s.upload_from(&b"some bytes"[..]).await
        }
    });
    let call = next(&mut server).await;
    reply(&mut server, &call.header, Status::Ok, &[]).await;
    let data = next(&mut server).await;
    assert_eq!(data.header.kind, MessageType::Stream);
    assert_eq!(data.header.status, Status::Continue);
    assert_eq!(data.payload, b"some bytes");
    let finish = next(&mut server).await;
    assert_eq!(finish.header.status, Status::Ok);
    let err = RemoteError {
        code: 38,
        domain: 18,
        message: Some("cannot write: No space left on device".into()),
        level: 2,
    };
    let h = Header::stream(call.header.procedure, call.header.serial, Status::Error);
    server
        .write_all(&encode_frame(&h, &err.encode()))
        .await
        .unwrap();
    let e = upload.await.unwrap().unwrap_err();
    assert!(e.to_string().contains("No space left"), "{e}");
}
