//! Benchmark (not a test): the build validation report of 500 builds, each with a monspec
//! validation of 10 signatures and an SLO evaluation of 10 objectives, built from the stored
//! validations and rendered as HTML and as JSON (each time including the model). Prints the
//! median time per render, the model's share, and the document sizes against the 50 ms
//! target; asserts nothing about time. Each figure is taken twice, run by run in turn: with
//! mimalloc, the report function's allocator, and with glibc's malloc, with their ratio.
//! Run: cargo bench -p unbreakable-tests --bench report_render

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mimalloc::MiMalloc;

use serde_json::{json, Value};
use unbreakable_shared::ports::store::{Decision, RequestStatus, ValidationRequest};
use unbreakable_shared::report::{render_report, ReportModel};

/// New allocations go to mimalloc (the report function's `#[global_allocator]`) or, for the
/// comparison, to glibc's malloc; each block goes back to the allocator that gave it.
struct EitherAllocator;

static TO_MIMALLOC: AtomicBool = AtomicBool::new(true);

fn from_mimalloc(block: *mut u8) -> bool {
    // SAFETY: a read-only question about an address; any pointer may be asked.
    unsafe { libmimalloc_sys::mi_is_in_heap_region(block as *const _) }
}

// SAFETY: each call goes to one of two sound allocators; a block is freed or grown by the one
// that allocated it (mimalloc knows its own regions).
unsafe impl GlobalAlloc for EitherAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TO_MIMALLOC.load(Ordering::Relaxed) {
            MiMalloc.alloc(layout)
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if TO_MIMALLOC.load(Ordering::Relaxed) {
            MiMalloc.alloc_zeroed(layout)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if from_mimalloc(block) {
            MiMalloc.dealloc(block, layout)
        } else {
            System.dealloc(block, layout)
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if from_mimalloc(block) {
            MiMalloc.realloc(block, layout, new_size)
        } else {
            System.realloc(block, layout, new_size)
        }
    }
}

#[global_allocator]
static ALLOCATOR: EitherAllocator = EitherAllocator;

const BUILDS: usize = 500;
const METRICS: usize = 10;
const RUNS: usize = 15;
const TARGET: Duration = Duration::from_millis(50);
const T0: i64 = 1_795_255_200_000;

fn monspec_result(build: usize) -> Value {
    let signatures: Vec<Value> = (0..METRICS)
        .map(|m| {
            let value = 300_000.0 + ((build * 7 + m * 13) % 50) as f64 * 10_000.0;
            let limit = 650_000.0;
            json!({"path": format!("perfsignature[{m}]"), "label": format!("metric {m}"),
                   "unit": "microseconds", "validate": "upper",
                   "outcome": if value > limit { "violation" } else { "pass" },
                   "sourceValue": value, "compareValue": 500_000.0, "upperLimit": limit,
                   "lowerLimit": null, "blocksApproval": value > limit,
                   "reason": format!("metric {m} {} ms", value / 1000.0)})
        })
        .collect();
    json!({"schemaVersion": 1, "configurations": [{"key": "SampleJSonService", "signatures": signatures}]})
}

fn slo_result(build: usize) -> Value {
    let objectives: Vec<Value> = (0..METRICS)
        .map(|m| {
            let value = 100.0 + ((build * 3 + m * 11) % 40) as f64;
            let status = if value > 130.0 { "fail" } else { "pass" };
            json!({"displayName": format!("objective {m}"), "status": status,
                   "score": if status == "pass" { 1.0 } else { 0.0 }, "keySli": m == 0,
                   "value": {"metric": format!("sli_{m}"), "value": value, "comparedValue": 110.0,
                             "success": true, "message": ""},
                   "passTargets": [{"criteria": "<=+20%", "targetValue": 132.0, "violated": status == "fail"}],
                   "warningTargets": []})
        })
        .collect();
    json!({"gate": "slo", "result": "pass", "score": 90.0, "indicatorResults": objectives,
           "reason": "score 90", "noBaseline": false, "comparedEvaluations": [],
           "window": {"startMs": T0, "endMs": T0 + 300_000}, "sloHash": "h", "service": "carts"})
}

fn request(build: usize, offset_ms: i64, comparison: &str, result: Value) -> ValidationRequest {
    let timestamp_ms = T0 + build as i64 * 600_000 + offset_ms;
    ValidationRequest {
        pipeline: "Sample".into(),
        timestamp_ms,
        comparison: comparison.into(),
        window_ms: 300_000,
        ready_ms: timestamp_ms + 300_000,
        monspec: "{}".into(),
        slo: None,
        canary: None,
        stage: "Staging".into(),
        action: "Register".into(),
        approval_action: "ApproveStaging".into(),
        job_id: format!("job-{build}"),
        execution_id: format!("{build:08x}-5a1e-4c3b-9d2f-0123456789ab"),
        status: RequestStatus::Ok,
        status_msg: "approved".into(),
        attempts: 1,
        next_check_ms: None,
        lease_owner: None,
        result_json: Some(result.to_string()),
        filled_monspec: None,
        decision: Some(Decision {
            approve: true,
            summary: "APPROVED".into(),
            outcome: RequestStatus::Ok,
        }),
        expires_at_s: 0,
    }
}

/// The median of `RUNS` runs with mimalloc and of as many with glibc's malloc, taken in
/// turn, and the last output's size.
fn median(mut run: impl FnMut() -> usize) -> (Duration, Duration, usize) {
    let mut size = 0;
    let mut mimalloc = Vec::new();
    let mut malloc = Vec::new();
    for _ in 0..RUNS {
        for (to_mimalloc, times) in [(true, &mut mimalloc), (false, &mut malloc)] {
            TO_MIMALLOC.store(to_mimalloc, Ordering::Relaxed);
            let start = Instant::now();
            size = run();
            times.push(start.elapsed());
        }
    }
    TO_MIMALLOC.store(true, Ordering::Relaxed);
    mimalloc.sort();
    malloc.sort();
    (mimalloc[RUNS / 2], malloc[RUNS / 2], size)
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}

fn main() {
    let monspec_only: Vec<ValidationRequest> = (0..BUILDS)
        .map(|b| request(b, 0, "StagingToProduction", monspec_result(b)))
        .collect();
    let with_slo: Vec<ValidationRequest> = monspec_only
        .iter()
        .cloned()
        .chain((0..BUILDS).map(|b| request(b, 60_000, "SLO", slo_result(b))))
        .collect();
    println!(
        "report_render: {BUILDS} builds × {METRICS} metrics, median of {RUNS} runs, target {} ms per render",
        TARGET.as_millis()
    );
    println!("| data | output | time per render (mimalloc, as the function) | with glibc's malloc | ratio | size | within target |");
    println!("|---|---|---|---|---|---|---|");
    for (name, requests) in [
        ("monspec", &monspec_only),
        ("monspec + SLO gate", &with_slo),
    ] {
        let model = median(|| {
            ReportModel::build("Sample", None, 10_080, requests)
                .validations
                .len()
        });
        let html =
            median(|| render_report(&ReportModel::build("Sample", None, 10_080, requests)).len());
        let json = median(|| {
            ReportModel::build("Sample", None, 10_080, requests)
                .to_json_string()
                .len()
        });
        println!(
            "| {name} | the model alone (reading the stored results) | {:.1} ms | {:.1} ms | {:.2} | – | – |",
            ms(model.0),
            ms(model.1),
            ms(model.0) / ms(model.1)
        );
        for (output, (time, malloc_time, size)) in [("HTML", html), ("JSON", json)] {
            println!(
                "| {name} | {output} | {:.1} ms | {:.1} ms | {:.2} | {:.1} MB | {} |",
                ms(time),
                ms(malloc_time),
                ms(time) / ms(malloc_time),
                size as f64 / 1_000_000.0,
                if time <= TARGET { "yes" } else { "no" }
            );
        }
    }
}
