//! The agent's data directory: where it is, its permissions, and the small files in it.
//!
//! Owns: choosing the default location (`$XDG_DATA_HOME/portwarden`, else
//! `~/.local/share/portwarden`), creating it `0700`, the `api-token` and `secret.key` files
//! (random, `0600`, created once and reused), `agent.addr` (where the running agent listens, for
//! the CLI) and the paths of `portwarden.db` and the agent's `known_hosts`.
//!
//! Must not touch: the database contents (see `store`), the known_hosts contents (see
//! `proto::known_hosts` and the supervisor), or anything outside the data directory.
//!
//! Files are created atomically (written to a temporary name, then hard-linked into place so an
//! existing file is never overwritten). A file with a mode looser than `0600` (or a directory
//! looser than `0700`) is tightened; if that is impossible (not ours) it is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use zeroize::Zeroizing;

use crate::secrets::SecretKey;

/// Name of the SQLite database file inside the data directory.
pub const DB_FILE: &str = "portwarden.db";
/// Name of the API token file.
pub const API_TOKEN_FILE: &str = "api-token";
/// Name of the key that encrypts secrets at rest.
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Name of the file holding the running agent's listen address.
pub const AGENT_ADDR_FILE: &str = "agent.addr";
/// Name of the agent's own known_hosts (OpenSSH format).
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";

/// Errors about the data directory and its files.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Neither `$XDG_DATA_HOME` nor `$HOME` is set, so there is no default location.
    #[error(
        "cannot find a data directory: neither XDG_DATA_HOME nor HOME is set; pass --data-dir"
    )]
    NoDefault,
    /// An I/O operation on a path failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("creating", "reading", …).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A path exists but is not what it must be (a symlink, a directory instead of a file, …).
    #[error("{path} is not a {expected}; move it away and start again")]
    WrongKind {
        /// The path concerned.
        path: PathBuf,
        /// "regular file" or "directory".
        expected: &'static str,
    },
    /// The permissions are too open and could not be tightened.
    #[error("{path} has mode {mode:o}, which is too open, and it could not be changed to {wanted:o}: {source}")]
    TooOpen {
        /// The path concerned.
        path: PathBuf,
        /// Its current mode bits.
        mode: u32,
        /// The mode it must have.
        wanted: u32,
        /// Why tightening failed.
        #[source]
        source: io::Error,
    },
    /// A file exists but its contents are not what the agent writes there.
    #[error("{path} is malformed ({reason}); {hint}")]
    Malformed {
        /// The path concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// What to do about it.
        hint: &'static str,
    },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DataDirError + 'a {
    move |source| DataDirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The data directory, created and checked. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The default location: `$XDG_DATA_HOME/portwarden`, else `~/.local/share/portwarden`.
    pub fn default_path() -> Result<PathBuf, DataDirError> {
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            let p = PathBuf::from(x);
            if p.is_absolute() {
                return Ok(p.join("portwarden"));
            }
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".local/share/portwarden")),
            None => Err(DataDirError::NoDefault),
        }
    }

    /// Opens (creating if needed, mode `0700`) the data directory at `path`, or at the default
    /// location when `path` is `None`.
    pub fn open(path: Option<&Path>) -> Result<DataDir, DataDirError> {
        let root = match path {
            Some(p) => p.to_path_buf(),
            None => Self::default_path()?,
        };
        match fs::symlink_metadata(&root) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&root)
                    .map_err(io_err("creating", &root))?;
                tracing::info!(path = %root.display(), "created data directory");
            }
            Err(e) => return Err(io_err("inspecting", &root)(e)),
        }
        // Follow a symlinked data dir (a user may keep it elsewhere) but require a directory.
        let meta = fs::metadata(&root).map_err(io_err("inspecting", &root))?;
        if !meta.is_dir() {
            return Err(DataDirError::WrongKind {
                path: root,
                expected: "directory",
            });
        }
        tighten(&root, meta.permissions().mode(), 0o700)?;
        Ok(DataDir { root })
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `portwarden.db`.
    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    /// The agent's own known_hosts (written by the agent when a key is trusted).
    pub fn known_hosts_path(&self) -> PathBuf {
        self.root.join(KNOWN_HOSTS_FILE)
    }

    /// `agent.addr`.
    pub fn agent_addr_path(&self) -> PathBuf {
        self.root.join(AGENT_ADDR_FILE)
    }

    /// `api-token`.
    pub fn api_token_path(&self) -> PathBuf {
        self.root.join(API_TOKEN_FILE)
    }

    /// Loads the API token, creating it (32 random bytes, hex, `0600`) on first use.
    pub fn load_or_create_api_token(&self) -> Result<Zeroizing<String>, DataDirError> {
        let path = self.api_token_path();
        let raw = load_or_create_random(&path)?;
        Ok(Zeroizing::new(hex::encode(&raw[..])))
    }

    /// Reads the API token without creating it (for clients such as the CLI).
    /// `Ok(None)` when the file does not exist.
    pub fn read_api_token(&self) -> Result<Option<Zeroizing<String>>, DataDirError> {
        let path = self.api_token_path();
        match read_secret_file(&path)? {
            Some(raw) => Ok(Some(Zeroizing::new(hex::encode(&raw[..])))),
            None => Ok(None),
        }
    }

    /// Loads the key that encrypts secrets at rest, creating it on first use. Never regenerated
    /// once it exists: a malformed key file is an error (regenerating would lose every secret).
    pub fn load_or_create_secret_key(&self) -> Result<SecretKey, DataDirError> {
        let path = self.root.join(SECRET_KEY_FILE);
        let raw = load_or_create_random(&path)?;
        Ok(SecretKey::from_bytes(*raw))
    }

    /// Writes `agent.addr` with the address the agent actually listens on.
    pub fn write_agent_addr(&self, addr: SocketAddr) -> Result<(), DataDirError> {
        let path = self.agent_addr_path();
        let tmp = tmp_name(&path);
        write_new_file(&tmp, format!("{addr}\n").as_bytes())?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("writing", &path)(e)
        })
    }

    /// Removes `agent.addr` (on clean shutdown). A missing file is fine.
    pub fn remove_agent_addr(&self) {
        let path = self.agent_addr_path();
        if let Err(e) = fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "could not remove agent.addr");
            }
        }
    }

    /// Reads `agent.addr`; `Ok(None)` when no agent has written one.
    pub fn read_agent_addr(&self) -> Result<Option<SocketAddr>, DataDirError> {
        let path = self.agent_addr_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|e| DataDirError::Malformed {
                path,
                reason: format!("{e}"),
                hint: "delete it; the agent rewrites it when it starts",
            })
    }
}

/// Chmods `path` to `wanted` when any bit outside `wanted` is set.
fn tighten(path: &Path, mode: u32, wanted: u32) -> Result<(), DataDirError> {
    let bits = mode & 0o777;
    if bits & !wanted == 0 {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(wanted)).map_err(|source| {
        DataDirError::TooOpen {
            path: path.to_path_buf(),
            mode: bits,
            wanted,
            source,
        }
    })?;
    tracing::warn!(path = %path.display(), old = format!("{bits:o}"), new = format!("{wanted:o}"), "tightened permissions");
    Ok(())
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut rnd = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut rnd);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp.{}", hex::encode(rnd)))
}

/// Creates `path` (which must not exist) with mode 0600, writes `bytes`, fsyncs.
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("creating", path))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| {
        let _ = fs::remove_file(path);
        io_err("writing", path)(e)
    })
}

/// Reads a hex-encoded 32-byte secret file, checking it is a regular 0600 file.
fn read_secret_file(path: &Path) -> Result<Option<Zeroizing<[u8; 32]>>, DataDirError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("inspecting", path)(e)),
    };
    if !meta.file_type().is_file() {
        return Err(DataDirError::WrongKind {
            path: path.to_path_buf(),
            expected: "regular file",
        });
    }
    tighten(path, meta.permissions().mode(), 0o600)?;
    let mut text = Zeroizing::new(String::new());
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(io_err("reading", path))?;
    let mut out = Zeroizing::new([0u8; 32]);
    let trimmed = text.trim();
    if trimmed.len() != 64 || hex::decode_to_slice(trimmed, &mut out[..]).is_err() {
        return Err(DataDirError::Malformed {
            path: path.to_path_buf(),
            reason: "expected 64 hexadecimal characters".into(),
            hint: if path.file_name().is_some_and(|n| n == SECRET_KEY_FILE) {
                "restore it from a backup; deleting it makes every saved password unreadable"
            } else {
                "delete it and restart the agent to generate a new one"
            },
        });
    }
    Ok(Some(out))
}

/// Loads a 32-byte random secret file, creating it atomically when absent.
fn load_or_create_random(path: &Path) -> Result<Zeroizing<[u8; 32]>, DataDirError> {
    if let Some(v) = read_secret_file(path)? {
        return Ok(v);
    }
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut raw[..]);
    let text = Zeroizing::new(format!("{}\n", hex::encode(&raw[..])));
    let tmp = tmp_name(path);
    write_new_file(&tmp, text.as_bytes())?;
    // hard_link fails if `path` appeared meanwhile (another agent): then use theirs.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(path);
            tracing::info!(path = %path.display(), "created");
            Ok(raw)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_secret_file(path)?
            .ok_or_else(|| io_err("reading", path)(io::ErrorKind::NotFound.into())),
        Err(e) => Err(io_err("creating", path)(e)),
    }
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_dir_0700_and_files_0600_and_reuses_them() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/b/portwarden");
        let dd = DataDir::open(Some(&root)).unwrap();
        assert_eq!(mode(&root), 0o700);
        let t1 = dd.load_or_create_api_token().unwrap();
        assert_eq!(t1.len(), 64);
        assert!(t1.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(mode(&dd.api_token_path()), 0o600);
        let t2 = DataDir::open(Some(&root))
            .unwrap()
            .load_or_create_api_token()
            .unwrap();
        assert_eq!(*t1, *t2);
        assert_eq!(dd.read_api_token().unwrap().as_deref(), Some(&*t1));
        let k1 = dd.load_or_create_secret_key().unwrap();
        let k2 = dd.load_or_create_secret_key().unwrap();
        assert_eq!(k1.as_bytes(), k2.as_bytes());
        assert_eq!(mode(&root.join(SECRET_KEY_FILE)), 0o600);
        // no temp files left behind
        let names: Vec<_> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");
    }

    #[test]
    fn too_open_modes_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pw");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let dd = DataDir::open(Some(&root)).unwrap();
        assert_eq!(mode(&root), 0o700);
        dd.load_or_create_api_token().unwrap();
        fs::set_permissions(dd.api_token_path(), fs::Permissions::from_mode(0o644)).unwrap();
        dd.load_or_create_api_token().unwrap();
        assert_eq!(mode(&dd.api_token_path()), 0o600);
    }

    #[test]
    fn malformed_or_wrong_kind_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::open(Some(tmp.path())).unwrap();
        fs::write(dd.path().join(SECRET_KEY_FILE), "short\n").unwrap();
        let err = dd.load_or_create_secret_key().unwrap_err().to_string();
        assert!(err.contains("secret.key is malformed"), "{err}");
        assert!(err.contains("backup"), "{err}");
        // left as it was
        assert_eq!(
            fs::read_to_string(dd.path().join(SECRET_KEY_FILE)).unwrap(),
            "short\n"
        );
        fs::create_dir(dd.api_token_path()).unwrap();
        let err = dd.load_or_create_api_token().unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
    }

    #[test]
    fn agent_addr_roundtrip_and_removal() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::open(Some(tmp.path())).unwrap();
        assert_eq!(dd.read_agent_addr().unwrap(), None);
        let a: SocketAddr = "127.0.0.1:7077".parse().unwrap();
        dd.write_agent_addr(a).unwrap();
        let b: SocketAddr = "[::1]:40000".parse().unwrap();
        dd.write_agent_addr(b).unwrap();
        assert_eq!(dd.read_agent_addr().unwrap(), Some(b));
        dd.remove_agent_addr();
        assert_eq!(dd.read_agent_addr().unwrap(), None);
        dd.remove_agent_addr();
    }

    #[test]
    fn a_file_in_place_of_the_dir_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, "x").unwrap();
        let err = DataDir::open(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
