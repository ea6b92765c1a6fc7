//! OP_COMPRESSED (op-compressed.md) over real sockets: a round trip per compressor against the
//! scripted wire server (which decodes with its own codecs and records the compressor id of
//! every request), the commands that MUST NOT be compressed, the fallback to uncompressed
//! against SecantusDB (which does not negotiate), and the typed errors for replies this build
//! cannot or must not decode.
//!
//! Tests about one compressor are compiled with its cargo feature; `scripts/test` runs this
//! file with `--all-features` (every compressor) and without features (the "not compiled in"
//! paths), so none is skipped in CI.

mod support;

use std::time::Duration;

use bson::{doc, Bson};
use crossbeam_channel::Receiver;
use mongopool::events::ConnectionClosedReason;
use mongopool::wire::Compressor;
use mongopool::{Client, ClientOptions, CmapEvent, Connection, ConnectionOptions, Error, ErrorKind, Pool, PoolOptions};
use support::server::TestServer;
use support::wire_server::{Action, Rule, WireServer, WireServerConfig, NOOP};

fn options(compressors: Vec<Compressor>) -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        socket_timeout: Some(Duration::from_secs(5)),
        compressors,
        ..Default::default()
    }
}

/// A wire server that supports every compressor, preferring zstd, then snappy, then zlib.
fn compressing_server() -> WireServer {
    WireServer::start_with(WireServerConfig {
        compression: ["zstd", "snappy", "zlib"].iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
}

#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
/// A find whose filter and reply compress well, as documents with repeated text do.
fn find_command() -> bson::Document {
    doc! { "find": "books", "filter": { "title": "the quick brown fox ".repeat(40) }, "limit": 10 }
}

#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
fn find_reply() -> bson::Document {
    let batch: Vec<Bson> = (0..20)
        .map(|i| Bson::Document(doc! { "_id": i, "title": "jumps over the lazy dog ".repeat(10) }))
        .collect();
    doc! { "ok": 1.0, "cursor": { "id": 0i64, "ns": "db.books", "firstBatch": batch } }
}

#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
/// Sizes of the find request on the wire: plain OP_MSG and OP_COMPRESSED with `c`.
fn request_sizes(c: Compressor, zlib_level: Option<i32>) -> (usize, usize) {
    let mut command = find_command();
    command.insert("$db", "db");
    frame_sizes(command, c, zlib_level)
}

#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
/// Sizes of an OP_MSG of `body`: plain and in OP_COMPRESSED with `c`.
fn frame_sizes(body: bson::Document, c: Compressor, zlib_level: Option<i32>) -> (usize, usize) {
    let plain = mongopool::wire::encode_to_vec(&mongopool::wire::OpMsg::new(body), 1, 0).unwrap();
    let mut compressed = Vec::new();
    mongopool::wire::compress_frame(&plain, c, zlib_level, &mut compressed).unwrap();
    (plain.len(), compressed.len())
}

#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
/// Negotiates `c` with a server that supports all three and runs a find both ways compressed:
/// the server's record shows the hello plain, offering exactly `c`, and the find in
/// OP_COMPRESSED with `c`'s id; the server's compressed reply decodes to what it sent.
fn round_trip(c: Compressor) {
    let server = compressing_server();
    server.add(Rule::on("find", Action::Reply(find_reply())));
    let mut conn = Connection::connect(server.address(), &options(vec![c])).unwrap();
    assert_eq!(conn.compressor(), Some(c));
    assert_eq!(conn.hello_reply().unwrap().compression, vec![c.name().to_owned()]);
    let reply = conn.run_command("db", find_command()).unwrap();
    assert_eq!(
        reply,
        find_reply(),
        "the compressed reply decodes to what the server sent"
    );

    let got = server.received();
    assert_eq!(server.commands(), vec!["isMaster", "find"]);
    assert_eq!(got[0].compressor, None, "the hello MUST NOT be compressed");
    assert_eq!(
        got[0].body.get_array("compression").unwrap(),
        &vec![Bson::from(c.name())]
    );
    assert_eq!(
        got[1].compressor,
        Some(c.id()),
        "the find goes in OP_COMPRESSED with {c}"
    );
    let mut expected = find_command();
    expected.insert("$db", "db");
    assert_eq!(
        got[1].body, expected,
        "the server's own {c} decoder reads the command back"
    );

    let (plain, compressed) = request_sizes(c, None);
    assert!(compressed < plain / 2, "{c}: {compressed} of {plain} bytes");
    let (reply_plain, reply_compressed) = frame_sizes(find_reply(), c, None);
    assert!(
        reply_compressed < reply_plain / 2,
        "{c}: {reply_compressed} of {reply_plain} bytes"
    );
    eprintln!("{c}: find request {plain} -> {compressed} bytes, reply {reply_plain} -> {reply_compressed} bytes");
}

#[cfg(feature = "snappy")]
#[test]
fn snappy_round_trip() {
    round_trip(Compressor::Snappy);
}

#[cfg(feature = "zlib")]
#[test]
fn zlib_round_trip() {
    round_trip(Compressor::Zlib);
    let level = |l| request_sizes(Compressor::Zlib, Some(l)).1;
    assert!(level(0) > request_sizes(Compressor::Zlib, None).0, "level 0 stores");
    assert!(level(9) < level(0) / 2);
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_round_trip() {
    round_trip(Compressor::Zstd);
}

/// op-compressed.md: clients MUST use the first compressor of their own list that the server
/// also lists, whatever the server's order.
#[cfg(all(feature = "snappy", feature = "zlib", feature = "zstd"))]
#[test]
fn the_clients_order_decides() {
    let server = compressing_server();
    let conn = Connection::connect(
        server.address(),
        &options(vec![Compressor::Zlib, Compressor::Snappy, Compressor::Zstd]),
    )
    .unwrap();
    assert_eq!(
        conn.hello_reply().unwrap().compression,
        vec!["zstd", "snappy", "zlib"],
        "the server lists all three in its order"
    );
    assert_eq!(conn.compressor(), Some(Compressor::Zlib));

    let zlib_only = WireServer::start_with(WireServerConfig {
        compression: vec!["zlib".into()],
        ..Default::default()
    });
    let conn = Connection::connect(
        zlib_only.address(),
        &options(vec![Compressor::Snappy, Compressor::Zlib]),
    )
    .unwrap();
    assert_eq!(conn.compressor(), Some(Compressor::Zlib));
}

/// The first compressor this build includes; the tests using it need at least one.
#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
fn some_compressor() -> Compressor {
    Compressor::compiled_in()[0]
}

/// op-compressed.md "Messages not allowed to be compressed", with compression negotiated.
#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
#[test]
fn handshake_and_authentication_commands_go_uncompressed() {
    let c = some_compressor();
    let server = compressing_server();
    let mut conn = Connection::connect(server.address(), &options(vec![c])).unwrap();
    assert_eq!(conn.compressor(), Some(c));
    let never = [
        "hello",
        "isMaster",
        "ismaster",
        "saslStart",
        "saslContinue",
        "getnonce",
        "authenticate",
        "createUser",
        "updateUser",
        "copydbSaslStart",
        "copydbgetnonce",
        "copydb",
    ];
    for name in never {
        conn.run_command("admin", doc! { name: 1 }).unwrap();
    }
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    let got = server.received();
    assert_eq!(got.len(), 1 + never.len() + 1);
    assert_eq!(got[0].command, "isMaster");
    for r in &got[..got.len() - 1] {
        assert_eq!(r.compressor, None, "{} MUST NOT be compressed", r.command);
    }
    assert_eq!(got.last().unwrap().compressor, Some(c.id()), "ping is compressed");
}

/// op-compressed.md Q&A: the server may compress even its hello reply, with any compressor
/// the client announced.
#[cfg(any(feature = "snappy", feature = "zlib", feature = "zstd"))]
#[test]
fn a_compressed_hello_reply_is_decoded() {
    let c = some_compressor();
    let server = compressing_server();
    let hello = doc! {
        "ok": 1.0, "isWritablePrimary": true, "helloOk": true, "maxWireVersion": 21,
        "connectionId": 1i64, "compression": [c.name()],
    };
    server.add(Rule::on_handshake(Action::ReplyCompressed(hello, c.id())));
    let mut conn = Connection::connect(server.address(), &options(vec![c])).unwrap();
    assert_eq!(conn.compressor(), Some(c));
    assert_eq!(conn.server_connection_id(), Some(1));
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert_eq!(server.received()[0].compressor, None, "the request itself stays plain");
}

/// SecantusDB has no OP_COMPRESSED: its hello reply has no `compression` field, so mongopool
/// MUST fall back to uncompressed (a compressed command would fail there). In a build without
/// compressors this still checks that SecantusDB accepts the empty `compression: []`.
#[test]
fn secantusdb_does_not_negotiate_and_commands_go_uncompressed() {
    let server = TestServer::shared();
    let all = Compressor::compiled_in();
    let mut conn = Connection::connect(server.address(), &options(all.clone())).unwrap();
    assert!(conn.hello_reply().unwrap().compression.is_empty());
    assert_eq!(conn.compressor(), None);
    let id = bson::oid::ObjectId::new();
    conn.run_command(
        "compression_test",
        doc! { "insert": "c", "documents": [{ "_id": id, "text": "x".repeat(1000) }] },
    )
    .unwrap();
    let found = conn
        .run_command("compression_test", doc! { "find": "c", "filter": { "_id": id } })
        .unwrap();
    let batch = found.get_document("cursor").unwrap().get_array("firstBatch").unwrap();
    assert_eq!(batch.len(), 1);

    // Through a client built from a URI that asks for every compressor.
    let client = Client::with_uri(&format!("{}/?compressors=zstd,snappy,zlib", server.uri())).unwrap();
    assert_eq!(client.options().pool_options().connection().compressors, all);
    let mut conn = client.check_out().unwrap();
    assert_eq!(conn.compressor(), None);
    assert_eq!(
        conn.run_command("admin", doc! { "ping": 1 })
            .unwrap()
            .get_f64("ok")
            .ok(),
        Some(1.0)
    );
}

#[test]
fn a_noop_compressed_reply_is_decoded_without_negotiation() {
    // op-compressed.md: clients MUST be able to parse compressed replies to uncompressed
    // requests, decompressing with the compressor the reply names.
    let server = WireServer::start();
    server.add(Rule::on(
        "ping",
        Action::ReplyCompressed(doc! { "ok": 1.0, "n": 7 }, NOOP),
    ));
    let mut conn = Connection::connect(server.address(), &options(Vec::new())).unwrap();
    assert_eq!(conn.compressor(), None);
    assert_eq!(
        conn.run_command("admin", doc! { "ping": 1 }).unwrap(),
        doc! { "ok": 1.0, "n": 7 }
    );
    assert_eq!(server.received()[1].compressor, None);
}

fn pool_for(server: &WireServer, compressors: Vec<Compressor>) -> (Pool, Receiver<CmapEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder(server.address().clone())
        .options(
            PoolOptions::builder()
                .connection_options(options(compressors))
                .build()
                .unwrap(),
        )
        .event_sender(tx)
        .build()
        .unwrap();
    pool.ready().unwrap();
    (pool, rx)
}

/// Runs a ping that `action` answers on a pooled connection: the error is a
/// [`ErrorKind::Compression`], the connection is errored and closed with reason `error`, and
/// the next check-out gets a fresh connection that works. Returns the error.
fn compression_error_path(action: Action, compressors: Vec<Compressor>) -> Error {
    let server = compressing_server();
    let (pool, events) = pool_for(&server, compressors);
    server.add(Rule::on("ping", action));
    let mut conn = pool.check_out().unwrap();
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Compression { .. }), "{err:?}");
    assert!(conn.is_errored());
    assert_eq!(err.address(), Some(server.address()));
    drop(conn);
    let closed: Vec<_> = events
        .try_iter()
        .filter_map(|e| match e {
            CmapEvent::ConnectionClosed(c) => Some((c.connection_id, c.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![(1, ConnectionClosedReason::Error)]);
    let status = pool.status();
    assert_eq!((status.total, status.generation), (0, 0), "{status:?}");
    let mut fresh = pool.check_out().unwrap();
    assert_eq!(fresh.id(), 2);
    fresh.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert_eq!(server.connections_accepted(), 2);
    err
}

#[test]
fn garbage_compressed_payloads_are_typed_errors() {
    // noop in every build; each compiled compressor with compression negotiated.
    let err = compression_error_path(Action::ReplyCorruptCompressed(NOOP), Vec::new());
    assert!(err.to_string().contains("uncompressedSize"), "{err}");
    for c in Compressor::compiled_in() {
        let err = compression_error_path(Action::ReplyCorruptCompressed(c.id()), vec![c]);
        assert!(err.to_string().contains(c.name()), "{err}");
    }
}

#[test]
fn a_lying_uncompressed_size_is_a_typed_error_before_any_allocation() {
    let reply = doc! { "ok": 1.0, "padding": "p".repeat(100) };
    // 2 GiB, negative, and past maxMessageSizeBytes: refused from the prefix alone (the unit
    // tests of src/wire/compression.rs check that nothing is allocated).
    for size in [i32::MAX, -1, 48_000_001] {
        let err = compression_error_path(Action::ReplyCompressedSized(reply.clone(), NOOP, size), Vec::new());
        assert!(err.to_string().contains(&size.to_string()), "{err}");
    }
    // One byte off either way, for every compiled compressor.
    let mut bytes = Vec::new();
    reply.to_writer(&mut bytes).unwrap();
    let real = 4 + 1 + bytes.len() as i32;
    for c in Compressor::compiled_in() {
        for size in [real - 1, real + 1] {
            compression_error_path(Action::ReplyCompressedSized(reply.clone(), c.id(), size), vec![c]);
        }
    }
}

/// A reply compressed with a compressor this build does not include is a typed error naming
/// it and its cargo feature (the server may use any compressor, op-compressed.md).
#[cfg(not(all(feature = "snappy", feature = "zlib", feature = "zstd")))]
#[test]
fn a_reply_with_a_compressor_not_compiled_in_is_a_typed_error() {
    let missing = [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd]
        .into_iter()
        .filter(|c| !c.is_compiled_in());
    for c in missing {
        let err = compression_error_path(Action::ReplyCompressed(doc! { "ok": 1.0 }, c.id()), Vec::new());
        let text = err.to_string();
        assert!(text.contains(c.name()) && text.contains("cargo feature"), "{text}");
    }
}

/// op-compressed.md "compressors": unknown names (and, here, those this build does not
/// include) are dropped with a warning, never sent; `zlibCompressionLevel` reaches the
/// connections.
#[test]
fn compressors_from_the_uri() {
    support::log_capture::install();
    let o = ClientOptions::parse("mongodb://h/?compressors=zstd,lz4,snappy,zlib&zlibCompressionLevel=9").unwrap();
    let expected: Vec<Compressor> = [Compressor::Zstd, Compressor::Snappy, Compressor::Zlib]
        .into_iter()
        .filter(|c| c.is_compiled_in())
        .collect();
    let connection = o.pool_options().connection();
    assert_eq!(connection.compressors, expected);
    assert_eq!(connection.zlib_compression_level, Some(9));
    let warnings: Vec<String> = support::log_capture::snapshot()
        .into_iter()
        .filter(|r| r.target == "mongopool::uri" && r.level == log::Level::Warn)
        .map(|r| r.text)
        .collect();
    assert!(warnings.iter().any(|w| w.contains("lz4")), "{warnings:?}");
    for c in [Compressor::Zstd, Compressor::Snappy, Compressor::Zlib] {
        let warned = warnings
            .iter()
            .any(|w| w.contains(&format!("compressor {c} is ignored")));
        assert_eq!(warned, !c.is_compiled_in(), "{c}: {warnings:?}");
    }
    // The same through ConnectionOptions and the hello a connection sends.
    let cs = mongopool::uri::ConnectionString::parse("mongodb://h/?compressors=zlib,zstd").unwrap();
    let c = ConnectionOptions::try_from(&cs).unwrap();
    let md = mongopool::conn::client_metadata(&c).unwrap();
    let names: Vec<&str> = c.compressors.iter().map(|c| c.name()).collect();
    let hello = mongopool::conn::hello_command(&c, &md);
    assert_eq!(
        hello.get_array("compression").unwrap(),
        &names.iter().map(|n| Bson::from(*n)).collect::<Vec<_>>()
    );
}

#[test]
fn the_builder_rejects_compressors_it_cannot_use() {
    let build = |names: &[&str]| {
        ClientOptions::builder()
            .host("h:1".parse().unwrap())
            .compressors(names.iter().map(|s| s.to_string()))
            .build()
    };
    let err = build(&["lz4"]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("lz4"), "{err}");
    for c in [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
        match build(&[c.name()]) {
            Ok(o) => {
                assert!(c.is_compiled_in());
                assert_eq!(o.pool_options().connection().compressors, vec![c]);
            }
            Err(err) => {
                assert!(!c.is_compiled_in(), "{c}: {err}");
                assert!(err.to_string().contains("cargo feature"), "{err}");
            }
        }
        let direct = options(vec![c]).validate();
        assert_eq!(direct.is_ok(), c.is_compiled_in(), "{c}");
    }
    assert!(options(vec![Compressor::Noop]).validate().is_err());
    let bad_level = ConnectionOptions {
        zlib_compression_level: Some(10),
        ..Default::default()
    };
    assert!(bad_level.validate().is_err());
}

/// A client from a URI with compressors, against the scripted server: the pool's connections
/// compress with the first of the URI's list that the server supports.
#[cfg(all(feature = "snappy", feature = "zlib", feature = "zstd"))]
#[test]
fn a_client_from_a_uri_compresses() {
    let server = WireServer::start_with(WireServerConfig {
        compression: vec!["zlib".into(), "snappy".into()],
        ..Default::default()
    });
    let uri = format!("{}/?compressors=zstd,snappy,zlib&zlibCompressionLevel=1", server.uri());
    let client = Client::with_uri(&uri).unwrap();
    let mut conn = client.check_out().unwrap();
    assert_eq!(conn.compressor(), Some(Compressor::Snappy));
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    let pings: Vec<_> = server
        .received()
        .into_iter()
        .filter(|r| r.command == "ping")
        .map(|r| r.compressor)
        .collect();
    assert_eq!(pings, vec![Some(Compressor::Snappy.id())]);
    assert!(server
        .received()
        .iter()
        .filter(|r| r.command == "isMaster")
        .all(|r| r.compressor.is_none()));
}
