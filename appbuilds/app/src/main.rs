//! The tutorial's sample app, in Rust. Builds 1–4 misbehave on purpose (see `behaviour.rs`).
//!
//! Environment: `BUILD_NUMBER`, `DEPLOYMENT_GROUP_NAME` (CodeDeploy sets it), `PORT` (default
//! 8080, 0 picks a free one), `BIND` (default 127.0.0.1; the EC2 start script uses 0.0.0.0),
//! `LATENCY_SCALE` (default 1; tests use e.g. 0.02), `INVOKE_URL` (downstream of
//! `/api/invoke`, default this app's own `/api/echo`), `SERVICE_LOG` (default
//! `serviceoutput.log`), `DT_TAGS` / `DT_CUSTOM_PROP` / `DT_CLUSTER_ID` (shown on `/`),
//! `APP_SLOTS` (the `/api` requests served at once, default 4; the rest queue: see
//! `capacity.rs`), and `UNLEASH_URL` / `UNLEASH_CLIENT_TOKEN` / `UNLEASH_APP_NAME` (the
//! feature flags, polled every second; without `UNLEASH_URL` every flag is off: `flags.rs`).

mod behaviour;
mod capacity;
mod flags;
mod metrics;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use behaviour::Behaviour;
use serde::Deserialize;

struct App {
    behaviour: Mutex<Behaviour>,
    deployment_group: String,
    latency_scale: f64,
    invoke_calls: AtomicU64,
    cart_calls: AtomicU64,
    capacity: capacity::Capacity,
    flags: Arc<flags::FeatureFlags>,
    invoke_url: String,
    metrics: metrics::Metrics,
    log: Mutex<std::fs::File>,
    dynatrace_info: String,
    http: reqwest::Client,
}

type Shared = Arc<App>;

impl App {
    fn log(&self, severity: &str, entry: &str) {
        let line = format!(
            "{} - {severity} - {entry}\n",
            humantime::format_rfc3339_millis(SystemTime::now())
        );
        // A lost log line must not fail a request.
        let _ = self.log.lock().expect("log").write_all(line.as_bytes());
    }

    fn behaviour(&self) -> Behaviour {
        *self.behaviour.lock().expect("behaviour")
    }
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() -> Result<()> {
    let build: u32 = env_or("BUILD_NUMBER", "1")
        .trim()
        .parse()
        .context("BUILD_NUMBER must be a whole number, e.g. 3")?;
    let deployment_group = env_or("DEPLOYMENT_GROUP_NAME", "Staging");
    let latency_scale: f64 = env_or("LATENCY_SCALE", "1")
        .parse()
        .ok()
        .filter(|s: &f64| *s >= 0.0)
        .context("LATENCY_SCALE must be a number ≥ 0, e.g. 0.05")?;
    let port: u16 = env_or("PORT", "8080")
        .parse()
        .context("PORT must be a port number")?;
    let bind = env_or("BIND", "127.0.0.1");
    let address: SocketAddr = format!("{bind}:{port}")
        .parse()
        .with_context(|| format!("BIND \"{bind}\" is not an IP address"))?;
    let slots = capacity::slots_from_env(std::env::var("APP_SLOTS").ok().as_deref())
        .map_err(anyhow::Error::msg)?;
    let unleash = flags::UnleashSettings::from_env(|key| std::env::var(key).ok())
        .map_err(anyhow::Error::msg)?;
    let log_path = env_or("SERVICE_LOG", "serviceoutput.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open SERVICE_LOG {log_path}"))?;

    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    let dynatrace_info = format!(
        "DT_TAGS={}\nDT_CUSTOM_PROP={}\nDT_CLUSTER_ID={}",
        env_or("DT_TAGS", "<EMPTY>"),
        env_or("DT_CUSTOM_PROP", "<EMPTY>"),
        env_or("DT_CLUSTER_ID", "<EMPTY>")
    );
    let app = Arc::new(App {
        behaviour: Mutex::new(Behaviour::new(build, &deployment_group, latency_scale)),
        invoke_url: env_or(
            "INVOKE_URL",
            &format!("http://{local}/api/echo?text=invoked"),
        ),
        deployment_group,
        latency_scale,
        invoke_calls: AtomicU64::new(0),
        cart_calls: AtomicU64::new(0),
        capacity: capacity::Capacity::new(slots),
        flags: Arc::new(flags::FeatureFlags::default()),
        metrics: metrics::Metrics::default(),
        log: Mutex::new(log),
        dynatrace_info,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    });
    app.log(
        "Info",
        &format!(
            "Init: build {build} in {}, {slots} request slot(s)",
            app.deployment_group
        ),
    );
    if let Some(settings) = unleash {
        app.log(
            "Info",
            &format!(
                "Feature flags from Unleash at {} as {}, every second",
                settings.features_url, settings.app_name
            ),
        );
        let (flags, logger) = (app.flags.clone(), app.clone());
        tokio::spawn(flags::Poller::new(settings).run(
            flags,
            Duration::from_secs(1),
            move |severity, entry| logger.log(severity, entry),
        ));
    }

    let router = Router::new()
        .route("/", get(home))
        .route("/version", get(version))
        .route("/api/version", get(version))
        .route("/api/echo", get(echo))
        .route("/api/login", get(login))
        .route("/api/invoke", get(invoke))
        .route("/api/sleeptime", get(sleeptime))
        .route("/api/causeerror", get(cause_error))
        .route("/api/cart", get(cart).post(cart))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn_with_state(app.clone(), measure))
        .with_state(app);
    println!("sample-app listening on http://{local}");
    std::io::stdout().flush().ok();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Time every request and count it by path and status; `/api` requests take at least the
/// build's minimum latency (`?sleep=ms` asks for more), in one of the instance's request
/// slots, after their turn in the queue.
async fn measure(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path().to_string();
    if path.starts_with("/api/") {
        let asked = request
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sleep=")))
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
        let min = app.behaviour().min_latency;
        app.capacity.serve(asked.map_or(min, |a| a.max(min))).await;
    }
    let response = next.run(request).await;
    app.metrics
        .observe(&path, response.status().as_u16(), started.elapsed());
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn home(State(app): State<Shared>) -> Html<String> {
    let b = app.behaviour();
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Unbreakable sample app</title></head>\
         <body style=\"background-color:{colour}\"><h1>Build {build}</h1><p>Running in {group} on {host}</p>\
         <pre>{dt}</pre></body></html>",
        colour = b.colour(),
        build = b.build,
        group = escape(&app.deployment_group),
        host = escape(host.trim()),
        dt = escape(&app.dynatrace_info),
    ))
}

#[derive(Deserialize)]
struct VersionQuery {
    #[serde(rename = "newBuildNumber")]
    new_build_number: Option<String>,
}

async fn version(State(app): State<Shared>, Query(q): Query<VersionQuery>) -> Response {
    if let Some(text) = q.new_build_number {
        let Ok(build) = text.trim().parse::<u32>() else {
            return (
                StatusCode::BAD_REQUEST,
                format!("newBuildNumber must be a whole number, got \"{text}\""),
            )
                .into_response();
        };
        *app.behaviour.lock().expect("behaviour") =
            Behaviour::new(build, &app.deployment_group, app.latency_scale);
        app.log("Info", &format!("Build number changed to {build}"));
    }
    format!("Running build {}", app.behaviour().build).into_response()
}

#[derive(Deserialize)]
struct TextQuery {
    text: Option<String>,
    username: Option<String>,
    url: Option<String>,
    min: Option<String>,
}

async fn echo(Query(q): Query<TextQuery>) -> String {
    format!("Thanks for saying: {}", q.text.unwrap_or_default())
}

async fn login(State(app): State<Shared>, Query(q): Query<TextQuery>) -> String {
    let user = q.username.unwrap_or_else(|| "anonymous".into());
    app.log("Info", &format!("User {user} logged in"));
    format!("Welcome {user}")
}

async fn invoke(State(app): State<Shared>, Query(q): Query<TextQuery>) -> Response {
    let n = app.invoke_calls.fetch_add(1, Ordering::Relaxed) + 1;
    let b = app.behaviour();
    if b.invoke_fails(n) {
        app.log(
            "Error",
            &format!("Build {} failed /api/invoke call #{n} on purpose", b.build),
        );
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Simulated failure of build {}", b.build),
        )
            .into_response();
    }
    let url = q.url.unwrap_or_else(|| app.invoke_url.clone());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return (
            StatusCode::BAD_REQUEST,
            format!("url must start with http:// or https://, got \"{url}\""),
        )
            .into_response();
    }
    match app.http.get(&url).send().await {
        Ok(resp) => format!("Invoked {url}: HTTP {}", resp.status().as_u16()).into_response(),
        Err(e) => {
            app.log("Warning", &format!("Invoking {url} failed: {e}"));
            (StatusCode::BAD_GATEWAY, format!("Invoking {url} failed")).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CartQuery {
    item: Option<String>,
}

/// Keptn's carts example: with `EnablePromotion` on, every 3rd call fails.
async fn cart(State(app): State<Shared>, Query(q): Query<CartQuery>) -> Response {
    let n = app.cart_calls.fetch_add(1, Ordering::Relaxed) + 1;
    if Behaviour::cart_fails(app.flags.is_on(flags::PROMOTION), n) {
        app.log(
            "Error",
            &format!("Cart call #{n} failed: the promotion is not implemented"),
        );
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Promotion failed: NotImplementedFunction",
        )
            .into_response();
    }
    let item = q.item.unwrap_or_else(|| "an item".into());
    format!("Added {} to the cart", escape(&item)).into_response()
}

async fn sleeptime(State(app): State<Shared>, Query(q): Query<TextQuery>) -> Response {
    match q
        .min
        .as_deref()
        .and_then(|m| m.parse::<u64>().ok())
        .filter(|m| *m <= 10_000)
    {
        Some(ms) => {
            app.behaviour.lock().expect("behaviour").min_latency = Duration::from_millis(ms);
            format!("Minimum Sleep Time set to {ms}").into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            "min must be a number of milliseconds from 0 to 10000, e.g. /api/sleeptime?min=300",
        )
            .into_response(),
    }
}

async fn cause_error(State(app): State<Shared>) -> Response {
    app.log("Error", "Somebody called /api/causeerror");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Caused an error on purpose",
    )
        .into_response()
}

async fn metrics_text(State(app): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        format!(
            "{}# HELP app_request_slots The instance's /api request slots: all, busy, and requests queued for one.\n\
             # TYPE app_request_slots gauge\n\
             app_request_slots{{state=\"total\"}} {}\n\
             app_request_slots{{state=\"busy\"}} {}\n\
             app_request_slots{{state=\"queued\"}} {}\n",
            app.metrics.render(),
            app.capacity.slots(),
            app.capacity.busy(),
            app.capacity.queued()
        ),
    )
        .into_response()
}
