//! Authentication against a real sshd: ed25519, ECDSA and RSA keys (rsa-sha2-256 and -512) in
//! OpenSSH and PEM formats, encrypted keys with right, wrong and missing passphrases, the
//! ssh-agent, and what an auth failure says. Password auth runs against testkit's in-process
//! password server (sshd cannot check root's password without PAM).

mod common;

use std::sync::Arc;

use common::*;
use testkit::{generate_key, KeyFormat, KeyKind, PasswordServer, SshAgent, Sshd, SshdOptions};
use tunnel::{Credentials, Hop, KeyFile, Route, Secret, Transport, TunnelError};

async fn connect_with(sshd: &Sshd, creds: Credentials) -> Result<Arc<Transport>, TunnelError> {
    let trust = Trust::new(&[sshd]);
    let route = Route {
        hops: vec![hop_with(sshd, creds)],
        host_keys: trust.strict(),
    };
    Transport::connect(&route, &opts()).await
}

fn key(path: &std::path::Path, passphrase: Option<&str>) -> Credentials {
    Credentials {
        keys: vec![KeyFile {
            path: path.to_path_buf(),
            passphrase: passphrase.map(Secret::new),
        }],
        ..Default::default()
    }
}

async fn assert_key_works(sshd: &Sshd, kind: KeyKind, format: KeyFormat, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let k = generate_key(dir.path(), name, kind, None, format);
    sshd.authorize(&k.with_file_name(format!("{name}.pub")));
    let t = connect_with(sshd, key(&k, None))
        .await
        .unwrap_or_else(|e| panic!("{kind:?} {format:?} key rejected: {e}"));
    t.probe(std::time::Duration::from_secs(10))
        .await
        .expect("probe on the authenticated transport");
    t.disconnect().await;
}

#[tokio::test]
async fn ed25519_ecdsa_rsa_keys_in_openssh_and_pem_formats() {
    let sshd = Sshd::start();
    for (kind, format, name) in [
        (KeyKind::Ed25519, KeyFormat::OpenSsh, "ed25519"),
        (KeyKind::Ecdsa, KeyFormat::OpenSsh, "ecdsa"),
        (KeyKind::Ecdsa, KeyFormat::Pem, "ecdsa_pem"),
        (KeyKind::Rsa, KeyFormat::OpenSsh, "rsa"),
        (KeyKind::Rsa, KeyFormat::Pem, "rsa_pem"),
    ] {
        assert_key_works(&sshd, kind, format, name).await;
    }
    assert!(
        sshd.count_in_log("Accepted publickey") >= 5,
        "{}",
        sshd.log()
    );
    assert!(sshd.log().contains(": ECDSA SHA256:"), "ECDSA login logged");
    assert!(sshd.log().contains(": RSA SHA256:"), "RSA login logged");
}

#[tokio::test]
async fn rsa_with_sha2_256_and_sha2_512_signatures() {
    for alg in ["rsa-sha2-256", "rsa-sha2-512"] {
        // Only this signature algorithm is accepted, so success proves we used it.
        let sshd = Sshd::start_with(SshdOptions {
            extra_config: vec![format!("PubkeyAcceptedAlgorithms {alg}")],
            ..Default::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let k = generate_key(dir.path(), "rsa", KeyKind::Rsa, None, KeyFormat::OpenSsh);
        sshd.authorize(&k.with_file_name("rsa.pub"));
        let t = connect_with(&sshd, key(&k, None))
            .await
            .unwrap_or_else(|e| panic!("RSA with only {alg} accepted: {e}\n{}", sshd.log()));
        t.disconnect().await;
        assert_eq!(sshd.count_in_log("Accepted publickey"), 1, "{alg}");
    }
}

#[tokio::test]
async fn encrypted_keys_right_wrong_and_missing_passphrase() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    for (kind, format, name) in [
        (KeyKind::Ed25519, KeyFormat::OpenSsh, "enc_ed25519"),
        (KeyKind::Rsa, KeyFormat::Pem, "enc_rsa_pem"),
    ] {
        let k = generate_key(dir.path(), name, kind, Some("s3cret-pass"), format);
        sshd.authorize(&k.with_file_name(format!("{name}.pub")));
        let t = connect_with(&sshd, key(&k, Some("s3cret-pass")))
            .await
            .unwrap_or_else(|e| panic!("{name} with the right passphrase: {e}"));
        t.disconnect().await;

        for pass in [Some("wrong-pass"), None] {
            let err = connect_with(&sshd, key(&k, pass))
                .await
                .expect_err("a wrong/missing passphrase must fail");
            assert!(
                matches!(&err, TunnelError::Passphrase { path } if path == &k),
                "{name} {pass:?}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains("passphrase"), "{msg}");
            assert!(
                msg.contains(&k.display().to_string()),
                "names the key file: {msg}"
            );
            assert!(
                !msg.contains("wrong-pass"),
                "never shows the passphrase: {msg}"
            );
        }
    }
}

#[tokio::test]
async fn ssh_agent_auth() {
    let sshd = Sshd::start();
    let agent = SshAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let k = generate_key(
        dir.path(),
        "agent_key",
        KeyKind::Ed25519,
        None,
        KeyFormat::OpenSsh,
    );
    sshd.authorize(&k.with_file_name("agent_key.pub"));
    agent.add(&k);
    let creds = Credentials {
        agent_socket: Some(agent.sock().to_path_buf()),
        ..Default::default()
    };
    let t = connect_with(&sshd, creds).await.expect("agent auth");
    t.disconnect().await;
    assert_eq!(sshd.count_in_log("Accepted publickey"), 1);
}

#[tokio::test]
async fn auth_failure_names_target_and_methods_tried() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let stranger = generate_key(
        dir.path(),
        "stranger",
        KeyKind::Ed25519,
        None,
        KeyFormat::OpenSsh,
    );
    let creds = Credentials {
        keys: vec![KeyFile {
            path: stranger.clone(),
            passphrase: None,
        }],
        password: Some(Secret::new("nope-not-this")),
        ..Default::default()
    };
    let err = connect_with(&sshd, creds)
        .await
        .expect_err("unauthorized key");
    assert!(matches!(err, TunnelError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    let label = format!("{}@127.0.0.1:{}", sshd.user(), sshd.port());
    assert!(msg.contains(&label), "names {label}: {msg}");
    assert!(msg.contains("publickey"), "names the key method: {msg}");
    assert!(
        msg.contains(&stranger.display().to_string()),
        "names the key tried: {msg}"
    );
    assert!(msg.contains("password"), "names the password method: {msg}");
    assert!(
        !msg.contains("nope-not-this"),
        "never shows the password: {msg}"
    );
    assert!(err.is_permanent());
}

fn password_route(server: &PasswordServer, password: &str) -> (Route, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    server.write_known_hosts(&file);
    let route = Route {
        hops: vec![Hop {
            host: "127.0.0.1".into(),
            port: server.port(),
            user: testkit::PASSWORD_USER.into(),
            credentials: Credentials {
                password: Some(Secret::new(password)),
                ..Default::default()
            },
        }],
        host_keys: tunnel::HostKeys {
            policy: tunnel::HostKeyPolicy::Strict,
            files: vec![file],
            write_to: None,
        },
    };
    (route, dir)
}

#[tokio::test]
async fn password_auth_right_password_carries_a_forward() {
    let server = PasswordServer::start().await;
    let (echo, _t) = testkit::echo_server().await;
    let (route, _dir) = password_route(&server, testkit::PASSWORD);
    let (fwd, local) = local_forward(echo);
    let run = start(route, vec![fwd], local).await;
    echo_small(run.local, b"through a password-authenticated transport").await;
    assert_eq!(server.accepted_logins(), 1);
    run.handle.stop().await;
}

#[tokio::test]
async fn password_auth_wrong_password_fails_clearly() {
    let server = PasswordServer::start().await;
    let (route, _dir) = password_route(&server, "battery staple");
    let err = Transport::connect(&route, &opts())
        .await
        .expect_err("wrong password");
    assert!(matches!(err, TunnelError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("tester@127.0.0.1:{}", server.port())),
        "{msg}"
    );
    assert!(msg.contains("password"), "{msg}");
    assert!(!msg.contains("battery staple"), "{msg}");
    assert_eq!(server.accepted_logins(), 0);
}
