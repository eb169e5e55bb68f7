//! The SQLite store of saved definitions: tunnels, profiles, jump hosts, sessions.
//!
//! Owns: `portwarden.db` — opening it safely (a file that is not a database, fails its
//! integrity check, or was written by a newer schema is refused and never modified), the
//! versioned migrations (`PRAGMA user_version`), WAL with `synchronous=FULL` (a SIGKILL at any
//! moment loses no committed definition), foreign keys, ids, timestamps, CRUD, referential
//! checks (references exist, jump chains have no cycles, in-use rows cannot be deleted), and
//! sealing profile secrets with [`crate::secrets::Cipher`] before they reach the file.
//!
//! Must not touch: runtime state (the supervisor's), HTTP, or field validation (the model's).
//! The store is synchronous; async callers use `spawn_blocking`. Its mutex is never held across
//! an await (there are none here).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, Transaction};

use crate::model::{
    AuthType, ForwardType, JumpHost, JumpHostFields, Profile, ProfileFields, ProfileSecrets,
    SecretUpdate, Session, SessionFields, SessionForward, Tunnel, TunnelFields, ValidationError,
};
use crate::secrets::{Cipher, SecretError, SecretKey};

/// The kinds of saved object, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A persistent tunnel.
    Tunnel,
    /// A credential profile.
    Profile,
    /// A jump host.
    JumpHost,
    /// A saved session.
    Session,
}

impl Kind {
    /// Capitalised label ("Tunnel", "Jump host", …).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Tunnel => "Tunnel",
            Kind::Profile => "Profile",
            Kind::JumpHost => "Jump host",
            Kind::Session => "Session",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Kind::Tunnel => "tunnel",
            Kind::Profile => "profile",
            Kind::JumpHost => "jump host",
            Kind::Session => "session",
        }
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not an SQLite database. It was not modified.
    #[error("{} is not a portwarden database (not an SQLite file); it was left untouched — move it away or pass another --data-dir", path.display())]
    NotADatabase {
        /// The database file.
        path: PathBuf,
    },
    /// The file is an SQLite database that fails its integrity check. It was not modified.
    #[error("database {} is corrupt ({detail}); it was left untouched — restore it from a backup or move it away", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
    },
    /// The database was written by a newer portwarden. It was not modified.
    #[error("database {} was written by a newer portwarden (schema {found} > {supported}); refusing to touch it", path.display())]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest schema this build knows.
        supported: i64,
    },
    /// Reading the file header failed.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An SQLite operation failed.
    #[error("database {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// No object of that kind has this id (404).
    #[error("{} not found: {id}", kind.label())]
    NotFound {
        /// The kind looked up.
        kind: Kind,
        /// The id asked for.
        id: String,
    },
    /// The request refers to something missing or would form a cycle (400).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The object is referenced by others and cannot be deleted (409).
    #[error("{} '{name}' is in use by {}; change or delete them first", kind.label(), users.join(", "))]
    InUse {
        /// The kind being deleted.
        kind: Kind,
        /// Its name.
        name: String,
        /// The users, e.g. `tunnel 'Switch UI'`.
        users: Vec<String>,
    },
    /// A stored secret could not be sealed or opened (wrong `secret.key`, tampering).
    #[error("profile {profile_id}: {source}")]
    Secret {
        /// The profile whose secret failed.
        profile_id: String,
        /// Why.
        #[source]
        source: SecretError,
    },
}

type SResult<T> = Result<T, StoreError>;

/// The newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only; never edit.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
CREATE TABLE profiles (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    username           TEXT NOT NULL,
    auth_type          TEXT NOT NULL CHECK (auth_type IN ('password', 'key', 'agent')),
    key_path           TEXT,
    password_enc       TEXT,
    key_passphrase_enc TEXT,
    jump_host_id       TEXT REFERENCES jump_hosts(id),
    jump_session_id    TEXT REFERENCES sessions(id),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CHECK (jump_host_id IS NULL OR jump_session_id IS NULL)
) STRICT;
CREATE TABLE jump_hosts (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    host         TEXT NOT NULL,
    port         INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    jump_host_id TEXT REFERENCES jump_hosts(id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    profile_id      TEXT NOT NULL REFERENCES profiles(id),
    jump_host_id    TEXT REFERENCES jump_hosts(id),
    jump_session_id TEXT REFERENCES sessions(id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK (jump_host_id IS NULL OR jump_session_id IS NULL)
) STRICT;
CREATE TABLE session_forwards (
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    forward_type TEXT NOT NULL CHECK (forward_type IN ('local', 'dynamic', 'remote')),
    local_port   INTEGER NOT NULL CHECK (local_port BETWEEN 1 AND 65535),
    bind_address TEXT NOT NULL,
    remote_host  TEXT,
    remote_port  INTEGER CHECK (remote_port BETWEEN 0 AND 65535),
    enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (session_id, position)
) STRICT;
CREATE TABLE tunnels (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    profile_id      TEXT NOT NULL REFERENCES profiles(id),
    jump_host_id    TEXT REFERENCES jump_hosts(id),
    jump_session_id TEXT REFERENCES sessions(id),
    forward_type    TEXT NOT NULL CHECK (forward_type IN ('local', 'dynamic', 'remote')),
    local_port      INTEGER NOT NULL CHECK (local_port BETWEEN 1 AND 65535),
    bind_address    TEXT NOT NULL,
    remote_host     TEXT,
    remote_port     INTEGER CHECK (remote_port BETWEEN 0 AND 65535),
    auto_start      INTEGER NOT NULL CHECK (auto_start IN (0, 1)),
    auto_reconnect  INTEGER NOT NULL CHECK (auto_reconnect IN (0, 1)),
    max_retries     INTEGER NOT NULL CHECK (max_retries >= 0),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK (jump_host_id IS NULL OR jump_session_id IS NULL)
) STRICT;
CREATE INDEX tunnels_profile ON tunnels(profile_id);
CREATE INDEX tunnels_jump_host ON tunnels(jump_host_id);
CREATE INDEX tunnels_jump_session ON tunnels(jump_session_id);
CREATE INDEX jump_hosts_profile ON jump_hosts(profile_id);
CREATE INDEX jump_hosts_jump ON jump_hosts(jump_host_id);
CREATE INDEX sessions_profile ON sessions(profile_id);
CREATE INDEX sessions_jump_host ON sessions(jump_host_id);
CREATE INDEX sessions_jump_session ON sessions(jump_session_id);
CREATE INDEX profiles_jump_host ON profiles(jump_host_id);
CREATE INDEX profiles_jump_session ON profiles(jump_session_id);
"#,
];

/// Longest jump chain accepted (hops).
pub const MAX_JUMP_CHAIN: usize = 16;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// A new id: `prefix` + 12 random lowercase alphanumerics.
pub fn new_id(prefix: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(prefix.len() + 12);
    s.push_str(prefix);
    for _ in 0..12 {
        s.push(CHARS[rng.gen_range(0..CHARS.len())] as char);
    }
    s
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The store. Share it behind an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
    cipher: Cipher,
    path: PathBuf,
    /// Bumped after every committed write, so what was read before can be reused until then.
    generation: AtomicU64,
    /// The decoded tunnel list and the generation it was read at (the status endpoint lists
    /// every tunnel on every call).
    tunnels: Mutex<Option<(u64, Arc<Vec<Tunnel>>)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, refusing a corrupt one or one from a newer
    /// schema without modifying it, then applies pending migrations.
    pub fn open(path: &Path, key: &SecretKey) -> SResult<Store> {
        let path = path.to_path_buf();
        let sq = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let existing_len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        if existing_len > 0 {
            preflight(&path)?;
        }
        // Owner-only, like the other files of the data dir (SQLite gives its -wal and -shm
        // files the database file's mode).
        private_file(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sq)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sq)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sq)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "database is not in WAL mode");
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(sq)?;
        let store = Store {
            conn: Mutex::new(conn),
            cipher: Cipher::new(key),
            path: path.clone(),
            generation: AtomicU64::new(0),
            tunnels: Mutex::new(None),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sq(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn migrate(&self) -> SResult<()> {
        let mut conn = self.lock();
        let sq = self.sq();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&sq)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&sq)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql).map_err(&sq)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(&sq)?;
            tracing::info!(path = %self.path.display(), version = i + 1, "applied database migration");
        }
        tx.commit().map_err(&sq)?;
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> SResult<i64> {
        self.lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.sq())
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> SResult<T>) -> SResult<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(self.sq())?;
        let out = f(&tx)?;
        tx.commit().map_err(self.sq())?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> SResult<T>) -> SResult<T> {
        let conn = self.lock();
        f(&conn)
    }

    /// Every row of `select`, oldest first; rows created in the same millisecond in the order
    /// they were inserted (`rowid`), not by their random ids.
    fn all_rows<T>(
        &self,
        c: &Connection,
        select: &str,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> SResult<Vec<T>> {
        let mut st = c
            .prepare(&format!("{select} ORDER BY created_at, rowid"))
            .map_err(self.sq())?;
        let rows = st.query_map([], row).map_err(self.sq())?;
        rows.collect::<Result<_, _>>().map_err(self.sq())
    }

    /// The row of `select` with this id, or `NotFound` naming the kind.
    fn one_row<T>(
        &self,
        c: &Connection,
        select: &str,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
        kind: Kind,
        id: &str,
    ) -> SResult<T> {
        c.query_row(&format!("{select} WHERE id = ?1"), [id], row)
            .optional()
            .map_err(self.sq())?
            .ok_or_else(|| not_found(kind, id))
    }

    // -----------------------------------------------------------------------------------------
    // references

    fn name_of(&self, c: &Connection, kind: Kind, id: &str) -> SResult<Option<String>> {
        let table = table(kind);
        c.query_row(
            &format!("SELECT name FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .optional()
        .map_err(self.sq())
    }

    fn require_ref(&self, c: &Connection, field: &str, kind: Kind, id: &str) -> SResult<()> {
        match self.name_of(c, kind, id)? {
            Some(_) => Ok(()),
            None => Err(ValidationError(format!(
                "{field} '{id}' does not exist (no {} with that id)",
                kind.lower()
            ))
            .into()),
        }
    }

    fn check_refs(
        &self,
        c: &Connection,
        profile_id: Option<&str>,
        jump_host_id: Option<&str>,
        jump_session_id: Option<&str>,
    ) -> SResult<()> {
        if let Some(p) = profile_id {
            self.require_ref(c, "profile_id", Kind::Profile, p)?;
        }
        if let Some(j) = jump_host_id {
            self.require_ref(c, "jump_host_id", Kind::JumpHost, j)?;
        }
        if let Some(s) = jump_session_id {
            self.require_ref(c, "jump_session_id", Kind::Session, s)?;
        }
        Ok(())
    }

    /// Follows `next` links (`jump_host_id` of jump hosts, or `jump_session_id` of sessions)
    /// from `start`; refuses a chain that reaches `self_id` or itself again, or is too long.
    fn check_chain(
        &self,
        c: &Connection,
        kind: Kind,
        self_id: &str,
        self_name: &str,
        start: Option<&str>,
    ) -> SResult<()> {
        let (table, col, field) = match kind {
            Kind::JumpHost => ("jump_hosts", "jump_host_id", "jump_host_id"),
            Kind::Session => ("sessions", "jump_session_id", "jump_session_id"),
            _ => return Ok(()),
        };
        let mut names = vec![self_name.to_string()];
        let mut seen = vec![self_id.to_string()];
        let mut cur = start.map(str::to_string);
        while let Some(id) = cur {
            let row: Option<(String, Option<String>)> = c
                .query_row(
                    &format!("SELECT name, {col} FROM {table} WHERE id = ?1"),
                    [&id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.sq())?;
            let Some((name, next)) = row else { break };
            names.push(name);
            if seen.contains(&id) {
                return Err(ValidationError(format!(
                    "{field} would create a cycle: {}",
                    names.join(" → ")
                ))
                .into());
            }
            if seen.len() > MAX_JUMP_CHAIN {
                return Err(ValidationError(format!(
                    "{field}: the jump chain is longer than {MAX_JUMP_CHAIN} hops"
                ))
                .into());
            }
            seen.push(id);
            cur = next;
        }
        Ok(())
    }

    fn users_of(&self, c: &Connection, kind: Kind, id: &str) -> SResult<Vec<String>> {
        let queries: &[(&str, Kind, &str)] = match kind {
            Kind::Profile => &[
                ("tunnels", Kind::Tunnel, "profile_id"),
                ("jump_hosts", Kind::JumpHost, "profile_id"),
                ("sessions", Kind::Session, "profile_id"),
            ],
            Kind::JumpHost => &[
                ("tunnels", Kind::Tunnel, "jump_host_id"),
                ("jump_hosts", Kind::JumpHost, "jump_host_id"),
                ("profiles", Kind::Profile, "jump_host_id"),
                ("sessions", Kind::Session, "jump_host_id"),
            ],
            Kind::Session => &[
                ("tunnels", Kind::Tunnel, "jump_session_id"),
                ("profiles", Kind::Profile, "jump_session_id"),
                ("sessions", Kind::Session, "jump_session_id"),
            ],
            Kind::Tunnel => &[],
        };
        let mut users = Vec::new();
        for (table, k, col) in queries {
            let mut st = c
                .prepare(&format!(
                    "SELECT name FROM {table} WHERE {col} = ?1 AND id <> ?1 ORDER BY name"
                ))
                .map_err(self.sq())?;
            let names = st
                .query_map([id], |r| r.get::<_, String>(0))
                .map_err(self.sq())?;
            for n in names {
                users.push(format!("{} '{}'", k.lower(), n.map_err(self.sq())?));
            }
        }
        Ok(users)
    }

    fn delete_row(&self, kind: Kind, id: &str) -> SResult<()> {
        self.write(|tx| {
            let Some(name) = self.name_of(tx, kind, id)? else {
                return Err(not_found(kind, id));
            };
            let users = self.users_of(tx, kind, id)?;
            if !users.is_empty() {
                return Err(StoreError::InUse { kind, name, users });
            }
            tx.execute(&format!("DELETE FROM {} WHERE id = ?1", table(kind)), [id])
                .map_err(self.sq())?;
            Ok(())
        })
    }

    // -----------------------------------------------------------------------------------------
    // tunnels

    /// Every tunnel, oldest first.
    pub fn list_tunnels(&self) -> SResult<Vec<Tunnel>> {
        self.read(|c| self.all_rows(c, TUNNEL_SELECT, tunnel_row))
    }

    /// Every tunnel, oldest first, shared: read from the database only after a write.
    pub fn tunnels(&self) -> SResult<Arc<Vec<Tunnel>>> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some((g, t)) = &*self.tunnels.lock().expect("tunnel cache lock") {
            if *g == generation {
                return Ok(t.clone());
            }
        }
        // A write that lands while this reads makes the entry stale at once: it is stored
        // under the generation read before, which the write has moved past.
        let t = Arc::new(self.list_tunnels()?);
        *self.tunnels.lock().expect("tunnel cache lock") = Some((generation, t.clone()));
        Ok(t)
    }

    /// One tunnel.
    pub fn get_tunnel(&self, id: &str) -> SResult<Tunnel> {
        self.read(|c| self.one_row(c, TUNNEL_SELECT, tunnel_row, Kind::Tunnel, id))
    }

    /// Saves a new tunnel.
    pub fn create_tunnel(&self, f: &TunnelFields) -> SResult<Tunnel> {
        let id = new_id("tun_");
        let ts = now();
        self.write(|tx| {
            self.check_tunnel_refs(tx, f)?;
            tx.execute(
                "INSERT INTO tunnels (id, name, host, port, profile_id, jump_host_id,
                    jump_session_id, forward_type, local_port, bind_address, remote_host,
                    remote_port, auto_start, auto_reconnect, max_retries, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
                params![
                    id,
                    f.name,
                    f.host,
                    f.port,
                    f.profile_id,
                    f.jump_host_id,
                    f.jump_session_id,
                    f.forward_type.as_str(),
                    f.local_port,
                    f.bind_address,
                    f.remote_host,
                    f.remote_port,
                    f.auto_start,
                    f.auto_reconnect,
                    f.max_retries,
                    ts
                ],
            )
            .map_err(self.sq())?;
            Ok(())
        })?;
        self.get_tunnel(&id)
    }

    fn check_tunnel_refs(&self, c: &Connection, f: &TunnelFields) -> SResult<()> {
        self.check_refs(
            c,
            Some(&f.profile_id),
            f.jump_host_id.as_deref(),
            f.jump_session_id.as_deref(),
        )
    }

    /// Replaces a tunnel's definition.
    pub fn update_tunnel(&self, id: &str, f: &TunnelFields) -> SResult<Tunnel> {
        self.write(|tx| {
            if self.name_of(tx, Kind::Tunnel, id)?.is_none() {
                return Err(not_found(Kind::Tunnel, id));
            }
            self.check_tunnel_refs(tx, f)?;
            tx.execute(
                "UPDATE tunnels SET name = ?2, host = ?3, port = ?4, profile_id = ?5,
                    jump_host_id = ?6, jump_session_id = ?7, forward_type = ?8, local_port = ?9,
                    bind_address = ?10, remote_host = ?11, remote_port = ?12, auto_start = ?13,
                    auto_reconnect = ?14, max_retries = ?15, updated_at = ?16
                 WHERE id = ?1",
                params![
                    id,
                    f.name,
                    f.host,
                    f.port,
                    f.profile_id,
                    f.jump_host_id,
                    f.jump_session_id,
                    f.forward_type.as_str(),
                    f.local_port,
                    f.bind_address,
                    f.remote_host,
                    f.remote_port,
                    f.auto_start,
                    f.auto_reconnect,
                    f.max_retries,
                    now()
                ],
            )
            .map_err(self.sq())?;
            Ok(())
        })?;
        self.get_tunnel(id)
    }

    /// Deletes a tunnel.
    pub fn delete_tunnel(&self, id: &str) -> SResult<()> {
        self.delete_row(Kind::Tunnel, id)
    }

    // -----------------------------------------------------------------------------------------
    // profiles

    /// Every profile, oldest first (without secrets).
    pub fn list_profiles(&self) -> SResult<Vec<Profile>> {
        self.read(|c| self.all_rows(c, PROFILE_SELECT, profile_row))
    }

    /// One profile (without secrets).
    pub fn get_profile(&self, id: &str) -> SResult<Profile> {
        self.read(|c| self.one_row(c, PROFILE_SELECT, profile_row, Kind::Profile, id))
    }

    /// A profile's decrypted secrets (for the supervisor only).
    pub fn profile_secrets(&self, id: &str) -> SResult<ProfileSecrets> {
        let row: Option<(Option<String>, Option<String>)> = self.read(|c| {
            c.query_row(
                "SELECT password_enc, key_passphrase_enc FROM profiles WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sq())
        })?;
        let (pw, pp) = row.ok_or_else(|| not_found(Kind::Profile, id))?;
        let open = |v: Option<String>, field: &str| -> SResult<_> {
            v.map(|s| {
                self.cipher
                    .open(&s, &aad(id, field))
                    .map_err(|source| StoreError::Secret {
                        profile_id: id.to_string(),
                        source,
                    })
            })
            .transpose()
        };
        Ok(ProfileSecrets {
            password: open(pw, "password")?,
            key_passphrase: open(pp, "key_passphrase")?,
        })
    }

    fn seal_update(
        &self,
        id: &str,
        field: &str,
        u: &SecretUpdate,
        current: Option<String>,
    ) -> SResult<Option<String>> {
        match u {
            SecretUpdate::Keep => Ok(current),
            SecretUpdate::Clear => Ok(None),
            SecretUpdate::Set(s) => {
                self.cipher
                    .seal(s, &aad(id, field))
                    .map(Some)
                    .map_err(|source| StoreError::Secret {
                        profile_id: id.to_string(),
                        source,
                    })
            }
        }
    }

    fn check_profile_refs(&self, c: &Connection, f: &ProfileFields) -> SResult<()> {
        self.check_refs(
            c,
            None,
            f.jump_host_id.as_deref(),
            f.jump_session_id.as_deref(),
        )
    }

    /// Saves a new profile, sealing its secrets.
    pub fn create_profile(&self, f: &ProfileFields) -> SResult<Profile> {
        let id = new_id("prof_");
        let ts = now();
        let pw = self.seal_update(&id, "password", &f.password, None)?;
        let pp = self.seal_update(&id, "key_passphrase", &f.key_passphrase, None)?;
        self.write(|tx| {
            self.check_profile_refs(tx, f)?;
            tx.execute(
                "INSERT INTO profiles (id, name, username, auth_type, key_path, password_enc,
                    key_passphrase_enc, jump_host_id, jump_session_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    id,
                    f.name,
                    f.username,
                    f.auth_type.as_str(),
                    f.key_path,
                    pw,
                    pp,
                    f.jump_host_id,
                    f.jump_session_id,
                    ts
                ],
            )
            .map_err(self.sq())?;
            Ok(())
        })?;
        self.get_profile(&id)
    }

    /// Replaces a profile; absent secrets are kept, empty ones cleared.
    pub fn update_profile(&self, id: &str, f: &ProfileFields) -> SResult<Profile> {
        self.write(|tx| {
            let cur: Option<(Option<String>, Option<String>)> = tx
                .query_row(
                    "SELECT password_enc, key_passphrase_enc FROM profiles WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.sq())?;
            let Some((cur_pw, cur_pp)) = cur else {
                return Err(not_found(Kind::Profile, id));
            };
            self.check_profile_refs(tx, f)?;
            let pw = self.seal_update(id, "password", &f.password, cur_pw)?;
            let pp = self.seal_update(id, "key_passphrase", &f.key_passphrase, cur_pp)?;
            tx.execute(
                "UPDATE profiles SET name = ?2, username = ?3, auth_type = ?4, key_path = ?5,
                    password_enc = ?6, key_passphrase_enc = ?7, jump_host_id = ?8,
                    jump_session_id = ?9, updated_at = ?10
                 WHERE id = ?1",
                params![
                    id,
                    f.name,
                    f.username,
                    f.auth_type.as_str(),
                    f.key_path,
                    pw,
                    pp,
                    f.jump_host_id,
                    f.jump_session_id,
                    now()
                ],
            )
            .map_err(self.sq())?;
            Ok(())
        })?;
        self.get_profile(id)
    }

    /// Deletes a profile that nothing uses.
    pub fn delete_profile(&self, id: &str) -> SResult<()> {
        self.delete_row(Kind::Profile, id)
    }

    // -----------------------------------------------------------------------------------------
    // jump hosts

    /// Every jump host, oldest first.
    pub fn list_jump_hosts(&self) -> SResult<Vec<JumpHost>> {
        self.read(|c| self.all_rows(c, JUMP_SELECT, jump_row))
    }

    /// One jump host.
    pub fn get_jump_host(&self, id: &str) -> SResult<JumpHost> {
        self.read(|c| self.one_row(c, JUMP_SELECT, jump_row, Kind::JumpHost, id))
    }

    /// The chain of hops to reach through `id`, outermost (first to connect) first, ending with
    /// `id` itself.
    pub fn jump_chain(&self, id: &str) -> SResult<Vec<JumpHost>> {
        let mut chain = vec![self.get_jump_host(id)?];
        while let Some(next) = chain.last().and_then(|j| j.fields.jump_host_id.clone()) {
            if chain.len() > MAX_JUMP_CHAIN || chain.iter().any(|j| j.id == next) {
                return Err(ValidationError(format!(
                    "jump host '{}' has a cyclic or overlong jump chain",
                    chain[0].fields.name
                ))
                .into());
            }
            chain.push(self.get_jump_host(&next)?);
        }
        chain.reverse();
        Ok(chain)
    }

    /// Saves a new jump host.
    pub fn create_jump_host(&self, f: &JumpHostFields) -> SResult<JumpHost> {
        let id = new_id("jump_");
        let ts = now();
        self.write(|tx| {
            self.check_refs(tx, Some(&f.profile_id), f.jump_host_id.as_deref(), None)?;
            self.check_chain(tx, Kind::JumpHost, &id, &f.name, f.jump_host_id.as_deref())?;
            tx.execute(
                "INSERT INTO jump_hosts (id, name, host, port, profile_id, jump_host_id,
                    created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![id, f.name, f.host, f.port, f.profile_id, f.jump_host_id, ts],
            )
            .map_err(self.sq())?;
            Ok(())
        })?;
        self.get_jump_host(&id)
    }

    /// Replaces a jump host (a chain that would loop back to it is refused).
    pub fn update_jump_host(&self, id: &str, f: &JumpHostFields) -> SResult<JumpHost> {
        self.write(|tx| {
            if self.name_of(tx, Kind::JumpHost, id)?.is_none() {
                return Err(not_found(Kind::JumpHost, id));
            }
            self.check_refs(tx, Some(&f.profile_id), f.jump_host_id.as_deref(), None)?;
            self.check_chain(tx, Kind::JumpHost, id, &f.name, f.jump_host_id.as_deref())?;
            tx.execute(
                "UPDATE jump_hosts SET name = ?2, host = ?3, port = ?4, profile_id = ?5,
                    jump_host_id = ?6, updated_at = ?7 WHERE id = ?1",
                params![
                    id,
                    f.name,
                    f.host,
                    f.port,
                    f.profile_id,
                    f.jump_host_id,
                    now()
                ],
            )
            .map_err(self.sq())?;
            Ok(())
        })?;
        self.get_jump_host(id)
    }

    /// Deletes a jump host that nothing uses.
    pub fn delete_jump_host(&self, id: &str) -> SResult<()> {
        self.delete_row(Kind::JumpHost, id)
    }

    // -----------------------------------------------------------------------------------------
    // sessions

    fn forwards_of(&self, c: &Connection, id: &str) -> SResult<Vec<SessionForward>> {
        let mut st = c
            .prepare(
                "SELECT forward_type, local_port, bind_address, remote_host, remote_port, enabled
                 FROM session_forwards WHERE session_id = ?1 ORDER BY position",
            )
            .map_err(self.sq())?;
        let rows = st
            .query_map([id], |r| {
                Ok(SessionForward {
                    forward_type: forward_type_col(r, 0)?,
                    local_port: r.get(1)?,
                    bind_address: r.get(2)?,
                    remote_host: r.get(3)?,
                    remote_port: r.get(4)?,
                    enabled: r.get(5)?,
                })
            })
            .map_err(self.sq())?;
        rows.collect::<Result<_, _>>().map_err(self.sq())
    }

    fn session_with_forwards(&self, c: &Connection, mut s: Session) -> SResult<Session> {
        s.fields.forwards = self.forwards_of(c, &s.id)?;
        Ok(s)
    }

    /// Every session with its forwards, oldest first (`connected` is false; the API fills it).
    pub fn list_sessions(&self) -> SResult<Vec<Session>> {
        self.read(|c| {
            let rows = self.all_rows(c, SESSION_SELECT, session_row)?;
            rows.into_iter()
                .map(|s| self.session_with_forwards(c, s))
                .collect()
        })
    }

    /// One session with its forwards.
    pub fn get_session(&self, id: &str) -> SResult<Session> {
        self.read(|c| {
            let s = self.one_row(c, SESSION_SELECT, session_row, Kind::Session, id)?;
            self.session_with_forwards(c, s)
        })
    }

    fn write_forwards(&self, tx: &Transaction<'_>, id: &str, f: &SessionFields) -> SResult<()> {
        tx.execute("DELETE FROM session_forwards WHERE session_id = ?1", [id])
            .map_err(self.sq())?;
        for (i, fw) in f.forwards.iter().enumerate() {
            tx.execute(
                "INSERT INTO session_forwards (session_id, position, forward_type, local_port,
                    bind_address, remote_host, remote_port, enabled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    i as i64,
                    fw.forward_type.as_str(),
                    fw.local_port,
                    fw.bind_address,
                    fw.remote_host,
                    fw.remote_port,
                    fw.enabled
                ],
            )
            .map_err(self.sq())?;
        }
        Ok(())
    }

    fn check_session(&self, c: &Connection, id: &str, f: &SessionFields) -> SResult<()> {
        self.check_refs(
            c,
            Some(&f.profile_id),
            f.jump_host_id.as_deref(),
            f.jump_session_id.as_deref(),
        )?;
        self.check_chain(c, Kind::Session, id, &f.name, f.jump_session_id.as_deref())
    }

    /// Saves a new session and its forwards.
    pub fn create_session(&self, f: &SessionFields) -> SResult<Session> {
        let id = new_id("sess_");
        let ts = now();
        self.write(|tx| {
            self.check_session(tx, &id, f)?;
            tx.execute(
                "INSERT INTO sessions (id, name, host, port, profile_id, jump_host_id,
                    jump_session_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    id,
                    f.name,
                    f.host,
                    f.port,
                    f.profile_id,
                    f.jump_host_id,
                    f.jump_session_id,
                    ts
                ],
            )
            .map_err(self.sq())?;
            self.write_forwards(tx, &id, f)
        })?;
        self.get_session(&id)
    }

    /// Replaces a session and its forwards.
    pub fn update_session(&self, id: &str, f: &SessionFields) -> SResult<Session> {
        self.write(|tx| {
            if self.name_of(tx, Kind::Session, id)?.is_none() {
                return Err(not_found(Kind::Session, id));
            }
            self.check_session(tx, id, f)?;
            tx.execute(
                "UPDATE sessions SET name = ?2, host = ?3, port = ?4, profile_id = ?5,
                    jump_host_id = ?6, jump_session_id = ?7, updated_at = ?8 WHERE id = ?1",
                params![
                    id,
                    f.name,
                    f.host,
                    f.port,
                    f.profile_id,
                    f.jump_host_id,
                    f.jump_session_id,
                    now()
                ],
            )
            .map_err(self.sq())?;
            self.write_forwards(tx, id, f)
        })?;
        self.get_session(id)
    }

    /// `Ok` if the session exists and nothing uses it as a jump (so it can be disconnected
    /// before [`Store::delete_session`]); else `NotFound` / `InUse`.
    pub fn check_deletable_session(&self, id: &str) -> SResult<()> {
        self.read(|c| {
            let Some(name) = self.name_of(c, Kind::Session, id)? else {
                return Err(not_found(Kind::Session, id));
            };
            let users = self.users_of(c, Kind::Session, id)?;
            if users.is_empty() {
                Ok(())
            } else {
                Err(StoreError::InUse {
                    kind: Kind::Session,
                    name,
                    users,
                })
            }
        })
    }

    /// Deletes a session that nothing uses as a jump (its forwards go with it).
    pub fn delete_session(&self, id: &str) -> SResult<()> {
        self.delete_row(Kind::Session, id)
    }
}

/// Checks an existing, non-empty file without writing to it: header, schema version, integrity.
fn preflight(path: &Path) -> SResult<()> {
    let mut header = [0u8; 16];
    let n = File::open(path)
        .and_then(|mut f| {
            let mut read = 0;
            while read < header.len() {
                match f.read(&mut header[read..])? {
                    0 => break,
                    k => read += k,
                }
            }
            Ok(read)
        })
        .map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if n < header.len() || &header != SQLITE_MAGIC {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(corrupt)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let mut st = conn.prepare("PRAGMA integrity_check").map_err(corrupt)?;
    let problems: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(corrupt)?
        .collect::<Result<_, _>>()
        .map_err(corrupt)?;
    if problems.len() != 1 || problems[0] != "ok" {
        let mut detail = problems.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if detail.is_empty() {
            detail = "integrity check returned nothing".into();
        }
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        });
    }
    Ok(())
}

fn not_found(kind: Kind, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Tunnel => "tunnels",
        Kind::Profile => "profiles",
        Kind::JumpHost => "jump_hosts",
        Kind::Session => "sessions",
    }
}

fn aad(profile_id: &str, field: &str) -> String {
    format!("profile:{profile_id}:{field}")
}

fn bad_value(col: usize, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unexpected value '{v}'").into(),
    )
}

fn forward_type_col(r: &Row<'_>, i: usize) -> rusqlite::Result<ForwardType> {
    let s: String = r.get(i)?;
    ForwardType::parse(&s).ok_or_else(|| bad_value(i, &s))
}

const TUNNEL_SELECT: &str = "SELECT id, name, host, port, profile_id, jump_host_id,
    jump_session_id, forward_type, local_port, bind_address, remote_host, remote_port,
    auto_start, auto_reconnect, max_retries, created_at, updated_at FROM tunnels";

fn tunnel_row(r: &Row<'_>) -> rusqlite::Result<Tunnel> {
    Ok(Tunnel {
        id: r.get(0)?,
        fields: TunnelFields {
            name: r.get(1)?,
            host: r.get(2)?,
            port: r.get(3)?,
            profile_id: r.get(4)?,
            jump_host_id: r.get(5)?,
            jump_session_id: r.get(6)?,
            forward_type: forward_type_col(r, 7)?,
            local_port: r.get(8)?,
            bind_address: r.get(9)?,
            remote_host: r.get(10)?,
            remote_port: r.get(11)?,
            auto_start: r.get(12)?,
            auto_reconnect: r.get(13)?,
            max_retries: r.get(14)?,
        },
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

const PROFILE_SELECT: &str = "SELECT id, name, username, auth_type, key_path,
    password_enc IS NOT NULL, key_passphrase_enc IS NOT NULL, jump_host_id, jump_session_id,
    created_at, updated_at FROM profiles";

fn profile_row(r: &Row<'_>) -> rusqlite::Result<Profile> {
    let at: String = r.get(3)?;
    Ok(Profile {
        id: r.get(0)?,
        name: r.get(1)?,
        username: r.get(2)?,
        auth_type: AuthType::parse(&at).ok_or_else(|| bad_value(3, &at))?,
        key_path: r.get(4)?,
        has_password: r.get(5)?,
        has_passphrase: r.get(6)?,
        jump_host_id: r.get(7)?,
        jump_session_id: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

const JUMP_SELECT: &str = "SELECT id, name, host, port, profile_id, jump_host_id, created_at,
    updated_at FROM jump_hosts";

fn jump_row(r: &Row<'_>) -> rusqlite::Result<JumpHost> {
    Ok(JumpHost {
        id: r.get(0)?,
        fields: JumpHostFields {
            name: r.get(1)?,
            host: r.get(2)?,
            port: r.get(3)?,
            profile_id: r.get(4)?,
            jump_host_id: r.get(5)?,
        },
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

const SESSION_SELECT: &str = "SELECT id, name, host, port, profile_id, jump_host_id,
    jump_session_id, created_at, updated_at FROM sessions";

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        fields: SessionFields {
            name: r.get(1)?,
            host: r.get(2)?,
            port: r.get(3)?,
            profile_id: r.get(4)?,
            jump_host_id: r.get(5)?,
            jump_session_id: r.get(6)?,
            forwards: Vec::new(),
        },
        connected: false,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

/// Creates `path` (empty) if missing and makes it 0600.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JumpHostInput, ProfileInput, SessionInput, TunnelInput};
    use crate::secrets::Secret;
    use serde_json::json;

    fn store(dir: &Path) -> Store {
        Store::open(&dir.join("portwarden.db"), &SecretKey::from_bytes([7; 32])).unwrap()
    }

    fn profile(s: &Store, name: &str, pw: Option<&str>) -> Profile {
        let mut v = json!({"name": name, "username": "admin", "auth_type": "password"});
        if let Some(pw) = pw {
            v["password"] = json!(pw);
        }
        let f = serde_json::from_value::<ProfileInput>(v)
            .unwrap()
            .validate()
            .unwrap();
        s.create_profile(&f).unwrap()
    }

    fn jump_fields(name: &str, profile: &str, next: Option<&str>) -> JumpHostFields {
        serde_json::from_value::<JumpHostInput>(
            json!({"name": name, "host": "bastion", "profile_id": profile, "jump_host_id": next}),
        )
        .unwrap()
        .validate()
        .unwrap()
    }

    fn tunnel_fields(profile: &str) -> TunnelFields {
        serde_json::from_value::<TunnelInput>(json!({"name": "Switch UI", "host": "h",
            "profile_id": profile, "forward_type": "local", "local_port": 8443,
            "remote_host": "10.0.0.5", "remote_port": 443}))
        .unwrap()
        .validate()
        .unwrap()
    }

    #[test]
    fn ids_have_prefix_and_12_lowercase_alnum() {
        for p in ["tun_", "prof_", "jump_", "sess_"] {
            let id = new_id(p);
            let tail = id.strip_prefix(p).unwrap();
            assert_eq!(tail.len(), 12);
            assert!(tail
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        }
        assert_ne!(new_id("tun_"), new_id("tun_"));
    }

    #[test]
    fn shared_tunnel_list_follows_every_write() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = profile(&s, "ops", None);
        assert!(s.tunnels().unwrap().is_empty());
        let t = s.create_tunnel(&tunnel_fields(&p.id)).unwrap();
        let first = s.tunnels().unwrap();
        assert_eq!(*first, vec![t.clone()]);
        // Unchanged store: the same list, not a new read.
        assert!(Arc::ptr_eq(&first, &s.tunnels().unwrap()));
        let mut f = t.fields.clone();
        f.name = "Renamed".into();
        s.update_tunnel(&t.id, &f).unwrap();
        assert_eq!(s.tunnels().unwrap()[0].fields.name, "Renamed");
        s.delete_tunnel(&t.id).unwrap();
        assert!(s.tunnels().unwrap().is_empty());
        // A write to another kind moves the generation too (and the list is read again).
        let before = s.tunnels().unwrap();
        profile(&s, "other", None);
        assert!(!Arc::ptr_eq(&before, &s.tunnels().unwrap()));
    }

    #[test]
    fn lists_keep_creation_order_within_a_millisecond() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = profile(&s, "ops", None);
        let mut names = Vec::new();
        for i in 0..20 {
            let mut f = tunnel_fields(&p.id);
            f.name = format!("t{i}");
            s.create_tunnel(&f).unwrap();
            names.push(f.name);
        }
        // The same created_at for all (as when created within one millisecond): ids are random,
        // so only the insertion order can keep the list stable.
        s.lock()
            .execute(
                "UPDATE tunnels SET created_at = '2026-01-01T00:00:00.000Z'",
                [],
            )
            .unwrap();
        let listed: Vec<_> = s
            .list_tunnels()
            .unwrap()
            .into_iter()
            .map(|t| t.fields.name)
            .collect();
        assert_eq!(listed, names);
    }

    #[test]
    fn tunnel_crud_and_missing_refs() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = profile(&s, "ops", None);
        let t = s.create_tunnel(&tunnel_fields(&p.id)).unwrap();
        assert!(t.id.starts_with("tun_"));
        assert_eq!(t.created_at, t.updated_at);
        assert_eq!(s.list_tunnels().unwrap(), vec![t.clone()]);
        let mut f = t.fields.clone();
        f.name = "Renamed".into();
        let u = s.update_tunnel(&t.id, &f).unwrap();
        assert_eq!(u.fields.name, "Renamed");
        assert_eq!(u.created_at, t.created_at);
        let e = s.create_tunnel(&tunnel_fields("prof_nope")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "profile_id 'prof_nope' does not exist (no profile with that id)"
        );
        let mut f2 = tunnel_fields(&p.id);
        f2.jump_host_id = Some("jump_nope".into());
        assert!(matches!(
            s.create_tunnel(&f2),
            Err(StoreError::Invalid(ValidationError(m))) if m.contains("jump_host_id 'jump_nope' does not exist")
        ));
        s.delete_tunnel(&t.id).unwrap();
        assert_eq!(
            s.get_tunnel(&t.id).unwrap_err().to_string(),
            format!("Tunnel not found: {}", t.id)
        );
        assert!(matches!(
            s.delete_tunnel(&t.id),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn secrets_are_sealed_kept_and_cleared() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = profile(&s, "ops", Some("correct horse battery staple"));
        assert!(p.has_password);
        assert!(!p.has_passphrase);
        assert_eq!(
            s.profile_secrets(&p.id).unwrap().password.unwrap().expose(),
            "correct horse battery staple"
        );
        // keep on absent
        let keep = ProfileFields {
            name: "ops2".into(),
            username: "root".into(),
            auth_type: AuthType::Key,
            key_path: Some("/k".into()),
            jump_host_id: None,
            jump_session_id: None,
            password: SecretUpdate::Keep,
            key_passphrase: SecretUpdate::Set(Secret::new("pp")),
        };
        let p2 = s.update_profile(&p.id, &keep).unwrap();
        assert!(p2.has_password && p2.has_passphrase);
        let sec = s.profile_secrets(&p.id).unwrap();
        assert_eq!(
            sec.password.unwrap().expose(),
            "correct horse battery staple"
        );
        assert_eq!(sec.key_passphrase.unwrap().expose(), "pp");
        let clear = ProfileFields {
            password: SecretUpdate::Clear,
            key_passphrase: SecretUpdate::Keep,
            ..keep
        };
        let p3 = s.update_profile(&p.id, &clear).unwrap();
        assert!(!p3.has_password && p3.has_passphrase);
        drop(s);
        // the file never holds the plaintext
        let mut bytes = Vec::new();
        for f in std::fs::read_dir(d.path()).unwrap() {
            bytes.extend(std::fs::read(f.unwrap().path()).unwrap());
        }
        assert!(!bytes
            .windows(b"correct horse".len())
            .any(|w| w == b"correct horse"));
        // a different key cannot open them: typed error, no panic
        let other = Store::open(
            &d.path().join("portwarden.db"),
            &SecretKey::from_bytes([8; 32]),
        )
        .unwrap();
        assert!(matches!(
            other.profile_secrets(&p.id),
            Err(StoreError::Secret {
                source: SecretError::Decrypt,
                ..
            })
        ));
    }

    #[test]
    fn in_use_profiles_and_jumps_cannot_be_deleted() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = profile(&s, "ops", None);
        let j = s
            .create_jump_host(&jump_fields("bastion", &p.id, None))
            .unwrap();
        let mut tf = tunnel_fields(&p.id);
        tf.jump_host_id = Some(j.id.clone());
        s.create_tunnel(&tf).unwrap();
        let e = s.delete_profile(&p.id).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Profile 'ops' is in use by tunnel 'Switch UI', jump host 'bastion'; change or delete them first"
        );
        let e = s.delete_jump_host(&j.id).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Jump host 'bastion' is in use by tunnel 'Switch UI'; change or delete them first"
        );
        let sess = s
            .create_session(
                &serde_json::from_value::<SessionInput>(json!({"name": "core", "host": "h",
                    "profile_id": p.id, "forwards": [{"forward_type": "dynamic", "local_port": 1080}]}))
                .unwrap()
                .validate()
                .unwrap(),
            )
            .unwrap();
        assert_eq!(sess.fields.forwards.len(), 1);
        let mut pf = ProfileFields {
            name: "other".into(),
            username: "u".into(),
            auth_type: AuthType::Agent,
            key_path: None,
            jump_host_id: None,
            jump_session_id: Some(sess.id.clone()),
            password: SecretUpdate::Keep,
            key_passphrase: SecretUpdate::Keep,
        };
        let p2 = s.create_profile(&pf).unwrap();
        let e = s.delete_session(&sess.id).unwrap_err().to_string();
        assert_eq!(
            e,
            "Session 'core' is in use by profile 'other'; change or delete them first"
        );
        pf.jump_session_id = None;
        s.update_profile(&p2.id, &pf).unwrap();
        s.delete_session(&sess.id).unwrap();
        s.delete_profile(&p2.id).unwrap();
    }

    #[test]
    fn jump_cycles_are_refused_with_the_chain() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let p = profile(&s, "ops", None);
        let a = s.create_jump_host(&jump_fields("a", &p.id, None)).unwrap();
        let b = s
            .create_jump_host(&jump_fields("b", &p.id, Some(&a.id)))
            .unwrap();
        let c = s
            .create_jump_host(&jump_fields("c", &p.id, Some(&b.id)))
            .unwrap();
        let chain: Vec<_> = s
            .jump_chain(&c.id)
            .unwrap()
            .into_iter()
            .map(|j| j.fields.name)
            .collect();
        assert_eq!(chain, ["a", "b", "c"]);
        let e = s
            .update_jump_host(&a.id, &jump_fields("a", &p.id, Some(&c.id)))
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)));
        assert_eq!(
            e.to_string(),
            "jump_host_id would create a cycle: a → c → b → a"
        );
        let e = s
            .update_jump_host(&a.id, &jump_fields("a", &p.id, Some(&a.id)))
            .unwrap_err();
        assert_eq!(e.to_string(), "jump_host_id would create a cycle: a → a");
        // session cycles too
        let sf = |name: &str, js: Option<&str>| {
            serde_json::from_value::<SessionInput>(json!({"name": name, "host": "h",
                "profile_id": p.id, "jump_session_id": js}))
            .unwrap()
            .validate()
            .unwrap()
        };
        let s1 = s.create_session(&sf("one", None)).unwrap();
        let s2 = s.create_session(&sf("two", Some(&s1.id))).unwrap();
        let e = s
            .update_session(&s1.id, &sf("one", Some(&s2.id)))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "jump_session_id would create a cycle: one → two → one"
        );
    }

    #[test]
    fn reopen_keeps_data_and_migrations_are_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let id = {
            let s = store(d.path());
            assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
            profile(&s, "ops", Some("pw")).id
        };
        for _ in 0..3 {
            let s = store(d.path());
            assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
            assert_eq!(s.list_profiles().unwrap().len(), 1);
            assert_eq!(
                s.profile_secrets(&id).unwrap().password.unwrap().expose(),
                "pw"
            );
        }
    }

    #[test]
    fn not_a_database_corrupt_and_newer_are_refused_untouched() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("portwarden.db");
        let key = SecretKey::from_bytes([1; 32]);
        std::fs::write(&path, b"this is not a database, just text\n".repeat(50)).unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = Store::open(&path, &key).unwrap_err();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
        assert!(e.to_string().contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).unwrap(), before);

        // newer schema
        std::fs::remove_file(&path).unwrap();
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE x (a); PRAGMA user_version = 99;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let e = Store::open(&path, &key).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "database {} was written by a newer portwarden (schema 99 > {SCHEMA_VERSION}); refusing to touch it",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
