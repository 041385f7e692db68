//! A real Chromium (Debian's `chromium`), headless, driven over the W3C WebDriver protocol by
//! `chromedriver`, for the operator-view tests; and a recording reverse proxy that sees every
//! request the page makes, so a test can prove no URL ever carried the token.
//!
//! The WebDriver client is the dozen plain JSON calls the tests need, over the reqwest client the
//! tests already use: `fantoccini` needs the MPL-2.0 `webdriver` crate (not on deny.toml's
//! permissive list) and `thirtyfour` turns on serde_json's `preserve_order` for the whole workspace
//! build through feature unification.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const INSTALL: &str = "install chromium and chromium-driver (apt-get install chromium chromium-driver)";
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The Tab key, for [`Browser::press`].
pub const TAB: &str = "\u{E004}";
/// The Enter key, for [`Browser::press`].
pub const ENTER: &str = "\u{E007}";
/// How long a wait for the page may take before the test fails (a deadline, not a sleep).
const WAIT_MS: u64 = 20_000;

fn executable(name: &str, fallback: &str) -> anyhow::Result<PathBuf> {
    let fixed = PathBuf::from(fallback);
    if fixed.is_file() {
        return Ok(fixed);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| anyhow!("{name} not found: {INSTALL}"))
}

/// Where the tests save screenshots: `target/ui-screenshots/` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts chromedriver on a port of its choosing: the process and the port. A chromedriver
/// that exits before it listens is started again, at most three times in all (seen once in CI
/// under load, with nothing on its output); the last attempt's exit status and stderr are in the
/// error.
async fn start_driver(chromedriver: &Path) -> anyhow::Result<(tokio::process::Child, u16)> {
    let mut exited = None;
    for _ in 0..3 {
        let mut driver = tokio::process::Command::new(chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}: {INSTALL}", chromedriver.display()))?;
        let mut lines = BufReader::new(driver.stdout.take().context("chromedriver's stdout")?).lines();
        let mut stderr = driver.stderr.take().context("chromedriver's stderr")?;
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    return Ok::<Option<u16>, anyhow::Error>(Some(rest.trim_end_matches('.').trim().parse()?));
                }
            }
            Ok(None)
        })
        .await
        .context("chromedriver did not start within 30 s")??;
        if let Some(port) = port {
            // Keep draining its output so it never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await });
            return Ok((driver, port));
        }
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await?;
        exited = Some(format!("{}; stderr: {}", driver.wait().await?, text.trim()));
    }
    bail!("chromedriver exited before it listened, three times: {}", exited.unwrap_or_default())
}

/// One headless Chromium with a fresh profile, and the chromedriver that drives it.
pub struct Browser {
    http: reqwest::Client,
    driver_addr: SocketAddr,
    session: String,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// An element of the page, by its WebDriver reference.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver on a free port and a new headless session `width` × `height` px.
    /// Fails (never skips) when Chromium or chromedriver is not installed.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Self> {
        let chromedriver = executable("chromedriver", "/usr/bin/chromedriver")?;
        let chromium = executable("chromium", "/usr/bin/chromium")?;
        let (driver, port) = start_driver(&chromedriver).await?;
        let profile = tempfile::tempdir()?;
        let driver_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let http = reqwest::Client::builder().no_proxy().build()?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "timeouts": {"implicit": 0, "script": WAIT_MS, "pageLoad": 30_000},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let url = format!("http://{driver_addr}/session");
        let answer: Value = http.post(&url).json(&capabilities).send().await?.json().await?;
        let session = answer["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("chromedriver refused a session ({INSTALL}?): {answer}"))?
            .to_owned();
        Ok(Self { http, driver_addr, session, driver, _profile: profile })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("http://{}/session/{}{path}", self.driver_addr, self.session);
        let mut request = self.http.request(method.clone(), &url);
        request = match body {
            Some(body) => request.json(&body),
            None if method == reqwest::Method::POST => request.json(&json!({})),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            bail!(
                "WebDriver {method} {path}: {} — {}",
                answer["value"]["error"].as_str().unwrap_or("error"),
                answer["value"]["message"].as_str().unwrap_or("")
            );
        }
        Ok(answer["value"].clone())
    }

    /// Loads `url` and waits for the load event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await.map(drop)
    }

    /// `location.href` of the page.
    pub async fn current_url(&self) -> anyhow::Result<String> {
        Ok(self.call(reqwest::Method::GET, "/url", None).await?.as_str().unwrap_or_default().to_owned())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Waits until the JavaScript expression `condition` is truthy, re-evaluated on every DOM
    /// change (a MutationObserver, no polling); fails after 20 s naming `what` and showing the page.
    pub async fn wait_for(&self, condition: &str, what: &str) -> anyhow::Result<()> {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const check = () => {{ try {{ return Boolean({condition}); }} catch (e) {{ return false; }} }};
             if (check()) {{ done(true); return; }}
             const observer = new MutationObserver(() => {{ if (check()) {{ observer.disconnect(); done(true); }} }});
             observer.observe(document, {{subtree: true, childList: true, characterData: true, attributes: true}});"
        );
        let waited =
            self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []}))).await;
        if let Err(error) = waited {
            let page = self.execute("return document.body ? document.body.innerText : ''", vec![]).await;
            bail!("waiting for {what}: {error}\n--- page text ---\n{}", page.unwrap_or_default());
        }
        Ok(())
    }

    /// The first element matching `css`, now.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let found =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await?;
        found[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())).ok_or_else(|| anyhow!("no element {css}: {found}"))
    }

    /// A real click (pointer events, focus), as a person would.
    pub async fn click(&self, element: &Element) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{}/click", element.0), None).await.map(drop)
    }

    /// Types `text` into `element` with real key events.
    pub async fn type_text(&self, element: &Element, text: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{}/value", element.0), Some(json!({"text": text})))
            .await
            .map(drop)
    }

    /// Presses and releases each key in turn on whatever has focus, as a keyboard would. Keys are
    /// characters or WebDriver key codes such as [`TAB`] and [`ENTER`].
    pub async fn press(&self, keys: &str) -> anyhow::Result<()> {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|key| [json!({"type": "keyDown", "value": key}), json!({"type": "keyUp", "value": key})])
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call(reqwest::Method::POST, "/actions", Some(body)).await.map(drop)
    }

    /// Empties an input or textarea.
    pub async fn clear(&self, element: &Element) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{}/clear", element.0), None).await.map(drop)
    }

    /// The rendered text of `element`.
    pub async fn text(&self, element: &Element) -> anyhow::Result<String> {
        let value = self.call(reqwest::Method::GET, &format!("/element/{}/text", element.0), None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The text of the first element matching `css`, looked up again when the page replaced it
    /// between the look-up and the read (a render after the page said it was ready).
    pub async fn text_of(&self, css: &str) -> anyhow::Result<String> {
        let mut stale = None;
        for _ in 0..5 {
            let element = self.find(css).await?;
            match self.text(&element).await {
                Ok(text) => return Ok(text),
                Err(error) if error.to_string().contains("stale element reference") => stale = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(stale.unwrap_or_else(|| anyhow!("no text of {css}")))
    }

    /// The text of an open `alert`/`confirm`/`prompt`, or None when no dialog is open.
    pub async fn open_dialog(&self) -> anyhow::Result<Option<String>> {
        let url = format!("http://{}/session/{}/alert/text", self.driver_addr, self.session);
        let response = self.http.get(&url).send().await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if status.is_success() {
            return Ok(Some(answer["value"].as_str().unwrap_or_default().to_owned()));
        }
        match answer["value"]["error"].as_str() {
            Some("no such alert") => Ok(None),
            other => bail!("WebDriver alert text: {other:?}"),
        }
    }

    /// Resizes the window (the layout viewport follows).
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height})))
            .await
            .map(drop)
    }

    /// Saves a PNG of the viewport as `target/ui-screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let value = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap_or_default())?;
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the session (Chromium quits) and chromedriver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.call(reqwest::Method::DELETE, "", None).await?;
        self.session.clear();
        self.driver.kill().await?;
        Ok(())
    }
}

impl Drop for Browser {
    /// After a failed test: end the session with a plain blocking request so Chromium quits too
    /// (killing only chromedriver would leave the browser running); `kill_on_drop` ends chromedriver.
    fn drop(&mut self) {
        if self.session.is_empty() {
            return;
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&self.driver_addr, Duration::from_secs(2)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session, self.driver_addr
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
    }
}

/// One request the page made, as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

/// A reverse proxy in front of the app on its own port: the browser talks to it as if it were
/// Verdict, and it records every request line and header before forwarding it unchanged.
pub struct RecordingProxy {
    pub address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: SocketAddr,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RecordingProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
        let state = ProxyState { upstream, client, seen: seen.clone() };
        let router = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { address, seen, task }
    }

    /// `http://{proxy}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let uri = parts.uri.path_and_query().map_or_else(|| parts.uri.to_string(), ToString::to_string);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    state.seen.lock().unwrap().push(Seen { method: parts.method.to_string(), uri: uri.clone(), headers });
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut upstream = state.client.request(parts.method, format!("http://{}{uri}", state.upstream)).body(body);
    for (name, value) in &parts.headers {
        if name != axum::http::header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(error) => return Response::builder().status(502).body(Body::from(error.to_string())).unwrap(),
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != axum::http::header::TRANSFER_ENCODING && name != axum::http::header::CONNECTION {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
}
