//! `dynatrace-simulator --fixture F [--port P] [--latency-ms N]`: serve a fixture on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use unbreakable_emulators::dynatrace::{load_fixture, DynatraceSimulator, Faults};

#[derive(Parser)]
#[command(about = "A Dynatrace API v1/v2 simulator on loopback")]
struct Args {
    #[arg(long)]
    fixture: PathBuf,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fixture = load_fixture(&args.fixture)?;
    let address = SocketAddr::from(([127, 0, 0, 1], args.port));
    let sim = DynatraceSimulator::start_on(address, fixture)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    sim.set_faults(Faults {
        latency_ms: args.latency_ms,
        ..Faults::default()
    });
    println!("dynatrace-simulator listening on {}", sim.base_url);
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
