//! Prometheus as a sample source: `GET /api/v1/query_range` over the window, one point per
//! step. The instants are aligned to multiples of the step (as Grafana aligns them), so a
//! side's points do not depend on the millisecond it was asked at. Several series are merged
//! per instant as [`Merge`] says; an instant without a value, or with NaN or ±Inf (a rate over
//! no requests), is `None`. Errors as for an SLI ([`super::http_error`]): a query Prometheus
//! refused is [`SliError::Provider`], a Prometheus that cannot be asked is
//! [`SliError::Unavailable`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{query_time, Prometheus};
use crate::ports::metrics::TimeWindow;
use crate::ports::samples::{merge_point, Merge, SampleSource};
use crate::ports::sli::SliError;
use crate::text::truncate_chars;
use crate::time::rfc3339;

/// Prometheus refuses a range query of more points per series (`exceeded maximum resolution
/// of 11,000 points per timeseries`); asking is refused here first, with the fix.
pub const MAX_POINTS: i64 = 11_000;

/// The instants a range query is evaluated at: `start_ms`, every `step_ms` after it, up to
/// `end_ms` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeGrid {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

fn align_up(ms: i64, step_ms: i64) -> i64 {
    let down = ms.div_euclid(step_ms) * step_ms;
    if down < ms {
        down + step_ms
    } else {
        down
    }
}

impl RangeGrid {
    /// The multiples of `step` within `window` whose step lies inside it: the first one step
    /// after its start at the earliest (a point's rate looks back one step, which must not
    /// reach before the window), the last at or before its end.
    pub fn new(window: TimeWindow, step: Duration) -> Result<Self, SliError> {
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
        let grid = RangeGrid {
            start_ms: align_up(window.from_ms.saturating_add(step_ms), step_ms),
            end_ms: window.to_ms.div_euclid(step_ms) * step_ms,
            step_ms,
        };
        let step_text = humantime::format_duration(step);
        if grid.end_ms < grid.start_ms {
            return Err(SliError::Provider(format!(
                "the window {} to {} holds no whole step of {step_text}: give a window of several steps",
                rfc3339(window.from_ms),
                rfc3339(window.to_ms)
            )));
        }
        let points = (grid.end_ms - grid.start_ms) / step_ms + 1;
        if points > MAX_POINTS {
            return Err(SliError::Provider(format!(
                "{points} points of {step_text} per series: Prometheus answers at most 11,000; give a larger step or a shorter window"
            )));
        }
        Ok(grid)
    }

    /// How many instants.
    pub fn points(&self) -> usize {
        usize::try_from((self.end_ms - self.start_ms) / self.step_ms + 1).unwrap_or(0)
    }

    /// The position of the instant `ms`; `None` off the grid.
    fn index(&self, ms: i64) -> Option<usize> {
        let offset = ms - self.start_ms;
        if ms < self.start_ms || ms > self.end_ms || offset % self.step_ms != 0 {
            return None;
        }
        usize::try_from(offset / self.step_ms).ok()
    }
}

/// A point as a message shows it, shortened.
fn shown(point: &Value) -> String {
    truncate_chars(&point.to_string(), 80)
}

/// One point's value: Prometheus sends `[1795255200, "1.23"]`. NaN and ±Inf are no value.
fn point_value(point: &Value) -> Result<Option<f64>, SliError> {
    let text = point.get(1).and_then(Value::as_str).ok_or_else(|| {
        SliError::Provider(format!(
            "Prometheus sent a point without a value: {}",
            shown(point)
        ))
    })?;
    let value: f64 = text
        .parse()
        .map_err(|_| SliError::Provider(format!("Prometheus sent \"{text}\", not a number")))?;
    Ok(value.is_finite().then_some(value))
}

/// Read a range-query answer (`resultType: matrix`) into one value per instant of `grid`.
pub fn read_range_answer(
    body: &Value,
    grid: RangeGrid,
    merge: Merge,
) -> Result<Vec<Option<f64>>, SliError> {
    if body["status"] != "success" {
        return Err(SliError::Provider(format!(
            "Prometheus refused the query: {}: {}",
            body["errorType"].as_str().unwrap_or("error"),
            body["error"].as_str().unwrap_or("no message")
        )));
    }
    let data = &body["data"];
    if data["resultType"] != "matrix" {
        return Err(SliError::Provider(format!(
            "the range query returned a {}, not a matrix: give a query of an instant vector or a scalar",
            data["resultType"].as_str().unwrap_or("nothing")
        )));
    }
    let series = data["result"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    match series.len() {
        0 => return Err(SliError::NoData("the query returned no series".into())),
        1 => {}
        n if merge == Merge::One => {
            return Err(SliError::Ambiguous(format!(
                "the query returned {n} series, not one: aggregate them in the query (sum(...) for counters, avg(...) or max(...) for gauges and latencies), or set merge: sum or merge: mean"
            )))
        }
        _ => {}
    }
    let mut present: Vec<Vec<f64>> = vec![Vec::new(); grid.points()];
    for one in series {
        for point in one["values"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let seconds = point.get(0).and_then(Value::as_f64).ok_or_else(|| {
                SliError::Provider(format!(
                    "Prometheus sent a point without a time: {}",
                    shown(point)
                ))
            })?;
            // An instant that was not asked for cannot be placed; Prometheus sends none.
            let Some(i) = grid.index((seconds * 1000.0).round() as i64) else {
                continue;
            };
            let value = point_value(point)?;
            if let Some(slot) = present.get_mut(i) {
                slot.extend(value);
            }
        }
    }
    Ok(present
        .iter()
        .map(|values| merge_point(values, merge))
        .collect())
}

#[async_trait]
impl SampleSource for Prometheus {
    async fn samples(
        &self,
        query: &str,
        window: TimeWindow,
        step: Duration,
        merge: Merge,
    ) -> Result<Vec<Option<f64>>, SliError> {
        let grid = RangeGrid::new(window, step)?;
        let (start, end, step_text) = (
            query_time(grid.start_ms),
            query_time(grid.end_ms),
            query_time(grid.step_ms),
        );
        let body = self
            .get_json(
                "/api/v1/query_range",
                &[
                    ("query", query),
                    ("start", start.as_str()),
                    ("end", end.as_str()),
                    ("step", step_text.as_str()),
                ],
            )
            .await?;
        read_range_answer(&body, grid, merge)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-11-21T10:00:00Z.
    const T0: i64 = 1_795_255_200_000;

    fn window(from_ms: i64, to_ms: i64) -> TimeWindow {
        TimeWindow { from_ms, to_ms }
    }

    fn grid(points: i64, step_secs: i64) -> RangeGrid {
        RangeGrid {
            start_ms: T0,
            end_ms: T0 + (points - 1) * step_secs * 1000,
            step_ms: step_secs * 1000,
        }
    }

    fn matrix(result: Value) -> Value {
        json!({"status": "success", "data": {"resultType": "matrix", "result": result}})
    }

    /// A series as Prometheus sends it: `[seconds, "value"]` pairs.
    fn series(labels: Value, points: &[(i64, &str)]) -> Value {
        let values: Vec<Value> = points
            .iter()
            .map(|(secs, v)| json!([T0 / 1000 + secs, v]))
            .collect();
        json!({"metric": labels, "values": values})
    }

    #[test]
    fn the_instants_are_multiples_of_the_step_within_the_window() {
        let ten = Duration::from_secs(10);
        assert_eq!(
            RangeGrid::new(window(T0 + 3_000, T0 + 60_000), ten),
            // The first instant whose one-step look-back starts inside the window.
            Ok(RangeGrid {
                start_ms: T0 + 20_000,
                end_ms: T0 + 60_000,
                step_ms: 10_000
            })
        );
        let aligned = RangeGrid::new(window(T0, T0 + 300_000), Duration::from_secs(60)).unwrap();
        assert_eq!(
            aligned.points(),
            5,
            "a point per minute of the window, none before it"
        );
        assert_eq!(
            RangeGrid::new(window(T0 + 1_000, T0 + 9_000), ten),
            Err(SliError::Provider(
                "the window 2026-11-21T10:00:01Z to 2026-11-21T10:00:09Z holds no whole step of 10s: give a window of several steps".into()
            ))
        );
        assert_eq!(
            RangeGrid::new(window(T0, T0 + 86_400_000), Duration::from_secs(1)),
            Err(SliError::Provider(
                "86400 points of 1s per series: Prometheus answers at most 11,000; give a larger step or a shorter window".into()
            ))
        );
    }

    #[test]
    fn one_series_gives_a_point_per_instant_and_none_where_it_has_no_number() {
        let answer = matrix(json!([series(
            json!({"job": "carts"}),
            &[
                (0, "1.5"),
                (20, "NaN"),
                (30, "+Inf"),
                (40, "-Inf"),
                (50, "4")
            ]
        )]));
        assert_eq!(
            read_range_answer(&answer, grid(6, 10), Merge::One),
            Ok(vec![Some(1.5), None, None, None, None, Some(4.0)])
        );
    }

    #[test]
    fn several_series_add_up_or_average_per_instant_or_are_refused() {
        let answer = matrix(json!([
            series(json!({"instance": "a"}), &[(0, "1"), (10, "2"), (20, "3")]),
            series(json!({"instance": "b"}), &[(0, "3"), (20, "NaN")]),
        ]));
        assert_eq!(
            read_range_answer(&answer, grid(4, 10), Merge::Sum),
            Ok(vec![Some(4.0), Some(2.0), Some(3.0), None])
        );
        assert_eq!(
            read_range_answer(&answer, grid(4, 10), Merge::Mean),
            Ok(vec![Some(2.0), Some(2.0), Some(3.0), None])
        );
        assert_eq!(
            read_range_answer(&answer, grid(4, 10), Merge::One),
            Err(SliError::Ambiguous(
                "the query returned 2 series, not one: aggregate them in the query (sum(...) for counters, avg(...) or max(...) for gauges and latencies), or set merge: sum or merge: mean".into()
            ))
        );
    }

    #[test]
    fn a_point_off_the_grid_is_not_placed() {
        let answer = matrix(json!([series(json!({}), &[(5, "9"), (10, "2")])]));
        assert_eq!(
            read_range_answer(&answer, grid(2, 10), Merge::One),
            Ok(vec![None, Some(2.0)])
        );
    }

    #[test]
    fn no_series_is_no_data_and_other_answers_say_why() {
        assert_eq!(
            read_range_answer(&matrix(json!([])), grid(2, 10), Merge::Sum),
            Err(SliError::NoData("the query returned no series".into()))
        );
        assert_eq!(
            read_range_answer(
                &json!({"status": "error", "errorType": "bad_data", "error": "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"}),
                grid(2, 10),
                Merge::One
            ),
            Err(SliError::Provider(
                "Prometheus refused the query: bad_data: invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into()
            ))
        );
        assert_eq!(
            read_range_answer(
                &json!({"status": "success", "data": {"resultType": "vector", "result": []}}),
                grid(2, 10),
                Merge::One
            ),
            Err(SliError::Provider(
                "the range query returned a vector, not a matrix: give a query of an instant vector or a scalar".into()
            ))
        );
        let odd = matrix(json!([{"metric": {}, "values": [[T0 / 1000, "abc"]]}]));
        assert_eq!(
            read_range_answer(&odd, grid(2, 10), Merge::One),
            Err(SliError::Provider(
                "Prometheus sent \"abc\", not a number".into()
            ))
        );
        let no_time = matrix(json!([{"metric": {}, "values": [["later", "1"]]}]));
        assert_eq!(
            read_range_answer(&no_time, grid(2, 10), Merge::One),
            Err(SliError::Provider(
                "Prometheus sent a point without a time: [\"later\",\"1\"]".into()
            ))
        );
    }

    /// Answers one connection with `body` and hands back the request's first line.
    async fn answer_once(body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).await.unwrap() == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        });
        (url, handle)
    }

    #[tokio::test]
    async fn the_range_query_asks_for_the_aligned_instants_in_whole_seconds() {
        let (url, request) = answer_once(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795255220,"1"],[1795255230,"2"]]}]}}"#,
        )
        .await;
        let p = Prometheus::new(&url, Duration::from_secs(5)).unwrap();
        let points = p
            .samples(
                "up",
                window(T0 + 3_000, T0 + 31_000),
                Duration::from_secs(10),
                Merge::One,
            )
            .await;
        assert_eq!(points, Ok(vec![Some(1.0), Some(2.0)]));
        assert_eq!(
            request.await.unwrap(),
            "GET /api/v1/query_range?query=up&start=1795255220&end=1795255230&step=10 HTTP/1.1"
        );
        assert_eq!(p.requests(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_is_unavailable_without_its_credentials() {
        let p = Prometheus::new("http://admin:s3cret@127.0.0.1:1", Duration::from_secs(2)).unwrap();
        let e = p
            .samples(
                "up",
                window(T0, T0 + 60_000),
                Duration::from_secs(10),
                Merge::One,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&e, SliError::Unavailable(m) if m.starts_with("cannot reach Prometheus at http://127.0.0.1:1")),
            "{e:?}"
        );
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
