//! The saved definitions — tunnels, profiles, jump hosts, sessions — as the API speaks them.
//!
//! Owns: the wire types (`*Input` for request bodies, with `deny_unknown_fields`; the response
//! types), defaults, and validation (pure functions that turn an input into validated fields or
//! a [`ValidationError`] whose message names the field). The loopback rule and the spec text
//! come from `proto` so the messages are the reference's exactly.
//!
//! Must not touch: storage (existence of referenced ids, cycles and in-use checks are the
//! store's), runtime state (the supervisor's) or HTTP. No I/O here.

use proto::spec::ForwardKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::secrets::Secret;

/// Longest accepted `name`, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest accepted host name or address, in bytes.
pub const MAX_HOST_LEN: usize = 255;
/// Longest accepted username, in bytes.
pub const MAX_USERNAME_LEN: usize = 255;
/// Longest accepted key path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;
/// Longest accepted password / passphrase, in bytes.
pub const MAX_SECRET_LEN: usize = 4096;
/// Most forwards one session may carry.
pub const MAX_SESSION_FORWARDS: usize = 64;

/// Default SSH port.
pub const DEFAULT_PORT: u16 = 22;
/// Default bind address of every listener.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Default address the SSH server listens on for a remote forward.
pub const DEFAULT_REMOTE_LISTEN_HOST: &str = "localhost";
/// Default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 5;

/// A request body that breaks a rule: answered with 400 and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    fn new(msg: impl Into<String>) -> Self {
        ValidationError(msg.into())
    }
}

type VResult<T> = Result<T, ValidationError>;

/// `forward_type`: `"local"` (-L), `"dynamic"` (-D, SOCKS5) or `"remote"` (-R).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForwardType {
    /// -L: local listener to a fixed destination reached from the SSH server.
    Local,
    /// -D: local SOCKS5 proxy.
    Dynamic,
    /// -R: the SSH server listens and carries connections back to a local port.
    Remote,
}

impl ForwardType {
    /// The `proto` kind.
    pub fn kind(self) -> ForwardKind {
        match self {
            ForwardType::Local => ForwardKind::Local,
            ForwardType::Dynamic => ForwardKind::Dynamic,
            ForwardType::Remote => ForwardKind::Remote,
        }
    }

    /// The API / storage name.
    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match ForwardKind::parse(s)? {
            ForwardKind::Local => ForwardType::Local,
            ForwardKind::Dynamic => ForwardType::Dynamic,
            ForwardKind::Remote => ForwardType::Remote,
        })
    }
}

/// `auth_type` of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    /// Password authentication (the password is stored encrypted).
    Password,
    /// Public-key authentication with `key_path` (and optional encrypted passphrase).
    Key,
    /// Keys offered by the running ssh-agent (`SSH_AUTH_SOCK`).
    Agent,
}

impl AuthType {
    /// The API / storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Password => "password",
            AuthType::Key => "key",
            AuthType::Agent => "agent",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(AuthType::Password),
            "key" => Some(AuthType::Key),
            "agent" => Some(AuthType::Agent),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field helpers (each message names the field)

/// Trims; an empty or absent value is `None`.
fn opt_str(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn name_field(field: &str, v: Option<String>) -> VResult<String> {
    let v = opt_str(v).ok_or_else(|| ValidationError::new(format!("{field} is required")))?;
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(ValidationError::new(format!(
            "{field} must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if has_control(&v) {
        return Err(ValidationError::new(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(v)
}

fn check_host(field: &str, v: &str) -> VResult<()> {
    if v.len() > MAX_HOST_LEN {
        return Err(ValidationError::new(format!(
            "{field} must be at most {MAX_HOST_LEN} characters"
        )));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(format!(
            "{field} '{}' must not contain spaces or control characters",
            v.escape_debug()
        )));
    }
    Ok(())
}

fn host_field(field: &str, v: Option<String>) -> VResult<String> {
    let v = opt_str(v).ok_or_else(|| ValidationError::new(format!("{field} is required")))?;
    check_host(field, &v)?;
    Ok(v)
}

fn port_in(field: &str, v: i64, min: i64) -> VResult<u16> {
    if (min..=65535).contains(&v) {
        Ok(v as u16)
    } else if min == 0 {
        Err(ValidationError::new(format!(
            "{field} must be between 0 and 65535 (0 lets the server choose), got {v}"
        )))
    } else {
        Err(ValidationError::new(format!(
            "{field} must be between 1 and 65535, got {v}"
        )))
    }
}

fn ssh_port(field: &str, v: Option<i64>) -> VResult<u16> {
    port_in(field, v.unwrap_or(DEFAULT_PORT as i64), 1)
}

fn id_field(field: &str, v: Option<String>) -> VResult<Option<String>> {
    let v = opt_str(v);
    if let Some(id) = &v {
        if id.len() > 64 || has_control(id) {
            return Err(ValidationError::new(format!("{field} is not a valid id")));
        }
    }
    Ok(v)
}

fn required_id(field: &str, v: Option<String>) -> VResult<String> {
    id_field(field, v)?.ok_or_else(|| ValidationError::new(format!("{field} is required")))
}

/// The two optional jumps, at most one set.
fn jumps(
    prefix: &str,
    jump_host_id: Option<String>,
    jump_session_id: Option<String>,
) -> VResult<(Option<String>, Option<String>)> {
    let h = id_field(&format!("{prefix}jump_host_id"), jump_host_id)?;
    let s = id_field(&format!("{prefix}jump_session_id"), jump_session_id)?;
    if h.is_some() && s.is_some() {
        return Err(ValidationError::new(format!(
            "{prefix}jump_host_id and {prefix}jump_session_id are mutually exclusive: set at most one"
        )));
    }
    Ok((h, s))
}

/// The validated forward part shared by tunnels and session forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFields {
    /// The type.
    pub forward_type: ForwardType,
    /// Local listener port (local/dynamic) or local target port (remote).
    pub local_port: u16,
    /// Loopback bind address.
    pub bind_address: String,
    /// Destination host (local), server listen address (remote), `None` (dynamic).
    pub remote_host: Option<String>,
    /// Destination port (local), server listen port, 0 = allocate (remote), `None` (dynamic).
    pub remote_port: Option<u16>,
}

/// Validates a forward. `p` prefixes field names (`""` for tunnels, `"forwards[2]."` for
/// session forwards).
pub fn validate_forward(
    p: &str,
    forward_type: Option<ForwardType>,
    local_port: Option<i64>,
    bind_address: Option<String>,
    remote_host: Option<String>,
    remote_port: Option<i64>,
) -> VResult<ForwardFields> {
    let forward_type = forward_type.ok_or_else(|| {
        ValidationError::new(format!(
            "{p}forward_type is required (\"local\", \"dynamic\" or \"remote\")"
        ))
    })?;
    let local_port = port_in(
        &format!("{p}local_port"),
        local_port.ok_or_else(|| ValidationError::new(format!("{p}local_port is required")))?,
        1,
    )?;
    let bind_address = opt_str(bind_address).unwrap_or_else(|| DEFAULT_BIND.to_string());
    if let Err(e) = proto::loopback::check_bind_address(&bind_address) {
        // The reference's exact text; it already names bind_address.
        return Err(ValidationError::new(if p.is_empty() {
            e.to_string()
        } else {
            format!("{p}{e}")
        }));
    }
    let remote_host = opt_str(remote_host);
    let (remote_host, remote_port) = match forward_type {
        ForwardType::Local => {
            let h = remote_host.ok_or_else(|| {
                ValidationError::new(format!("{p}remote_host is required for a local forward"))
            })?;
            check_host(&format!("{p}remote_host"), &h)?;
            let port = remote_port.ok_or_else(|| {
                ValidationError::new(format!("{p}remote_port is required for a local forward"))
            })?;
            (Some(h), Some(port_in(&format!("{p}remote_port"), port, 1)?))
        }
        ForwardType::Dynamic => {
            if remote_host.is_some() {
                return Err(ValidationError::new(format!(
                    "{p}remote_host must be null for a dynamic forward (each SOCKS5 client chooses its destination)"
                )));
            }
            if remote_port.is_some() {
                return Err(ValidationError::new(format!(
                    "{p}remote_port must be null for a dynamic forward (each SOCKS5 client chooses its destination)"
                )));
            }
            (None, None)
        }
        ForwardType::Remote => {
            let h = remote_host.unwrap_or_else(|| DEFAULT_REMOTE_LISTEN_HOST.to_string());
            check_host(&format!("{p}remote_host"), &h)?;
            let port = remote_port.ok_or_else(|| {
                ValidationError::new(format!(
                    "{p}remote_port is required for a remote forward (0 lets the server choose)"
                ))
            })?;
            (Some(h), Some(port_in(&format!("{p}remote_port"), port, 0)?))
        }
    };
    Ok(ForwardFields {
        forward_type,
        local_port,
        bind_address,
        remote_host,
        remote_port,
    })
}

/// The reference's compact spec for a forward (`L :8443 → 10.0.0.5:443`, `D :1080 SOCKS5`,
/// `R :9000 → localhost:3000`).
pub fn format_spec(
    forward_type: ForwardType,
    local_port: u16,
    remote_host: Option<&str>,
    remote_port: Option<u16>,
) -> String {
    proto::spec::format_spec(forward_type.kind(), local_port, remote_host, remote_port)
}

// ---------------------------------------------------------------------------------------------
// Tunnels

/// Body of `POST /tunnels` and `PUT /tunnels/{id}`. Absent or null fields take their defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TunnelInput {
    /// Display name. Required.
    pub name: Option<String>,
    /// SSH server. Required.
    pub host: Option<String>,
    /// SSH port. Default 22.
    #[schema(minimum = 1, maximum = 65535, default = 22)]
    pub port: Option<i64>,
    /// Credential profile. Required.
    pub profile_id: Option<String>,
    /// Jump host (exclusive with `jump_session_id`); both null → the profile's jump.
    pub jump_host_id: Option<String>,
    /// A connected session used as the jump (exclusive with `jump_host_id`).
    pub jump_session_id: Option<String>,
    /// Required.
    pub forward_type: Option<ForwardType>,
    /// Listener port (local/dynamic) or the local target port (remote). Required.
    #[schema(minimum = 1, maximum = 65535)]
    pub local_port: Option<i64>,
    /// Loopback only. Default `127.0.0.1`.
    #[schema(default = "127.0.0.1")]
    pub bind_address: Option<String>,
    /// Local: destination host (required). Dynamic: null. Remote: the address the server
    /// listens on (default `localhost`).
    pub remote_host: Option<String>,
    /// Local: destination port (required). Dynamic: null. Remote: the server's listen port
    /// (required, 0 = the server allocates).
    #[schema(minimum = 0, maximum = 65535)]
    pub remote_port: Option<i64>,
    /// Start with the agent. Default false.
    #[schema(default = false)]
    pub auto_start: Option<bool>,
    /// Retry a dropped connection with backoff. Default true.
    #[schema(default = true)]
    pub auto_reconnect: Option<bool>,
    /// Maximum reconnect attempts, 0 = unlimited. Default 5.
    #[schema(minimum = 0, default = 5)]
    pub max_retries: Option<i64>,
}

/// A validated tunnel definition (what is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TunnelFields {
    /// Display name.
    pub name: String,
    /// SSH server.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Credential profile id.
    pub profile_id: String,
    /// Jump host id, if any.
    pub jump_host_id: Option<String>,
    /// Jump session id, if any.
    pub jump_session_id: Option<String>,
    /// Forward type.
    pub forward_type: ForwardType,
    /// Listener port (local/dynamic) or local target port (remote).
    pub local_port: u16,
    /// Loopback bind address.
    pub bind_address: String,
    /// See [`TunnelInput::remote_host`].
    pub remote_host: Option<String>,
    /// See [`TunnelInput::remote_port`].
    pub remote_port: Option<u16>,
    /// Start with the agent.
    pub auto_start: bool,
    /// Retry with backoff when the connection drops.
    pub auto_reconnect: bool,
    /// Maximum reconnect attempts, 0 = unlimited.
    pub max_retries: u32,
}

impl TunnelInput {
    /// Validates and fills defaults.
    pub fn validate(self) -> VResult<TunnelFields> {
        let name = name_field("name", self.name)?;
        let host = host_field("host", self.host)?;
        let port = ssh_port("port", self.port)?;
        let profile_id = required_id("profile_id", self.profile_id)?;
        let (jump_host_id, jump_session_id) = jumps("", self.jump_host_id, self.jump_session_id)?;
        let fwd = validate_forward(
            "",
            self.forward_type,
            self.local_port,
            self.bind_address,
            self.remote_host,
            self.remote_port,
        )?;
        let max_retries = match self.max_retries {
            None => DEFAULT_MAX_RETRIES,
            Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => n as u32,
            Some(n) => {
                return Err(ValidationError::new(format!(
                    "max_retries must be 0 (unlimited) or a positive number, got {n}"
                )))
            }
        };
        Ok(TunnelFields {
            name,
            host,
            port,
            profile_id,
            jump_host_id,
            jump_session_id,
            forward_type: fwd.forward_type,
            local_port: fwd.local_port,
            bind_address: fwd.bind_address,
            remote_host: fwd.remote_host,
            remote_port: fwd.remote_port,
            auto_start: self.auto_start.unwrap_or(false),
            auto_reconnect: self.auto_reconnect.unwrap_or(true),
            max_retries,
        })
    }
}

impl TunnelFields {
    /// The compact spec text.
    pub fn spec(&self) -> String {
        format_spec(
            self.forward_type,
            self.local_port,
            self.remote_host.as_deref(),
            self.remote_port,
        )
    }
}

/// A saved tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Tunnel {
    /// `tun_` + 12 characters.
    pub id: String,
    /// The definition.
    #[serde(flatten)]
    pub fields: TunnelFields,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

// ---------------------------------------------------------------------------------------------
// Profiles

/// Body of `POST /profiles` and `PUT /profiles/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Display name. Required.
    pub name: Option<String>,
    /// SSH user name. Required.
    pub username: Option<String>,
    /// Required.
    pub auth_type: Option<AuthType>,
    /// Write-only. On PUT: absent/null keeps the stored one, `""` clears it.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
    /// Private key file (for `auth_type` `key`).
    pub key_path: Option<String>,
    /// Write-only. On PUT: absent/null keeps the stored one, `""` clears it.
    #[schema(value_type = Option<String>, format = Password)]
    pub key_passphrase: Option<Secret>,
    /// Default jump host of tunnels using this profile (exclusive with `jump_session_id`).
    pub jump_host_id: Option<String>,
    /// Default jump session (exclusive with `jump_host_id`).
    pub jump_session_id: Option<String>,
}

/// What to do with a stored secret on save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretUpdate {
    /// Keep whatever is stored (nothing, on create).
    Keep,
    /// Remove it.
    Clear,
    /// Replace it.
    Set(Secret),
}

impl SecretUpdate {
    fn from_input(field: &str, v: Option<Secret>) -> VResult<Self> {
        Ok(match v {
            None => SecretUpdate::Keep,
            Some(s) if s.is_empty() => SecretUpdate::Clear,
            Some(s) if s.expose().len() > MAX_SECRET_LEN => {
                return Err(ValidationError::new(format!(
                    "{field} must be at most {MAX_SECRET_LEN} bytes"
                )))
            }
            Some(s) => SecretUpdate::Set(s),
        })
    }
}

/// A validated profile (what is stored), with the secret changes to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFields {
    /// Display name.
    pub name: String,
    /// SSH user name.
    pub username: String,
    /// Authentication method.
    pub auth_type: AuthType,
    /// Private key file.
    pub key_path: Option<String>,
    /// Default jump host.
    pub jump_host_id: Option<String>,
    /// Default jump session.
    pub jump_session_id: Option<String>,
    /// Password change.
    pub password: SecretUpdate,
    /// Passphrase change.
    pub key_passphrase: SecretUpdate,
}

impl ProfileInput {
    /// Validates.
    pub fn validate(self) -> VResult<ProfileFields> {
        let name = name_field("name", self.name)?;
        let username =
            opt_str(self.username).ok_or_else(|| ValidationError::new("username is required"))?;
        if username.len() > MAX_USERNAME_LEN {
            return Err(ValidationError::new(format!(
                "username must be at most {MAX_USERNAME_LEN} characters"
            )));
        }
        if username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::new(
                "username must not contain spaces or control characters",
            ));
        }
        let auth_type = self.auth_type.ok_or_else(|| {
            ValidationError::new("auth_type is required (\"password\", \"key\" or \"agent\")")
        })?;
        let key_path = opt_str(self.key_path);
        if let Some(k) = &key_path {
            if k.len() > MAX_PATH_LEN || has_control(k) {
                return Err(ValidationError::new(
                    "key_path must be a file path without control characters",
                ));
            }
        }
        let (jump_host_id, jump_session_id) = jumps("", self.jump_host_id, self.jump_session_id)?;
        Ok(ProfileFields {
            name,
            username,
            auth_type,
            key_path,
            jump_host_id,
            jump_session_id,
            password: SecretUpdate::from_input("password", self.password)?,
            key_passphrase: SecretUpdate::from_input("key_passphrase", self.key_passphrase)?,
        })
    }
}

/// A saved profile as the API returns it: never the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Profile {
    /// `prof_` + 12 characters.
    pub id: String,
    /// Display name.
    pub name: String,
    /// SSH user name.
    pub username: String,
    /// Authentication method.
    pub auth_type: AuthType,
    /// Private key file.
    pub key_path: Option<String>,
    /// A password is stored.
    pub has_password: bool,
    /// A key passphrase is stored.
    pub has_passphrase: bool,
    /// Default jump host.
    pub jump_host_id: Option<String>,
    /// Default jump session.
    pub jump_session_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A profile's decrypted secrets, for the supervisor only (never serialized).
#[derive(Debug, Clone, Default)]
pub struct ProfileSecrets {
    /// The password, if stored.
    pub password: Option<Secret>,
    /// The key passphrase, if stored.
    pub key_passphrase: Option<Secret>,
}

// ---------------------------------------------------------------------------------------------
// Jump hosts

/// Body of `POST /jump-hosts` and `PUT /jump-hosts/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JumpHostInput {
    /// Display name. Required.
    pub name: Option<String>,
    /// SSH server of the hop. Required.
    pub host: Option<String>,
    /// Default 22.
    #[schema(minimum = 1, maximum = 65535, default = 22)]
    pub port: Option<i64>,
    /// The hop's own credentials. Required.
    pub profile_id: Option<String>,
    /// The jump in front of this one (chains; cycles are refused).
    pub jump_host_id: Option<String>,
}

/// A validated jump host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct JumpHostFields {
    /// Display name.
    pub name: String,
    /// SSH server of the hop.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// The hop's credentials.
    pub profile_id: String,
    /// The jump in front of this one.
    pub jump_host_id: Option<String>,
}

impl JumpHostInput {
    /// Validates and fills defaults.
    pub fn validate(self) -> VResult<JumpHostFields> {
        Ok(JumpHostFields {
            name: name_field("name", self.name)?,
            host: host_field("host", self.host)?,
            port: ssh_port("port", self.port)?,
            profile_id: required_id("profile_id", self.profile_id)?,
            jump_host_id: id_field("jump_host_id", self.jump_host_id)?,
        })
    }
}

/// A saved jump host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct JumpHost {
    /// `jump_` + 12 characters.
    pub id: String,
    /// The definition.
    #[serde(flatten)]
    pub fields: JumpHostFields,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// One forward of a session, as sent.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionForwardInput {
    /// Required.
    pub forward_type: Option<ForwardType>,
    /// Required.
    #[schema(minimum = 1, maximum = 65535)]
    pub local_port: Option<i64>,
    /// Default `127.0.0.1`, loopback only.
    #[schema(default = "127.0.0.1")]
    pub bind_address: Option<String>,
    /// As for tunnels.
    pub remote_host: Option<String>,
    /// As for tunnels.
    #[schema(minimum = 0, maximum = 65535)]
    pub remote_port: Option<i64>,
    /// Started on connect. Default true.
    #[schema(default = true)]
    pub enabled: Option<bool>,
}

/// One forward of a session, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionForward {
    /// Forward type.
    pub forward_type: ForwardType,
    /// Listener port (local/dynamic) or local target port (remote).
    pub local_port: u16,
    /// Loopback bind address.
    pub bind_address: String,
    /// As for tunnels.
    pub remote_host: Option<String>,
    /// As for tunnels.
    pub remote_port: Option<u16>,
    /// Started on connect.
    pub enabled: bool,
}

impl SessionForward {
    /// The compact spec text.
    pub fn spec(&self) -> String {
        format_spec(
            self.forward_type,
            self.local_port,
            self.remote_host.as_deref(),
            self.remote_port,
        )
    }
}

/// Body of `POST /sessions` and `PUT /sessions/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    /// Display name. Required.
    pub name: Option<String>,
    /// SSH server. Required.
    pub host: Option<String>,
    /// Default 22.
    #[schema(minimum = 1, maximum = 65535, default = 22)]
    pub port: Option<i64>,
    /// Credential profile. Required.
    pub profile_id: Option<String>,
    /// Jump host (exclusive with `jump_session_id`).
    pub jump_host_id: Option<String>,
    /// Another session as the jump (exclusive with `jump_host_id`).
    pub jump_session_id: Option<String>,
    /// Port forwards started on connect. Default none.
    pub forwards: Option<Vec<SessionForwardInput>>,
}

/// A validated session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionFields {
    /// Display name.
    pub name: String,
    /// SSH server.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Credential profile.
    pub profile_id: String,
    /// Jump host.
    pub jump_host_id: Option<String>,
    /// Jump session.
    pub jump_session_id: Option<String>,
    /// Port forwards.
    pub forwards: Vec<SessionForward>,
}

impl SessionInput {
    /// Validates and fills defaults.
    pub fn validate(self) -> VResult<SessionFields> {
        let name = name_field("name", self.name)?;
        let host = host_field("host", self.host)?;
        let port = ssh_port("port", self.port)?;
        let profile_id = required_id("profile_id", self.profile_id)?;
        let (jump_host_id, jump_session_id) = jumps("", self.jump_host_id, self.jump_session_id)?;
        let inputs = self.forwards.unwrap_or_default();
        if inputs.len() > MAX_SESSION_FORWARDS {
            return Err(ValidationError::new(format!(
                "forwards must have at most {MAX_SESSION_FORWARDS} entries"
            )));
        }
        let mut forwards: Vec<SessionForward> = Vec::with_capacity(inputs.len());
        for (i, f) in inputs.into_iter().enumerate() {
            let p = format!("forwards[{i}].");
            let v = validate_forward(
                &p,
                f.forward_type,
                f.local_port,
                f.bind_address,
                f.remote_host,
                f.remote_port,
            )?;
            let fwd = SessionForward {
                forward_type: v.forward_type,
                local_port: v.local_port,
                bind_address: v.bind_address,
                remote_host: v.remote_host,
                remote_port: v.remote_port,
                enabled: f.enabled.unwrap_or(true),
            };
            if fwd.enabled && fwd.forward_type != ForwardType::Remote {
                if let Some(j) = forwards.iter().position(|o| {
                    o.enabled
                        && o.forward_type != ForwardType::Remote
                        && o.local_port == fwd.local_port
                        && o.bind_address == fwd.bind_address
                }) {
                    return Err(ValidationError::new(format!(
                        "forwards[{i}].local_port {} on {} is already used by forwards[{j}]",
                        fwd.local_port, fwd.bind_address
                    )));
                }
            }
            forwards.push(fwd);
        }
        Ok(SessionFields {
            name,
            host,
            port,
            profile_id,
            jump_host_id,
            jump_session_id,
            forwards,
        })
    }
}

/// A saved session, with whether it is connected now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Session {
    /// `sess_` + 12 characters.
    pub id: String,
    /// The definition.
    #[serde(flatten)]
    pub fields: SessionFields,
    /// Connected now (runtime, from the supervisor).
    pub connected: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOOPBACK_0000: &str = "bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth";

    fn tunnel(v: serde_json::Value) -> VResult<TunnelFields> {
        serde_json::from_value::<TunnelInput>(v).unwrap().validate()
    }

    fn base() -> serde_json::Value {
        json!({"name": "Switch UI", "host": "bastion.example.net", "profile_id": "prof_x",
               "forward_type": "local", "local_port": 8443, "remote_host": "10.0.0.5",
               "remote_port": 443})
    }

    fn with(patch: serde_json::Value) -> serde_json::Value {
        let mut b = base();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    }

    #[test]
    fn tunnel_defaults_are_filled() {
        let t = tunnel(base()).unwrap();
        assert_eq!(t.port, 22);
        assert_eq!(t.bind_address, "127.0.0.1");
        assert!(!t.auto_start);
        assert!(t.auto_reconnect);
        assert_eq!(t.max_retries, 5);
        assert_eq!(t.jump_host_id, None);
        assert_eq!(t.spec(), "L :8443 → 10.0.0.5:443");
        let d = tunnel(json!({"name": "S", "host": "h", "profile_id": "p",
            "forward_type": "dynamic", "local_port": 1080, "remote_host": null,
            "remote_port": null}))
        .unwrap();
        assert_eq!(d.spec(), "D :1080 SOCKS5");
        let r = tunnel(json!({"name": "R", "host": "h", "profile_id": "p",
            "forward_type": "remote", "local_port": 3000, "remote_port": 9000}))
        .unwrap();
        assert_eq!(r.remote_host.as_deref(), Some("localhost"));
        assert_eq!(r.remote_port, Some(9000));
        assert_eq!(r.spec(), "R :9000 → localhost:3000");
        let r0 = tunnel(json!({"name": "R", "host": "h", "profile_id": "p",
            "forward_type": "remote", "local_port": 3000, "remote_port": 0,
            "remote_host": "0.0.0.0"}))
        .unwrap();
        assert_eq!(r0.remote_port, Some(0));
        assert_eq!(r0.remote_host.as_deref(), Some("0.0.0.0"));
    }

    #[test]
    fn tunnel_rules_and_messages() {
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (with(json!({"name": null})), "name is required"),
            (with(json!({"name": "   "})), "name is required"),
            (
                with(json!({"name": "x".repeat(101)})),
                "name must be at most 100 characters",
            ),
            (
                with(json!({"name": "a\u{7}b"})),
                "name must not contain control characters",
            ),
            (with(json!({"host": null})), "host is required"),
            (
                with(json!({"host": "a b"})),
                "host 'a b' must not contain spaces or control characters",
            ),
            (
                with(json!({"port": 0})),
                "port must be between 1 and 65535, got 0",
            ),
            (
                with(json!({"port": 65536})),
                "port must be between 1 and 65535, got 65536",
            ),
            (with(json!({"profile_id": null})), "profile_id is required"),
            (
                with(json!({"jump_host_id": "jump_a", "jump_session_id": "sess_b"})),
                "jump_host_id and jump_session_id are mutually exclusive: set at most one",
            ),
            (
                with(json!({"forward_type": null})),
                "forward_type is required (\"local\", \"dynamic\" or \"remote\")",
            ),
            (with(json!({"local_port": null})), "local_port is required"),
            (
                with(json!({"local_port": 0})),
                "local_port must be between 1 and 65535, got 0",
            ),
            (with(json!({"bind_address": "0.0.0.0"})), LOOPBACK_0000),
            (
                with(json!({"remote_host": null})),
                "remote_host is required for a local forward",
            ),
            (
                with(json!({"remote_port": null})),
                "remote_port is required for a local forward",
            ),
            (
                with(json!({"remote_port": 0})),
                "remote_port must be between 1 and 65535, got 0",
            ),
            (
                with(json!({"forward_type": "dynamic", "remote_port": null})),
                "remote_host must be null for a dynamic forward (each SOCKS5 client chooses its destination)",
            ),
            (
                with(json!({"forward_type": "dynamic", "remote_host": null})),
                "remote_port must be null for a dynamic forward (each SOCKS5 client chooses its destination)",
            ),
            (
                with(json!({"forward_type": "remote", "remote_port": null})),
                "remote_port is required for a remote forward (0 lets the server choose)",
            ),
            (
                with(json!({"forward_type": "remote", "remote_port": 70000})),
                "remote_port must be between 0 and 65535 (0 lets the server choose), got 70000",
            ),
            (
                with(json!({"max_retries": -1})),
                "max_retries must be 0 (unlimited) or a positive number, got -1",
            ),
        ];
        for (body, want) in cases {
            let got = tunnel(body.clone()).unwrap_err().0;
            assert_eq!(got, want, "body: {body}");
        }
    }

    #[test]
    fn loopback_binds_accepted() {
        for b in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] {
            let t = tunnel(with(json!({"bind_address": b}))).unwrap();
            assert_eq!(t.bind_address, b);
        }
        for b in ["192.168.1.10", "::", "example.com"] {
            let e = tunnel(with(json!({"bind_address": b}))).unwrap_err().0;
            assert!(
                e.starts_with(&format!("bind_address '{b}' must be a loopback")),
                "{e}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_value::<TunnelInput>(with(json!({"colour": "red"})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = serde_json::from_value::<ProfileInput>(json!({"name": "a", "secret": "x"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `secret`"), "{e}");
    }

    #[test]
    fn profile_rules_and_secret_updates() {
        let p = |v: serde_json::Value| {
            serde_json::from_value::<ProfileInput>(v)
                .unwrap()
                .validate()
        };
        let ok = p(
            json!({"name": "ops", "username": "admin", "auth_type": "password",
                          "password": "pw"}),
        )
        .unwrap();
        assert_eq!(ok.password, SecretUpdate::Set(Secret::new("pw")));
        assert_eq!(ok.key_passphrase, SecretUpdate::Keep);
        let cleared = p(
            json!({"name": "ops", "username": "admin", "auth_type": "key",
                               "key_path": "~/.ssh/id", "password": "", "key_passphrase": null}),
        )
        .unwrap();
        assert_eq!(cleared.password, SecretUpdate::Clear);
        assert_eq!(cleared.key_passphrase, SecretUpdate::Keep);
        let cases = [
            (
                json!({"username": "a", "auth_type": "agent"}),
                "name is required",
            ),
            (
                json!({"name": "a", "auth_type": "agent"}),
                "username is required",
            ),
            (
                json!({"name": "a", "username": "a b", "auth_type": "agent"}),
                "username must not contain spaces or control characters",
            ),
            (
                json!({"name": "a", "username": "u"}),
                "auth_type is required (\"password\", \"key\" or \"agent\")",
            ),
            (
                json!({"name": "a", "username": "u", "auth_type": "agent",
                       "jump_host_id": "j", "jump_session_id": "s"}),
                "jump_host_id and jump_session_id are mutually exclusive: set at most one",
            ),
            (
                json!({"name": "a", "username": "u", "auth_type": "password",
                       "password": "x".repeat(4097)}),
                "password must be at most 4096 bytes",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(p(body.clone()).unwrap_err().0, want, "{body}");
        }
        let e = serde_json::from_value::<ProfileInput>(
            json!({"name": "a", "username": "u", "auth_type": "kerberos"}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown variant `kerberos`"), "{e}");
    }

    #[test]
    fn jump_host_rules() {
        let j = |v: serde_json::Value| {
            serde_json::from_value::<JumpHostInput>(v)
                .unwrap()
                .validate()
        };
        let ok = j(json!({"name": "b", "host": "bastion", "profile_id": "p"})).unwrap();
        assert_eq!(ok.port, 22);
        assert_eq!(ok.jump_host_id, None);
        assert_eq!(
            j(json!({"name": "b", "host": "bastion"})).unwrap_err().0,
            "profile_id is required"
        );
        assert_eq!(
            j(json!({"name": "b", "profile_id": "p"})).unwrap_err().0,
            "host is required"
        );
    }

    #[test]
    fn session_rules_and_forward_defaults() {
        let s = |v: serde_json::Value| {
            serde_json::from_value::<SessionInput>(v)
                .unwrap()
                .validate()
        };
        let ok = s(json!({"name": "core", "host": "h", "profile_id": "p", "forwards": [
            {"forward_type": "local", "local_port": 8080, "remote_host": "10.0.0.1", "remote_port": 80},
            {"forward_type": "dynamic", "local_port": 1080, "enabled": false},
            {"forward_type": "remote", "local_port": 3000, "remote_port": 0}
        ]}))
        .unwrap();
        assert_eq!(ok.forwards.len(), 3);
        assert_eq!(ok.forwards[0].bind_address, "127.0.0.1");
        assert!(ok.forwards[0].enabled);
        assert!(!ok.forwards[1].enabled);
        assert_eq!(ok.forwards[2].remote_host.as_deref(), Some("localhost"));
        assert_eq!(ok.forwards[0].spec(), "L :8080 → 10.0.0.1:80");
        let none = s(json!({"name": "core", "host": "h", "profile_id": "p"})).unwrap();
        assert!(none.forwards.is_empty());
        let cases = [
            (
                json!({"name": "c", "host": "h", "profile_id": "p",
                       "forwards": [{"forward_type": "local", "local_port": 1}]}),
                "forwards[0].remote_host is required for a local forward",
            ),
            (
                json!({"name": "c", "host": "h", "profile_id": "p", "forwards": [
                    {"forward_type": "dynamic", "local_port": 1080},
                    {"forward_type": "dynamic", "local_port": 1080, "bind_address": "0.0.0.0"}]}),
                "forwards[1].bind_address '0.0.0.0' must be a loopback address (127.0.0.0/8 or ::1) — binding tunnels to non-loopback exposes them to the LAN with no auth",
            ),
            (
                json!({"name": "c", "host": "h", "profile_id": "p", "forwards": [
                    {"forward_type": "dynamic", "local_port": 1080},
                    {"forward_type": "dynamic", "local_port": 1080}]}),
                "forwards[1].local_port 1080 on 127.0.0.1 is already used by forwards[0]",
            ),
            (
                json!({"name": "c", "host": "h", "profile_id": "p",
                       "jump_host_id": "j", "jump_session_id": "s"}),
                "jump_host_id and jump_session_id are mutually exclusive: set at most one",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(s(body.clone()).unwrap_err().0, want, "{body}");
        }
        // a disabled duplicate is fine
        s(
            json!({"name": "c", "host": "h", "profile_id": "p", "forwards": [
            {"forward_type": "dynamic", "local_port": 1080},
            {"forward_type": "dynamic", "local_port": 1080, "enabled": false}]}),
        )
        .unwrap();
    }

    #[test]
    fn the_reference_bodies_validate() {
        let local = json!({
          "name": "Switch UI", "host": "bastion.example.net", "port": 22,
          "profile_id": "prof_abc123", "jump_host_id": null, "jump_session_id": null,
          "forward_type": "local", "local_port": 8443, "bind_address": "127.0.0.1",
          "remote_host": "10.0.0.5", "remote_port": 443, "auto_start": false,
          "auto_reconnect": true, "max_retries": 5
        });
        let dynamic = json!({
          "name": "Bastion SOCKS", "host": "bastion.example.net", "port": 22,
          "profile_id": "prof_abc123", "forward_type": "dynamic", "local_port": 1080,
          "bind_address": "127.0.0.1", "remote_host": null, "remote_port": null,
          "auto_start": true, "auto_reconnect": true, "max_retries": 0
        });
        let l = tunnel(local).unwrap();
        assert_eq!(l.spec(), "L :8443 → 10.0.0.5:443");
        let d = tunnel(dynamic).unwrap();
        assert_eq!(d.max_retries, 0);
        assert!(d.auto_start);
    }
}
