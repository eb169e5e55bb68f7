//! Agent start-up and shutdown: data dir, database refusal, `run` on a real socket.

use std::time::Duration;

use agent::{open_state, run, AgentConfig, AgentError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_creates_the_data_dir_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pw");
    let state = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("api-token")), 0o600);
    assert_eq!(mode(&dir.join("secret.key")), 0o600);
    assert!(dir.join("portwarden.db").exists());
    let token = std::fs::read_to_string(dir.join("api-token")).unwrap();
    drop(state);
    // reused on the next start
    let _state = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("api-token")).unwrap(),
        token
    );
}

#[test]
fn a_corrupt_database_is_refused_and_left_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pw");
    // a valid database with data, then damaged in the middle of its pages
    {
        let state = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap();
        for i in 0..200 {
            let f = serde_json::from_value::<agent::model::ProfileInput>(serde_json::json!({
                "name": format!("profile-{i}-{}", "x".repeat(80)), "username": "u",
                "auth_type": "agent"}))
            .unwrap()
            .validate()
            .unwrap();
            state.store().create_profile(&f).unwrap();
        }
    }
    let db = dir.join("portwarden.db");
    // fold the WAL into the main file so the damage is where SQLite reads
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
            .unwrap();
    }
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 3 * 4096, "db too small: {}", bytes.len());
    for b in &mut bytes[4096 + 100..4096 * 3 - 100] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let err = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, AgentError::Store(_)), "{msg}");
    assert!(msg.contains(&db.display().to_string()), "{msg}");
    assert!(
        msg.contains("corrupt") || msg.contains("not a portwarden database"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file was modified");

    // a file that is not a database at all
    std::fs::write(&db, b"hello, I am a text file\n").unwrap();
    let err = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a portwarden database (not an SQLite file); it was left untouched — move it away or pass another --data-dir",
            db.display()
        )
    );
    assert_eq!(std::fs::read(&db).unwrap(), b"hello, I am a text file\n");
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pw");
    drop(open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap());
    let db = dir.join("portwarden.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA user_version = 42; PRAGMA journal_mode=DELETE;")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let err = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "database {} was written by a newer portwarden (schema 42 > {}); refusing to touch it",
            db.display(),
            agent::store::SCHEMA_VERSION
        )
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn definitions_survive_reopen_and_migrations_are_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pw");
    let id = {
        let state = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap();
        let f = serde_json::from_value::<agent::model::ProfileInput>(serde_json::json!({
            "name": "ops", "username": "u", "auth_type": "password", "password": "pw"}))
        .unwrap()
        .validate()
        .unwrap();
        state.store().create_profile(&f).unwrap().id
    };
    for _ in 0..3 {
        let state = open_state(&AgentConfig::new(&dir), CancellationToken::new()).unwrap();
        assert_eq!(
            state.store().schema_version().unwrap(),
            agent::store::SCHEMA_VERSION
        );
        let p = state.store().get_profile(&id).unwrap();
        assert!(p.has_password);
        assert_eq!(
            state
                .store()
                .profile_secrets(&id)
                .unwrap()
                .password
                .unwrap()
                .expose(),
            "pw"
        );
    }
}

#[tokio::test]
async fn a_non_loopback_listen_address_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(tmp.path().join("pw"));
    config.listen = "0.0.0.0:7077".parse().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = run(config, listener, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::NotLoopback(_)));
    assert!(err
        .to_string()
        .starts_with("refusing to listen on 0.0.0.0:7077"));
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn run_serves_writes_agent_addr_and_shuts_down_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pw");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = AgentConfig::new(&dir);
    config.listen = addr;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(config, listener, shutdown.clone()));
    let res = tokio::time::timeout(Duration::from_secs(10), http_get(addr, "/health"))
        .await
        .unwrap();
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.ends_with("{\"status\":\"ok\"}"), "{res}");
    // agent.addr is written before serving
    assert_eq!(
        std::fs::read_to_string(dir.join("agent.addr"))
            .unwrap()
            .trim(),
        addr.to_string()
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("agent did not stop")
        .unwrap()
        .unwrap();
    assert!(!dir.join("agent.addr").exists(), "agent.addr left behind");
}
