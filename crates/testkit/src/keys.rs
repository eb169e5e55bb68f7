//! Key generation with the system `ssh-keygen`: client keys, host keys, encrypted keys and
//! legacy PEM keys, so tests exercise the same files a user would have.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Key algorithm passed to `ssh-keygen -t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ecdsa-sha2-nistp256` (ssh-keygen's default curve).
    Ecdsa,
    /// `ssh-rsa` (2048 bits, to keep generation fast).
    Rsa,
}

impl KeyKind {
    fn keygen_args(self) -> &'static [&'static str] {
        match self {
            KeyKind::Ed25519 => &["-t", "ed25519"],
            KeyKind::Ecdsa => &["-t", "ecdsa"],
            KeyKind::Rsa => &["-t", "rsa", "-b", "2048"],
        }
    }
}

/// On-disk format of the private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (ssh-keygen's default).
    OpenSsh,
    /// `ssh-keygen -m PEM`: `BEGIN RSA/EC PRIVATE KEY` (with `Proc-Type: 4,ENCRYPTED` when a
    /// passphrase is given). OpenSSH has no PEM encoding for Ed25519, so for
    /// [`KeyKind::Ed25519`] ssh-keygen writes the OpenSSH format anyway.
    Pem,
}

/// Runs `ssh-keygen -t KIND -N PASSPHRASE [-m PEM] -f dir/name` and returns the private key's
/// path (the public key is at `<path>.pub`). Existing files of that name are replaced.
///
/// Note: OpenSSL refuses PEM passphrases shorter than five characters; ssh-keygen's error is
/// passed on in the panic.
///
/// # Panics
/// If ssh-keygen fails (with its stderr).
pub fn generate_key(
    dir: &Path,
    name: &str,
    kind: KeyKind,
    passphrase: Option<&str>,
    format: KeyFormat,
) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_file_name(format!("{name}.pub")));
    let mut cmd = Command::new("ssh-keygen");
    cmd.arg("-q")
        .args(kind.keygen_args())
        .args(["-N", passphrase.unwrap_or("")])
        .args(["-C", &format!("testkit-{name}")]);
    if format == KeyFormat::Pem {
        cmd.args(["-m", "PEM"]);
    }
    cmd.arg("-f").arg(&path);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen: {e}"));
    assert!(
        out.status.success() && path.exists(),
        "ssh-keygen {kind:?} {format:?} for {} failed ({}): {}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    path
}

/// The `<path>.pub` file beside a private key.
pub(crate) fn pub_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}
