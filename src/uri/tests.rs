use std::time::Duration;

use super::*;
use crate::ErrorKind;

fn invalid_argument(uri: &str) -> String {
    match ConnectionString::parse(uri) {
        Ok(cs) => panic!("{uri:?} parsed: {cs:?}"),
        Err(e) => {
            assert!(matches!(e.kind(), ErrorKind::InvalidArgument { .. }), "{uri:?}: {e:?}");
            e.to_string()
        }
    }
}

#[test]
fn password_never_in_debug_errors_warnings_or_redacted() {
    let secret = "Hunter2Secret";
    let ok = [
        format!("mongodb://u:{secret}@h/db?appName=x"),
        format!("mongodb://u:{secret}@h/?tlsCertificateKeyFilePassword={secret}&bogus={secret}"),
        format!("mongodb://u:{secret}@h/?connectTimeoutMS=x&proxyPassword={secret}&tlsCertificateKeyFilePassword="),
        format!("mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test,X{secret}"),
    ];
    for uri in &ok {
        let cs = ConnectionString::parse(uri).unwrap();
        let shown = format!("{cs:?} {cs} {} {:?}", cs.redacted(), cs.warnings);
        assert!(!shown.contains(secret), "{shown}");
    }
    let cs = ConnectionString::parse(&ok[0]).unwrap();
    assert_eq!(cs.credential.as_ref().unwrap().password.as_deref(), Some(secret));
    assert!(format!("{cs:?}").contains("password: Some(\"***\")"));

    let bad = [
        format!("mongodb://u:{secret}:x@h"),
        format!("mongodb://u:{secret}@@h"),
        format!("mongodb://u:{secret}%zz@h"),
        format!("mongodb://u:{secret}/x@h/db"),
        format!("mongodb://u:{secret}"),
        format!("mongodb://u:{secret}?x@h"),
        format!("mongodb://u:{secret}@h/?authMechanism=MONGODB-X509"),
        format!("mongodb://u:{secret}@h/?authMechanism=MONGODB-AWS"),
        format!("mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:{secret}"),
        format!("mongodb://u:{secret}@h,/"),
        format!("mongodb://u:{secret}@h/?w"),
        format!("mongodb+srv://u:{secret}@h"),
    ];
    for uri in &bad {
        let msg = invalid_argument(uri);
        assert!(!msg.contains(secret), "{uri:?} -> {msg}");
    }
}

#[test]
fn session_token_masked_in_debug() {
    let mut cs =
        ConnectionString::parse("mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test")
            .unwrap();
    cs.auth_mechanism_properties = Some([("AWS_SESSION_TOKEN".to_owned(), "tok3n".to_owned())].into());
    assert!(!format!("{cs:?}").contains("tok3n"));
}

#[test]
fn malformed_input_errors_without_panicking() {
    let cases = [
        "",
        "m",
        "mongodb:",
        "mongodb:/",
        "mongodb://",
        "mongodb:///",
        "mongodb://?",
        "mongodb://@",
        "mongodb://@/",
        "mongodb://:@",
        "mongodb://a@",
        "mongodb://%",
        "mongodb://%2",
        "mongodb://%2G",
        "mongodb://h%",
        "mongodb://h%e",
        "mongodb://h%C3",
        "mongodb://h%FF",
        "mongodb://h/%",
        "mongodb://h/d%b",
        "mongodb://u:%@h",
        "mongodb://u%:p@h",
        "mongodb://@@",
        "mongodb://a@b@c",
        "mongodb://a:b:c@h",
        "mongodb://,",
        "mongodb://h,",
        "mongodb://,h",
        "mongodb://h,,h",
        "mongodb://h:",
        "mongodb://h:0",
        "mongodb://h:65536",
        "mongodb://h:4294967296",
        "mongodb://h:99999999999999999999999999",
        "mongodb://h:-1",
        "mongodb://h:+1",
        "mongodb://h:1a",
        "mongodb://[",
        "mongodb://[]",
        "mongodb://[::1",
        "mongodb://[::1]x",
        "mongodb://[::1]:",
        "mongodb://[zz]:1",
        "mongodb://]",
        "mongodb://::1",
        "mongodb://h::1",
        "mongodb://h h",
        "mongodb://h\u{0}",
        "mongodb://h\n",
        "mongodb://é:ü",
        "mongodb://ü:1é",
        "mongodb://h:١٢",
        "mongodb://🦀:🦀@",
        "mongodb://h/🦀$",
        "mongodb://h/a b",
        "mongodb://h/a\"b",
        "mongodb://h/a\\b",
        "mongodb://h/a/b",
        "mongodb:///tmp/m.sock",
        "mongodb://h/x@y",
        "mongodb://h?w",
        "mongodb://h/?w",
        "mongodb://h/?=",
        "mongodb://h/?a%=1",
        "mongodb://h/?appName=%",
        "mongodb://h/?authSource=",
        "mongodb://h/?authMechanism=",
        "mongodb://h/?authMechanism=FOO",
        "mongodb://h/?tls=true&ssl=false",
        "mongodb://h/?tlsInsecure=true&tlsAllowInvalidHostnames=true",
        "mongodb://a,b/?directConnection=true",
        "mongodb://a,b/?loadBalanced=true",
        "mongodb://h/?minPoolSize=9&maxPoolSize=1",
        "mongodb://h/?srvMaxHosts=1",
        "mongodb://h/?readPreferenceTags=a:b",
        "MONGODB://h",
        "mongodb+srv://h",
        "MongoDB+SRV://h",
        "http://h",
        " mongodb://h",
        "mongodb://%2Fnot-a-socket",
        "mongodb://h/?authMechanismProperties=ALLOWED_HOSTS:x",
    ];
    for uri in cases {
        let result = std::panic::catch_unwind(|| ConnectionString::parse(uri));
        match result {
            Ok(Err(e)) => assert!(matches!(e.kind(), ErrorKind::InvalidArgument { .. }), "{uri:?}: {e:?}"),
            Ok(Ok(cs)) => panic!("{uri:?} should be rejected, got {cs:?}"),
            Err(_) => panic!("{uri:?} panicked"),
        }
    }
}

#[test]
fn every_prefix_of_tricky_uris_parses_or_errors() {
    // Cutting at every char boundary exercises truncated escapes and brackets.
    let uris = [
        "mongodb://ü%C3%BCser:p%40ss@[fe80::1]:27018,b%C3%BCcher.example:1,%2Ftmp%2Fm.sock/d%C3%BC?w=majority&readPreferenceTags=dc:ny,rack:%31&readPreference=nearest",
        "mongodb://a:b@h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:mongodb://x",
    ];
    for uri in uris {
        for (i, _) in uri.char_indices() {
            let _ = ConnectionString::parse(&uri[..i]);
        }
    }
}

#[test]
fn srv_is_rejected_clearly() {
    let msg = invalid_argument("mongodb+srv://cluster0.example.net/?retryWrites=true");
    assert!(msg.contains("mongodb+srv:// is not supported yet"), "{msg}");
}

#[test]
fn pool_options_and_warnings() {
    let cs = ConnectionString::parse(
        "mongodb://h/?MAXPOOLSIZE=10&minPoolSize=2&maxIdleTimeMS=1500&maxConnecting=3&waitQueueTimeoutMS=20\
         &maxPoolSize=12&compressors=zlib,lz4,ZSTD&serverMonitoringMode=stream&unknownThing=1&maxConnecting=0",
    )
    .unwrap();
    assert_eq!(cs.max_pool_size, Some(12));
    assert_eq!(cs.min_pool_size, Some(2));
    assert_eq!(cs.max_idle_time, Some(Duration::from_millis(1500)));
    assert_eq!(cs.max_connecting, Some(3), "an invalid repeat keeps the earlier value");
    assert_eq!(cs.wait_queue_timeout, Some(Duration::from_millis(20)));
    assert_eq!(cs.compressors, Some(vec!["zlib".to_owned(), "zstd".to_owned()]));
    assert_eq!(cs.server_monitoring_mode, Some(ServerMonitoringMode::Stream));
    let w = cs.warnings.join("\n");
    for needle in [
        "'maxPoolSize' is given more than once",
        "lz4",
        "polling",
        "'unknownThing'",
        "maxConnecting",
    ] {
        assert!(w.contains(needle), "{needle} missing from {w}");
    }
}

#[test]
fn tags_accumulate_and_unix_sockets_parse() {
    let cs = ConnectionString::parse(
        "mongodb://%2Ftmp%2Fmongodb-27017.sock/admin?readPreference=secondary&readPreferenceTags=dc:ny,rack:1&readPreferenceTags=",
    )
    .unwrap();
    assert_eq!(cs.hosts, vec![ServerAddress::unix("/tmp/mongodb-27017.sock")]);
    assert_eq!(cs.default_database.as_deref(), Some("admin"));
    let tags = cs.read_preference_tags.unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0].get("rack").map(String::as_str), Some("1"));
    assert!(tags[1].is_empty());
    assert!(cs.warnings.is_empty(), "{:?}", cs.warnings);
    assert!(cs.credential.is_none());
}
