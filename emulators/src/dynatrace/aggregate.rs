//! Real aggregation over the requested window: the simulator computes what Dynatrace would,
//! so the client's window arithmetic is exercised for real.
//!
//! Datapoints are per entity and minute. `responsetime` and `failurerate` minutes are weighted
//! by that minute's `requestspermin` when the entity has one (a minute with 100 requests
//! counts 100 times), so merging entities gives the request-weighted value Dynatrace does.
//! Percentiles use the nearest-rank method over the (weighted) minute values.

use super::model::World;

/// A metric of the simulator's world: which entity type carries it and its base name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimMetric {
    pub entity_type: &'static str,
    pub base: &'static str,
}

/// Map a v1 timeseries id or a v2 metric key to the simulator's base metric.
pub fn sim_metric(id: &str) -> Option<SimMetric> {
    let (entity_type, rest) =
        if let Some(rest) = id.strip_prefix("com.dynatrace.builtin:servicemethod.") {
            ("SERVICE_METHOD", rest)
        } else if let Some(rest) = id.strip_prefix("com.dynatrace.builtin:service.") {
            ("SERVICE", rest)
        } else if let Some(rest) = id.strip_prefix("builtin:service.keyRequest.") {
            ("SERVICE_METHOD", rest)
        } else if let Some(rest) = id.strip_prefix("builtin:service.") {
            ("SERVICE", rest)
        } else {
            return None;
        };
    let base = match rest {
        "responsetime" | "response.time" => "responsetime",
        "failurerate" | "errors.total.rate" | "errors.server.rate" | "serversidefailurerate" => {
            "failurerate"
        }
        "requestspermin" | "requestCount.total" | "count.total" => "requestspermin",
        _ => return None,
    };
    Some(SimMetric { entity_type, base })
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Median,
    Percentile(f64),
    /// v2 `value` on a counter: the window total.
    Value,
}

impl Agg {
    pub fn parse(name: &str, percentile: Option<f64>) -> Option<Agg> {
        Some(match name.to_ascii_lowercase().as_str() {
            "avg" | "auto" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "sum" => Agg::Sum,
            "count" => Agg::Count,
            "median" => Agg::Median,
            "value" => Agg::Value,
            "percentile" => Agg::Percentile(percentile?),
            _ => return None,
        })
    }
}

/// (value, weight) minute points of `entity` for `base` within [from, to).
pub fn points(world: &World, entity: &str, base: &str, from: i64, to: i64) -> Vec<(f64, f64)> {
    let Some(series) = world.series.get(&(entity.to_string(), base.to_string())) else {
        return vec![];
    };
    let requests = world
        .series
        .get(&(entity.to_string(), "requestspermin".to_string()));
    series
        .range(from..to)
        .map(|(t, v)| {
            let weight = match (base, requests) {
                ("requestspermin", _) | (_, None) => 1.0,
                (_, Some(r)) => r.get(t).copied().unwrap_or(0.0),
            };
            (*v, weight)
        })
        .collect()
}

/// The requests behind `entity`'s points in the window (for `count`).
fn request_total(world: &World, entity: &str, base: &str, from: i64, to: i64) -> f64 {
    let requests = points(world, entity, "requestspermin", from, to);
    if requests.is_empty() {
        points(world, entity, base, from, to).len() as f64
    } else {
        requests.iter().map(|(v, _)| v).sum()
    }
}

/// Aggregate `base` over the window across `entities` merged. `None`: no datapoint.
pub fn aggregate(
    world: &World,
    entities: &[&str],
    base: &str,
    agg: Agg,
    from: i64,
    to: i64,
) -> Option<f64> {
    let pts: Vec<(f64, f64)> = entities
        .iter()
        .flat_map(|e| points(world, e, base, from, to))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let values = || pts.iter().map(|(v, _)| *v);
    Some(match agg {
        Agg::Avg => {
            let total_weight: f64 = pts.iter().map(|(_, w)| w).sum();
            if total_weight > 0.0 {
                pts.iter().map(|(v, w)| v * w).sum::<f64>() / total_weight
            } else {
                values().sum::<f64>() / pts.len() as f64
            }
        }
        Agg::Min => values().fold(f64::INFINITY, f64::min),
        Agg::Max => values().fold(f64::NEG_INFINITY, f64::max),
        Agg::Sum | Agg::Value => values().sum(),
        Agg::Count => entities
            .iter()
            .map(|e| request_total(world, e, base, from, to))
            .sum(),
        Agg::Median => percentile(&pts, 50.0),
        Agg::Percentile(p) => percentile(&pts, p),
    })
}

/// Nearest-rank percentile over weighted points.
fn percentile(points: &[(f64, f64)], p: f64) -> f64 {
    let mut sorted: Vec<(f64, f64)> = points
        .iter()
        .map(|(v, w)| (*v, if *w > 0.0 { *w } else { 0.0 }))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = sorted.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        return sorted[rank.min(sorted.len()) - 1].0;
    }
    let target = p / 100.0 * total;
    let mut seen = 0.0;
    for (v, w) in &sorted {
        seen += w;
        if seen >= target {
            return *v;
        }
    }
    sorted.last().map(|(v, _)| *v).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynatrace::model::{Fixture, SeriesDef};

    fn world() -> World {
        let series = |entity: &str, metric: &str, values: Vec<Option<f64>>| SeriesDef {
            entity_id: entity.into(),
            metric: metric.into(),
            start_ms: 0,
            values,
        };
        World::from_fixture(Fixture {
            series: vec![
                series(
                    "A",
                    "responsetime",
                    vec![Some(100.0), Some(200.0), None, Some(400.0)],
                ),
                series(
                    "A",
                    "requestspermin",
                    vec![Some(10.0), Some(10.0), None, Some(20.0)],
                ),
                series("B", "responsetime", vec![Some(1000.0)]),
                series("B", "requestspermin", vec![Some(40.0)]),
            ],
            ..Fixture::default()
        })
    }

    #[test]
    fn aggregation_respects_the_window_and_the_weights() {
        let w = world();
        assert_eq!(
            aggregate(&w, &["A"], "responsetime", Agg::Avg, 0, 240_000),
            Some((100.0 * 10.0 + 200.0 * 10.0 + 400.0 * 20.0) / 40.0)
        );
        assert_eq!(
            aggregate(&w, &["A"], "responsetime", Agg::Avg, 60_000, 120_000),
            Some(200.0),
            "window [1m, 2m)"
        );
        assert_eq!(
            aggregate(&w, &["A"], "responsetime", Agg::Max, 0, 180_000),
            Some(200.0)
        );
        assert_eq!(
            aggregate(&w, &["A"], "responsetime", Agg::Count, 0, 240_000),
            Some(40.0)
        );
        assert_eq!(
            aggregate(&w, &["A", "B"], "responsetime", Agg::Count, 0, 240_000),
            Some(80.0)
        );
        assert_eq!(
            aggregate(&w, &["A", "B"], "responsetime", Agg::Avg, 0, 240_000),
            Some((1000.0 + 2000.0 + 8000.0 + 40_000.0) / 80.0)
        );
        assert_eq!(
            aggregate(
                &w,
                &["A", "B"],
                "responsetime",
                Agg::Percentile(50.0),
                0,
                240_000
            ),
            Some(400.0)
        );
        assert_eq!(
            aggregate(&w, &["A"], "responsetime", Agg::Avg, 500_000, 600_000),
            None
        );
    }

    #[test]
    fn v1_and_v2_ids_name_the_same_metrics() {
        assert_eq!(
            sim_metric("com.dynatrace.builtin:service.responsetime"),
            sim_metric("builtin:service.response.time")
        );
        assert_eq!(
            sim_metric("com.dynatrace.builtin:servicemethod.failurerate"),
            sim_metric("builtin:service.keyRequest.errors.server.rate")
        );
        assert_eq!(
            sim_metric("builtin:service.keyRequest.count.total")
                .unwrap()
                .entity_type,
            "SERVICE_METHOD"
        );
        assert_eq!(sim_metric("builtin:host.cpu.usage"), None);
    }
}
