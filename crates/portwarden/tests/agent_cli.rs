//! The CLI end to end: the real binary as the client of a running agent (the real binary too),
//! with a real sshd and real traffic.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use serde_json::Value;
use testkit::{free_port, Sshd};

const T: Duration = Duration::from_secs(20);

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("--json output does not parse ({e}): {stdout}"))
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// profile add → tunnel add -L → start → status table (the spec text, `connected`) → traffic
/// → --json everywhere → stop → rm.
#[test]
fn cli_profile_tunnel_status_lifecycle() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let key = sshd.client_key().display().to_string();
    let out = agent.cli_ok(&[
        "profile",
        "add",
        "lab",
        "--username",
        &sshd.user(),
        "--key",
        &key,
    ]);
    assert!(out.starts_with("created prof_"), "{out}");
    let profiles = json_of(&agent.cli_ok(&["--json", "profile", "ls"]));
    assert_eq!(profiles[0]["name"], "lab");
    assert_eq!(profiles[0]["auth_type"], "key");

    let web = http_server("cli web\n");
    let lport = free_port();
    let spec = format!("{lport}:127.0.0.1:{}", web.port());
    let sport = sshd.port().to_string();
    let created = json_of(&agent.cli_ok(&[
        "--json",
        "tunnel",
        "add",
        "Switch UI",
        "--host",
        "127.0.0.1",
        "--port",
        &sport,
        "--profile",
        "lab",
        "-L",
        &spec,
    ]));
    let id = created["id"].as_str().unwrap().to_string();
    let want_spec = format!("L :{lport} → 127.0.0.1:{}", web.port());
    assert_eq!(created["spec"], want_spec.as_str());
    assert_eq!(created["bind_address"], "127.0.0.1");

    let ls = agent.cli_ok(&["tunnel", "ls"]);
    assert!(
        ls.contains(&id) && ls.contains("Switch UI") && ls.contains(&want_spec),
        "{ls}"
    );

    let out = agent.cli_ok(&["tunnel", "start", "Switch UI"]);
    assert!(out.starts_with("start Switch UI: "), "{out}");
    agent.wait_status(&id, "connected", T);
    assert_eq!(
        http_get_body(SocketAddr::from(([127, 0, 0, 1], lport))).unwrap(),
        "cli web\n"
    );

    let table = agent.cli_ok(&["status"]);
    let row = table
        .lines()
        .find(|l| l.contains("Switch UI"))
        .unwrap_or_else(|| panic!("no row in {table}"));
    assert!(row.contains(&want_spec), "{row}");
    assert!(row.contains("connected"), "{row}");
    assert!(row.contains("127.0.0.1"), "{row}");
    assert!(table.lines().next().unwrap().contains("STATUS"), "{table}");
    let status = json_of(&agent.cli_ok(&["--json", "status"]));
    let item = status
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert_eq!(item["status"], "connected");
    assert_eq!(item["spec"], want_spec.as_str());

    // A second start: the agent's 409 text reaches the user.
    let out = agent.cli(&["tunnel", "start", &id]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("Tunnel is already running"),
        "{}",
        stderr_of(&out)
    );

    // Edit a running tunnel (restarts it) and reconnect.
    let newport = free_port();
    let spec2 = format!("{newport}:127.0.0.1:{}", web.port());
    let edited = json_of(&agent.cli_ok(&["--json", "tunnel", "edit", &id, "-L", &spec2]));
    assert_eq!(edited["local_port"], newport);
    agent.wait_tunnel(&id, T, "connected on the new port", |t| {
        t["status"] == "connected" && t["local_port"] == newport
    });
    assert_eq!(
        http_get_body(SocketAddr::from(([127, 0, 0, 1], newport))).unwrap(),
        "cli web\n"
    );
    let r = json_of(&agent.cli_ok(&["--json", "tunnel", "reconnect", &id]));
    assert_eq!(r["id"], id.as_str());
    agent.wait_status(&id, "connected", T);

    let r = json_of(&agent.cli_ok(&["--json", "tunnel", "stop", &id]));
    assert_eq!(r["id"], id.as_str());
    agent.wait_status(&id, "disconnected", T);
    testkit::wait_until(T, "port released", || port_free(newport));
    let out = agent.cli_ok(&["tunnel", "rm", "Switch UI"]);
    assert_eq!(out.trim(), "deleted Switch UI");
    assert_eq!(
        json_of(&agent.cli_ok(&["--json", "tunnel", "ls"])),
        serde_json::json!([])
    );
    let out = agent.cli_ok(&["status"]);
    assert_eq!(out.trim(), "no tunnels");
    // An unknown name is a clear error.
    let out = agent.cli(&["tunnel", "start", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("no tunnels with id or name 'nope'"),
        "{}",
        stderr_of(&out)
    );
    // A validation error from the agent, exact text.
    let out = agent.cli(&[
        "tunnel",
        "add",
        "bad",
        "--host",
        "127.0.0.1",
        "--profile",
        "lab",
        "-L",
        "0.0.0.0:8080:h:80",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("bind_address '0.0.0.0' must be a loopback address"),
        "{}",
        stderr_of(&out)
    );
}

/// hostkey ls shows the pending key of an untrusted sshd; hostkey trust trusts it; the tunnel
/// then connects; hostkey forget removes it.
#[test]
fn cli_hostkey_ls_trust_forget() {
    let sshd = Sshd::start();
    let agent = Agent::start_default();
    let key = sshd.client_key().display().to_string();
    agent.cli_ok(&[
        "profile",
        "add",
        "lab",
        "--username",
        &sshd.user(),
        "--key",
        &key,
    ]);
    let sport = sshd.port().to_string();
    let dport = free_port().to_string();
    let created = json_of(&agent.cli_ok(&[
        "--json",
        "tunnel",
        "add",
        "socks",
        "--host",
        "127.0.0.1",
        "--port",
        &sport,
        "--profile",
        "lab",
        "-D",
        &dport,
    ]));
    let id = created["id"].as_str().unwrap().to_string();
    agent.cli_ok(&["tunnel", "start", &id]);
    let st = agent.wait_status(&id, "failed", T);
    let hk = json_of(&agent.cli_ok(&["--json", "hostkey", "ls"]));
    let fp = hk["pending"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fp.starts_with("SHA256:"), "{hk}");
    assert!(st["last_error"].as_str().unwrap().contains(&fp), "{st}");
    let table = agent.cli_ok(&["hostkey", "ls"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("pending"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(&format!("127.0.0.1:{sport}")) && row.contains(&fp),
        "{row}"
    );

    let hostport = format!("127.0.0.1:{sport}");
    let out = agent.cli_ok(&["hostkey", "trust", &hostport, &fp]);
    assert!(out.contains(&fp), "{out}");
    let hk = json_of(&agent.cli_ok(&["--json", "hostkey", "ls"]));
    assert_eq!(hk["pending"], serde_json::json!([]), "{hk}");
    assert!(hk["trusted"].to_string().contains(&fp), "{hk}");
    agent.cli_ok(&["tunnel", "start", &id]);
    agent.wait_status(&id, "connected", T);
    agent.cli_ok(&["tunnel", "stop", &id]);
    agent.cli_ok(&["hostkey", "forget", &hostport]);
    let hk = json_of(&agent.cli_ok(&["--json", "hostkey", "ls"]));
    assert!(!hk["trusted"].to_string().contains(&fp), "{hk}");
}

/// `ui --print-url` prints a one-time link: the first GET signs in (303 + HttpOnly cookie that
/// opens the API), the second GET of the same link is the 401 page.
#[test]
fn cli_ui_print_url_is_a_one_time_link() {
    let agent = Agent::start_default();
    let url = agent.cli_ok(&["ui", "--print-url"]).trim().to_string();
    assert!(
        url.starts_with(&format!("http://{}/login?code=", agent.addr)),
        "{url}"
    );
    let http = agent.http();
    let r = http.get(&url).send().unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("portwarden_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = http
        .get(agent.url("/tunnels"))
        .header("cookie", &pair)
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the cookie does not open the API"
    );
    let r = http.get(&url).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().unwrap();
    assert!(page.contains("portwarden ui"), "{page}");
    let link = json_of(&agent.cli_ok(&["--json", "ui"]));
    assert_eq!(link["expires_in"], 120);
}

/// The CLI without a running agent: a helpful error, not a stack of HTTP noise — both when the
/// data dir has no agent.addr and when the agent it names is gone.
#[test]
fn cli_without_agent_says_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli_in(dir.path(), dir.path(), &["status"]);
    assert!(!out.status.success());
    let e = stderr_of(&out);
    assert!(
        e.contains("the agent is not running") && e.contains("portwarden serve"),
        "{e}"
    );

    let mut agent = Agent::start_default();
    agent.kill9(); // leaves agent.addr behind, pointing at nothing
    let out = agent.cli(&["tunnel", "ls"]);
    assert!(!out.status.success());
    let e = stderr_of(&out);
    assert!(
        e.contains("is not answering") && e.contains("portwarden serve"),
        "{e}"
    );
}

/// Sessions and jump hosts through the CLI: add, connect (its forward comes up), disconnect.
#[test]
fn cli_session_connect_disconnect_and_jump() {
    let sshd = Sshd::start();
    let agent = Agent::start(AgentOpts::trusting(&[&sshd]));
    let key = sshd.client_key().display().to_string();
    agent.cli_ok(&[
        "profile",
        "add",
        "lab",
        "--username",
        &sshd.user(),
        "--key",
        &key,
    ]);
    let sport = sshd.port().to_string();
    let j = json_of(&agent.cli_ok(&[
        "--json",
        "jump",
        "add",
        "bastion",
        "--host",
        "127.0.0.1",
        "--port",
        &sport,
        "--profile",
        "lab",
    ]));
    assert!(j["id"].as_str().unwrap().starts_with("jump_"));
    assert!(agent.cli_ok(&["jump", "ls"]).contains("bastion"));
    let web = http_server("via session\n");
    let lport = free_port();
    let spec = format!("{lport}:127.0.0.1:{}", web.port());
    let s = json_of(&agent.cli_ok(&[
        "--json",
        "session",
        "add",
        "edge",
        "--host",
        "127.0.0.1",
        "--port",
        &sport,
        "--profile",
        "lab",
        "-L",
        &spec,
    ]));
    let sid = s["id"].as_str().unwrap().to_string();
    agent.cli_ok(&["session", "connect", "edge"]);
    let tid = format!("session:{sid}:0");
    agent.wait_status(&tid, "connected", T);
    assert!(agent.cli_ok(&["session", "ls"]).contains("connected"));
    assert_eq!(
        http_get_body(SocketAddr::from(([127, 0, 0, 1], lport))).unwrap(),
        "via session\n"
    );
    let table = agent.cli_ok(&["status"]);
    assert!(
        table.contains(&format!("Session forward :{lport}")),
        "{table}"
    );
    // A tunnel via the jump host (to the same sshd).
    let lport2 = free_port();
    let spec2 = format!("{lport2}:127.0.0.1:{}", web.port());
    let t = json_of(&agent.cli_ok(&[
        "--json",
        "tunnel",
        "add",
        "jumped",
        "--host",
        "127.0.0.1",
        "--port",
        &sport,
        "--profile",
        "lab",
        "--jump-host",
        "bastion",
        "-L",
        &spec2,
    ]));
    let id = t["id"].as_str().unwrap().to_string();
    agent.cli_ok(&["tunnel", "start", &id]);
    agent.wait_status(&id, "connected", T);
    assert_eq!(
        http_get_body(SocketAddr::from(([127, 0, 0, 1], lport2))).unwrap(),
        "via session\n"
    );
    // The profile is in use: rm refuses, naming the users.
    let out = agent.cli(&["profile", "rm", "lab"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("is in use by"),
        "{}",
        stderr_of(&out)
    );
    agent.cli_ok(&["session", "disconnect", "edge"]);
    testkit::wait_until(T, "session forward stopped", || {
        agent
            .status_of(&tid)
            .is_none_or(|t| t["status"] == "disconnected")
            && port_free(lport)
    });
}
