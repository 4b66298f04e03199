//! A client for an internal service, as a program inside a company calls
//! one: the company's private CA (a PEM bundle), a client certificate the
//! service requires (mutual TLS), a proxy between this machine and the
//! service, a bearer token, per-host limits, timeouts and retries. It reads
//! the stock of an inventory API, then restocks what runs low (`PUT`) and
//! adds new items (`POST`) in one batch.
//!
//! ```text
//! cargo run --example internal_service --features json
//! ```
//!
//! Settings come from the environment, each with a default:
//! `INVENTORY_URL`, `INVENTORY_PROXY`, `INVENTORY_CA_BUNDLE` (PEM, one CA
//! or several), `INVENTORY_CLIENT_CERT` (PEM, the certificate then any
//! intermediates), `INVENTORY_CLIENT_KEY` (PEM) and `INVENTORY_TOKEN`.
//!
//! It runs offline: the defaults point at a stand-in for the company's
//! network that the example starts first (a private PKI made at startup,
//! its files written to a temporary directory; the service on loopback,
//! refusing clients without a certificate from that PKI; a `CONNECT`
//! proxy). After the run it checks, against the stand-in, that every
//! request succeeded, that the service saw the client's certificate on
//! each connection and that every connection came through the proxy, and
//! that a client without the certificate, and a client trusting only the
//! public roots, are both refused (kind `Tls`; see `check_refusals` for
//! the first one over HTTP/2) and served nothing. It exits non-zero if any
//! of that is off.

#[path = "support/connect_proxy.rs"]
mod connect_proxy;
#[path = "support/inventory_api.rs"]
mod inventory_api;
#[path = "support/mtls_server.rs"]
mod mtls_server;
#[path = "support/pki.rs"]
mod pki;

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use batch_fetch::{BatchClient, Certificate, ErrorKind, Identity, Proxy, Request, RetryPolicy};
use http::StatusCode;
use serde::{Deserialize, Serialize};

// The client: what you copy.

/// Requests in flight at once, in all.
const CONCURRENCY: usize = 32;
/// Requests in flight at once to the service: what it is sized for.
const PER_HOST: usize = 4;
/// Items below this quantity are restocked...
const LOW_STOCK: u32 = 10;
/// ...by this many.
const RESTOCK: u32 = 20;
/// Items to add: SKU, name, quantity.
const NEW_ITEMS: [(&str, &str, u32); 3] = [
    ("WC-606", "webcam", 15),
    ("CH-707", "USB-C charger", 40),
    ("LS-808", "laptop stand", 8),
];

/// Where the service is and how to reach it: in your program, your
/// configuration.
struct Settings {
    /// The service's base URL.
    api: String,
    /// The proxy between this machine and the service.
    proxy: String,
    /// The company's CA certificates, PEM.
    ca_bundle: PathBuf,
    /// This program's client certificate, then any intermediates, PEM.
    client_cert: PathBuf,
    /// Its private key, PEM.
    client_key: PathBuf,
    /// The API's bearer token.
    token: String,
}

impl Settings {
    /// Each setting from its environment variable, else from `defaults`.
    fn from_env(defaults: Settings) -> Settings {
        let text = |name: &str, default: String| std::env::var(name).unwrap_or(default);
        let path =
            |name: &str, default: PathBuf| std::env::var_os(name).map_or(default, PathBuf::from);
        Settings {
            api: text("INVENTORY_URL", defaults.api),
            proxy: text("INVENTORY_PROXY", defaults.proxy),
            ca_bundle: path("INVENTORY_CA_BUNDLE", defaults.ca_bundle),
            client_cert: path("INVENTORY_CLIENT_CERT", defaults.client_cert),
            client_key: path("INVENTORY_CLIENT_KEY", defaults.client_key),
            token: text("INVENTORY_TOKEN", defaults.token),
        }
    }
}

/// The company's CAs, every certificate of the bundle: during a CA
/// rotation it holds the new root and the old one.
fn company_cas(settings: &Settings) -> Result<Vec<Certificate>, Box<dyn Error>> {
    let pem = read(&settings.ca_bundle)?;
    // A wrong file is reported here, naming it, not at the first request.
    Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{}: {e}", settings.ca_bundle.display()).into())
}

/// This program's certificate and key. PKIs hand them out as two files;
/// `Identity::from_pem` reads them joined (a newline between, in case the
/// first lacks its last one).
fn client_identity(settings: &Settings) -> Result<Identity, Box<dyn Error>> {
    let mut pem = read(&settings.client_cert)?;
    pem.push(b'\n');
    pem.extend(read(&settings.client_key)?);
    Identity::from_pem(&pem).map_err(|e| {
        let (cert, key) = (
            settings.client_cert.display(),
            settings.client_key.display(),
        );
        format!("{cert} + {key}: {e}").into()
    })
}

/// The company's proxy, for `https` requests (all this client makes); hosts
/// on this machine are reached directly. A proxy that wants credentials
/// takes them in its URL: `http://user:password@proxy:3128`.
fn company_proxy(settings: &Settings) -> Proxy {
    Proxy::https(&settings.proxy).no_proxy("localhost,127.0.0.1,::1")
}

/// The client for the internal service.
fn internal_client(settings: &Settings) -> Result<BatchClient, Box<dyn Error>> {
    let mut builder = BatchClient::builder()
        // Only the company's CAs, not the public roots (the bundled web PKI
        // and the operating system's): this client talks to internal
        // services alone, so a certificate from any public CA, or one a
        // machine's extra roots vouch for (an intercepting proxy, say),
        // must not pass for the service. It also trusts the same roots on
        // every machine. A client that calls public sites too would keep
        // the built-in roots and add the company's beside them.
        .tls_built_in_root_certs(false)
        .identity(client_identity(settings)?)
        .proxy(company_proxy(settings))
        .concurrency(CONCURRENCY)
        .per_host_concurrency(PER_HOST)
        .connect_timeout(Duration::from_secs(5))
        // Each attempt, from connecting to the last byte of the body.
        .timeout(Duration::from_secs(10))
        // `GET` and `PUT` are retried after a 503 (or 429, 502, 504, a
        // timeout, a refused connection); `POST` is not: the service may
        // have added the item before it failed. With an idempotency key
        // your API honours, `retry_non_idempotent(true)` would allow it.
        .retry(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(50)),
        )
        // A final 4xx or 5xx is an `Err` of kind `Status`.
        .error_for_status(true)
        .user_agent("inventory-sync/1.0");
    for ca in company_cas(settings)? {
        builder = builder.add_root_certificate(ca);
    }
    Ok(builder.build()?)
}

/// An item of the inventory API.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Item {
    /// Given by the service; none in a new item.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    sku: String,
    name: String,
    quantity: u32,
}

/// What one run did.
struct Run {
    /// Items read.
    items: usize,
    /// Each write: what it was, and its outcome.
    writes: Vec<(String, Result<batch_fetch::Response, batch_fetch::Error>)>,
    /// Attempts beyond the first, over all requests.
    retries: u32,
    elapsed: Duration,
}

/// Reads the stock, then restocks what runs low and adds the new items, in
/// one batch.
async fn sync_inventory(client: &BatchClient, settings: &Settings) -> Result<Run, Box<dyn Error>> {
    let started = Instant::now();
    let (api, token) = (&settings.api, &settings.token);
    let listed = client
        .fetch(Request::get(format!("{api}/v1/items")).bearer_auth(token))
        .await
        .map_err(|e| format!("listing the items: {e}"))?;
    let items: Vec<Item> = listed.json()?;
    println!(
        "  GET  /v1/items: {} items ({:?}, {} attempt(s))",
        items.len(),
        listed.version(),
        listed.attempts()
    );

    let mut writes: Vec<(String, Request)> = Vec::new();
    for item in items.iter().filter(|item| item.quantity < LOW_STOCK) {
        let Some(id) = item.id else { continue };
        let restocked = Item {
            quantity: item.quantity + RESTOCK,
            ..item.clone()
        };
        let what = format!(
            "PUT  /v1/items/{id}: {} {} -> {}",
            item.name, item.quantity, restocked.quantity
        );
        let request = Request::put(format!("{api}/v1/items/{id}"))
            .bearer_auth(token)
            .json(&restocked);
        writes.push((what, request));
    }
    for (sku, name, quantity) in NEW_ITEMS {
        let item = Item {
            id: None,
            sku: sku.into(),
            name: name.into(),
            quantity,
        };
        let what = format!("POST /v1/items: {name} ({quantity})");
        let request = Request::post(format!("{api}/v1/items"))
            .bearer_auth(token)
            .json(&item);
        writes.push((what, request));
    }

    // One result per write, in order, whatever fails.
    let (labels, requests): (Vec<String>, Vec<Request>) = writes.into_iter().unzip();
    let results = client.fetch_all_settled(requests).await;
    let retries = listed.attempts() - 1
        + results
            .iter()
            .map(|r| match r {
                Ok(res) => res.attempts() - 1,
                Err(err) => err.attempts().saturating_sub(1),
            })
            .sum::<u32>();
    Ok(Run {
        items: items.len(),
        writes: labels.into_iter().zip(results).collect(),
        retries,
        elapsed: started.elapsed(),
    })
}

/// What the run did, one line per write.
fn summarize(run: &Run) -> usize {
    let mut failed = 0;
    for (what, result) in &run.writes {
        match result {
            Ok(res) => {
                // A new item's id is the service's to give.
                let new_id = match res.json::<Item>() {
                    Ok(Item { id: Some(id), .. }) if res.status() == StatusCode::CREATED => {
                        format!(", id {id}")
                    }
                    _ => String::new(),
                };
                println!(
                    "  {what}: {}{new_id} ({} attempt(s))",
                    res.status(),
                    res.attempts()
                );
            }
            Err(err) => {
                failed += 1;
                println!("  {what}: FAILED, {:?}: {err}", err.kind());
            }
        }
    }
    println!(
        "  {} items read, {} writes ok, {failed} failed, retries: {}; {:.3} s",
        run.items,
        run.writes.len() - failed,
        run.retries,
        run.elapsed.as_secs_f64()
    );
    failed
}

/// Reads a file, naming it if it cannot.
fn read(path: &Path) -> Result<Vec<u8>, Box<dyn Error>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let network = StandIn::start().await?;
    let settings = Settings::from_env(network.settings());
    println!(
        "internal_service: {} through the proxy {}",
        settings.api, settings.proxy
    );
    println!(
        "  trusting {} (built-in roots off); identity {} + {}",
        settings.ca_bundle.display(),
        settings.client_cert.display(),
        settings.client_key.display()
    );

    let client = internal_client(&settings)?;
    let run = sync_inventory(&client, &settings).await?;
    let failed = summarize(&run);

    network.check(&settings, &run, failed).await?;
    println!(
        "ok: {:.3} s in all, setup included",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// Stand-in for your company's network: not what you copy. A private PKI
// (made at startup, the client's files written to a temporary directory),
// the inventory service on 127.0.0.1 requiring a client certificate from
// that PKI, and a CONNECT proxy that knows the service's name.

/// The service's name: the proxy routes it to loopback; nothing resolves it
/// on this machine.
const SERVICE_HOST: &str = "inventory.corp.test";
/// The common name of the client's certificate.
const CLIENT_NAME: &str = "inventory-sync";
const TOKEN: &str = "stand-in-token";
/// The item whose first `PUT` the service answers with `503`.
const FLAKY_ITEM: u32 = 3;

struct StandIn {
    files: pki::PemFiles,
    api: std::sync::Arc<inventory_api::InventoryApi>,
    server: mtls_server::MtlsServer,
    proxy: connect_proxy::ConnectProxy,
}

impl StandIn {
    async fn start() -> Result<StandIn, Box<dyn Error>> {
        let pki = pki::Pki::generate(&[SERVICE_HOST], CLIENT_NAME)?;
        let files = pki.write_client_files()?;
        let api = inventory_api::InventoryApi::new(TOKEN, FLAKY_ITEM);
        let tls = mtls_server::ServerTls {
            chain: pki.server_chain.clone(),
            key: pki.server_key.clone_key(),
            client_ca: pki.root_der.clone(),
        };
        let handler = api.clone();
        let server =
            mtls_server::serve(tls, move |req, client| handler.clone().handle(req, client)).await?;
        let routes = vec![(SERVICE_HOST.to_owned(), IpAddr::V4(Ipv4Addr::LOCALHOST))];
        let proxy = connect_proxy::start(routes).await?;
        Ok(StandIn {
            files,
            api,
            server,
            proxy,
        })
    }

    /// The settings that lead to the stand-in.
    fn settings(&self) -> Settings {
        Settings {
            api: format!("https://{SERVICE_HOST}:{}", self.server.addr.port()),
            proxy: format!("http://{}", self.proxy.addr),
            ca_bundle: self.files.ca_bundle.clone(),
            client_cert: self.files.client_cert.clone(),
            client_key: self.files.client_key.clone(),
            token: TOKEN.to_owned(),
        }
    }

    /// Checks the run against what the stand-in saw, then that clients
    /// without the identity, or without the company's CAs, are refused.
    async fn check(
        &self,
        settings: &Settings,
        run: &Run,
        failed: usize,
    ) -> Result<(), Box<dyn Error>> {
        println!("stand-in checks:");
        let mut problems = Vec::new();
        if failed > 0 {
            problems.push(format!("{failed} write(s) failed"));
        }
        if run.retries != 1 {
            problems.push(format!("{} retries, the service asked for 1", run.retries));
        }
        let attempts = 1 + run.writes.len() + run.retries as usize;
        problems.extend(self.check_service(attempts));
        problems.extend(self.check_proxy(settings));
        problems.extend(self.check_refusals(settings).await?);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("not as expected: {}", problems.join("; ")).into())
        }
    }

    /// Every connection presented the client's certificate, and every
    /// request came over one; the per-host limit held.
    fn check_service(&self, attempts: usize) -> Vec<String> {
        let mut problems = Vec::new();
        let connections = self.server.stats.connections();
        let clients: Vec<&str> = connections
            .iter()
            .map(|c| c.client.as_deref().unwrap_or("none"))
            .collect();
        let alpn: Vec<&str> = connections.iter().map(|c| c.alpn.as_str()).collect();
        let requests = self.api.requests_by_client();
        let peak = self.api.peak();
        println!(
            "  service: {} connection(s), client certificates {clients:?}, ALPN {alpn:?}",
            connections.len()
        );
        println!(
            "  service: requests by client {requests:?}; peak {peak} in flight (limit {PER_HOST})"
        );
        if connections.is_empty() || clients.iter().any(|&c| c != CLIENT_NAME) {
            problems.push(format!(
                "connections from {clients:?}, all {CLIENT_NAME} expected"
            ));
        }
        if requests.len() != 1 || requests.get(CLIENT_NAME) != Some(&attempts) {
            problems.push(format!(
                "requests {requests:?}, {attempts} from {CLIENT_NAME} expected"
            ));
        }
        if peak > PER_HOST {
            problems.push(format!("{peak} in flight at once, over {PER_HOST}"));
        }
        problems
    }

    /// Every connection the service saw came through a tunnel to it.
    fn check_proxy(&self, settings: &Settings) -> Vec<String> {
        let mut problems = Vec::new();
        let tunnels = self.proxy.tunnels.all();
        let targets: Vec<&str> = tunnels.iter().map(|t| t.target.as_str()).collect();
        println!(
            "  proxy: {} CONNECT tunnel(s), to {targets:?}",
            tunnels.len()
        );
        let authority = settings.api.trim_start_matches("https://");
        if tunnels.is_empty() || targets.iter().any(|&t| t != authority) {
            problems.push(format!("tunnels to {targets:?}, to {authority} expected"));
        }
        // The proxy's end of a tunnel is the peer the service sees.
        for connection in self.server.stats.connections() {
            if !tunnels.iter().any(|t| t.from == connection.peer) {
                problems.push(format!(
                    "a connection from {} no tunnel carried",
                    connection.peer
                ));
            }
        }
        problems
    }

    /// A client without the certificate, and one trusting only the public
    /// roots, get an error and no answer; the service refused their
    /// handshakes and served neither.
    async fn check_refusals(&self, settings: &Settings) -> Result<Vec<String>, Box<dyn Error>> {
        let mut problems = Vec::new();
        // Retried as by default: over HTTP/2 the client's first writes race
        // the server's alert, and an attempt that loses it to the
        // connection's reset fails as `Protocol`; the retry reads it.
        let mut anonymous = BatchClient::builder()
            .tls_built_in_root_certs(false)
            .proxy(company_proxy(settings))
            .retry(RetryPolicy::default().base_delay(Duration::from_millis(10)));
        for ca in company_cas(settings)? {
            anonymous = anonymous.add_root_certificate(ca);
        }
        let who = "without the client certificate";
        match refusal(anonymous.build()?, settings).await {
            Some(err) if err.kind() == ErrorKind::Tls => {
                println!("  {who}: refused, kind {:?}: {err}", err.kind())
            }
            Some(err) => problems.push(format!("{who}: {:?}, Tls expected: {err}", err.kind())),
            None => problems.push(format!("{who}: the service answered")),
        }

        let public_roots_only = BatchClient::builder()
            .identity(client_identity(settings)?)
            .proxy(company_proxy(settings))
            .retry(RetryPolicy::none())
            .build()?;
        let who = "trusting only the built-in roots";
        match refusal(public_roots_only, settings).await {
            Some(err) if err.kind() == ErrorKind::Tls => {
                println!("  {who}: refused, kind {:?}: {err}", err.kind())
            }
            Some(err) => problems.push(format!("{who}: {:?}, Tls expected: {err}", err.kind())),
            None => problems.push(format!("{who}: the service answered")),
        }

        // One handshake at least for each (the client may try a fresh
        // connection when one closes before its request went out); the
        // service may count the last a moment after the client gave up.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.server.stats.refused() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let refused = self.server.stats.refused();
        let requests = self.api.requests_by_client();
        println!("  service: {refused} handshake(s) refused; requests by client {requests:?}");
        if refused < 2 {
            problems.push(format!(
                "{refused} handshake(s) refused at the service, 2 expected"
            ));
        }
        if requests.len() != 1 {
            problems.push(format!("the service served {requests:?}"));
        }
        Ok(problems)
    }
}

/// The error `client` gets listing the items, if any.
async fn refusal(client: BatchClient, settings: &Settings) -> Option<batch_fetch::Error> {
    let list = Request::get(format!("{}/v1/items", settings.api)).bearer_auth(&settings.token);
    client.fetch(list).await.err()
}
