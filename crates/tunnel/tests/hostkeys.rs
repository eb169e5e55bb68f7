//! Host-key checking against a real sshd: unknown (strict) carries the SHA256 fingerprint that
//! `ssh-keygen -lf` shows; accept-new records the key and trusts it next time; a changed key is
//! a hard error under every policy, showing old and new fingerprints; `@revoked` is honoured;
//! hashed (`ssh-keygen -H`) entries match.

mod common;

use common::*;
use testkit::{generate_key, KeyFormat, KeyKind, Sshd};
use tunnel::{HostKeyPolicy, HostKeys, Route, Transport, TunnelError};

fn route_with(sshd: &Sshd, host_keys: HostKeys) -> Route {
    Route {
        hops: vec![hop(sshd)],
        host_keys,
    }
}

fn host_fingerprint(sshd: &Sshd) -> String {
    keygen_fingerprint(&sshd.dir().join("host_ed25519.pub"))
}

#[tokio::test]
async fn unknown_key_under_strict_carries_the_fingerprint() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    std::fs::write(&file, "").unwrap();
    let route = route_with(
        &sshd,
        HostKeys {
            policy: HostKeyPolicy::Strict,
            files: vec![file.clone()],
            write_to: Some(file.clone()),
        },
    );
    let err = Transport::connect(&route, &opts())
        .await
        .expect_err("unknown key");
    let want = host_fingerprint(&sshd);
    match &err {
        TunnelError::HostKeyUnknown {
            fingerprint,
            key_type,
            port,
            public_key,
            ..
        } => {
            assert_eq!(fingerprint, &want, "same fingerprint as ssh-keygen -lf");
            assert_eq!(key_type, "ssh-ed25519");
            assert_eq!(*port, sshd.port());
            assert_eq!(public_key, &sshd.host_key_line());
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    assert!(err.to_string().contains(&want), "{err}");
    assert!(err.is_permanent());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "",
        "strict never records"
    );
    assert_eq!(
        sshd.count_in_log("Accepted publickey"),
        0,
        "no auth attempted"
    );
}

#[tokio::test]
async fn accept_new_records_the_key_and_trusts_it_next_time() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sub").join("known_hosts");
    let host_keys = HostKeys {
        policy: HostKeyPolicy::AcceptNew,
        files: vec![],
        write_to: Some(file.clone()),
    };
    let t = Transport::connect(&route_with(&sshd, host_keys.clone()), &opts())
        .await
        .expect("accept-new connects to an unknown host");
    t.disconnect().await;
    let text = std::fs::read_to_string(&file).expect("key recorded");
    assert!(
        text.contains(&sshd.host_key_line())
            && text.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "recorded line: {text:?}"
    );
    // ssh-keygen agrees it is a proper known_hosts entry for this host.
    let found = std::process::Command::new("ssh-keygen")
        .args(["-F", &format!("[127.0.0.1]:{}", sshd.port()), "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "ssh-keygen -F finds the recorded key"
    );

    // Second connect: trusted under strict, from the recorded file.
    let strict = HostKeys {
        policy: HostKeyPolicy::Strict,
        files: vec![file.clone()],
        write_to: None,
    };
    let t = Transport::connect(&route_with(&sshd, strict), &opts())
        .await
        .expect("the recorded key is trusted");
    t.disconnect().await;
    // And accept-new does not append it twice.
    let t = Transport::connect(&route_with(&sshd, host_keys), &opts())
        .await
        .unwrap();
    t.disconnect().await;
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 1);
}

#[tokio::test]
async fn changed_key_is_refused_under_strict_and_accept_new() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let other = generate_key(
        dir.path(),
        "other",
        KeyKind::Ed25519,
        None,
        KeyFormat::OpenSsh,
    );
    let other_pub = other.with_file_name("other.pub");
    let other_line = std::fs::read_to_string(&other_pub).unwrap();
    let other_key: Vec<&str> = other_line.split_whitespace().take(2).collect();
    let file = dir.path().join("known_hosts");
    std::fs::write(
        &file,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), other_key.join(" ")),
    )
    .unwrap();
    let old = keygen_fingerprint(&other_pub);
    let new = host_fingerprint(&sshd);
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let host_keys = HostKeys {
            policy,
            files: vec![file.clone()],
            write_to: Some(file.clone()),
        };
        let err = Transport::connect(&route_with(&sshd, host_keys), &opts())
            .await
            .expect_err("changed key must be refused");
        match &err {
            TunnelError::HostKeyChanged {
                fingerprint, known, ..
            } => {
                assert_eq!(fingerprint, &new, "{policy:?}");
                assert!(known.contains(&old), "{policy:?}: known {known}");
            }
            other => panic!("{policy:?}: expected HostKeyChanged, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&old) && msg.contains(&new), "{msg}");
        assert!(err.is_permanent());
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count(),
        1,
        "a changed key is never recorded"
    );
}

#[tokio::test]
async fn revoked_key_is_refused() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    // Revoked for every host, plus a normal trust line that must not win.
    std::fs::write(
        &file,
        format!(
            "@revoked * {}\n{}\n",
            sshd.host_key_line(),
            sshd.known_hosts_line()
        ),
    )
    .unwrap();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let host_keys = HostKeys {
            policy,
            files: vec![file.clone()],
            write_to: Some(file.clone()),
        };
        let err = Transport::connect(&route_with(&sshd, host_keys), &opts())
            .await
            .expect_err("revoked key");
        assert!(
            matches!(&err, TunnelError::HostKeyRevoked { fingerprint, .. } if fingerprint == &host_fingerprint(&sshd)),
            "{policy:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn hashed_known_hosts_entries_match() {
    let sshd = Sshd::start();
    let trust = Trust::new(&[&sshd]);
    let out = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&trust.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -H");
    let text = std::fs::read_to_string(&trust.file).unwrap();
    assert!(text.starts_with("|1|"), "hashed: {text}");
    assert!(
        !text.contains("127.0.0.1"),
        "no clear host name left: {text}"
    );
    let t = Transport::connect(&route_with(&sshd, trust.strict()), &opts())
        .await
        .expect("hashed entry trusted");
    t.disconnect().await;
}
