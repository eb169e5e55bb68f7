//! The agent's HTTP client for CLI commands: finds the running agent through `agent.addr` and
//! `api-token` in the data dir, and turns API errors into messages for the user.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// Connects to the agent whose data dir is `data_dir`.
    pub fn from_data_dir(data_dir: &Path) -> Result<Client> {
        let addr_file = data_dir.join("agent.addr");
        let addr = std::fs::read_to_string(&addr_file).map_err(|_| {
            anyhow::anyhow!(
                "the agent is not running (no {}); start it with `portwarden serve`",
                addr_file.display()
            )
        })?;
        let addr: SocketAddr = addr
            .trim()
            .parse()
            .with_context(|| format!("{} holds no address", addr_file.display()))?;
        let token_file = data_dir.join("api-token");
        let token = std::fs::read_to_string(&token_file)
            .with_context(|| format!("cannot read the API token {}", token_file.display()))?;
        Ok(Client {
            base: format!("http://{addr}"),
            token: token.trim().to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
        })
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                anyhow::anyhow!(
                    "the agent at {} is not answering; is `portwarden serve` running?",
                    self.base
                )
            } else {
                anyhow::anyhow!("{method} {path}: {e}")
            }
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or(text);
            bail!("{msg} ({} {path}: {})", method, status.as_u16());
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {path}: the agent sent no JSON"))
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Finds an object of a collection by id or by unique name.
    pub async fn resolve(&self, collection: &str, id_or_name: &str) -> Result<Value> {
        let list = self.get(collection).await?;
        let items = list.as_array().cloned().unwrap_or_default();
        if let Some(v) = items.iter().find(|v| v["id"] == id_or_name) {
            return Ok(v.clone());
        }
        let named: Vec<&Value> = items.iter().filter(|v| v["name"] == id_or_name).collect();
        match named.len() {
            1 => Ok(named[0].clone()),
            0 => bail!(
                "no {} with id or name '{id_or_name}'",
                collection.trim_start_matches('/')
            ),
            _ => bail!(
                "several {} are named '{id_or_name}'; use the id",
                collection.trim_start_matches('/')
            ),
        }
    }
}

/// The data dir the CLI uses: --data-dir, else PORTWARDEN_DATA_DIR (clap), else the default.
pub fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    match flag {
        Some(p) => Ok(p),
        None => agent::datadir::DataDir::default_path().map_err(anyhow::Error::from),
    }
}
