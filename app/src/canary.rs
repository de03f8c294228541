//! The canary gate's measuring step: every metric of a canary file on both sides (control and
//! experiment), through a [`SampleSource`]. Only I/O through the port; judging is
//! [`crate::compare::judge`]'s.
//!
//! Fail closed: a metric whose points cannot be had is an empty series, which the judge
//! classifies as nodata (or nodata_fail with `mustHaveData`), with the reason in the notes;
//! a provider that cannot be asked at all is an error, never a pass.

use std::time::Duration;

use crate::compare::canary_file::{CanaryFile, PointsQuery, Scope};
use crate::compare::Samples;
use crate::ports::metrics::TimeWindow;
use crate::ports::samples::{Merge, SampleSource};
use crate::ports::sli::SliError;

/// Both sides' points, ready for the judge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gathered {
    pub control: Samples,
    pub experiment: Samples,
    /// Requests the source made for this gathering.
    pub requests: u64,
    /// per metric, why a side has no points (NoData/Ambiguous/Provider text)
    pub notes: Vec<String>,
}

/// Ask `source` for every metric of `file` on both sides over `window` (each side shifted by its
/// offset). NoData / Ambiguous / Provider for one metric: that metric's series is empty (the
/// judge then says nodata or nodata_fail) and the reason is in `notes`. Unavailable: Err — the
/// whole gate fails (CLI exit 2, the worker retries then rejects), never a pass.
///
/// Every query is filled with its side's scope before the first request: a placeholder a
/// scope cannot fill (`${location}` without a location) is the file's mistake, not a metric
/// without points, and is `Err(SliError::Provider)` naming the metric and the side.
pub async fn gather(
    source: &dyn SampleSource,
    file: &CanaryFile,
    control: &Scope,
    experiment: &Scope,
    window: TimeWindow,
) -> Result<Gathered, SliError> {
    let sides = [("control", control), ("experiment", experiment)];
    let mut filled: Vec<[PointsQuery; 2]> = Vec::with_capacity(file.sources.len());
    for metric in &file.sources {
        let fill = |(side, scope): (&str, &Scope)| {
            filled_query(&metric.points, scope)
                .map_err(|e| SliError::Provider(format!("metric {} ({side}): {e}", metric.name)))
        };
        filled.push([fill(sides[0])?, fill(sides[1])?]);
    }
    let mut gathered = Gathered::default();
    for (metric, queries) in file.sources.iter().zip(&filled) {
        for (s, (side, scope)) in sides.iter().enumerate() {
            let measured = measure(
                source,
                &queries[s],
                shifted(window, scope.offset),
                file.step,
                metric.merge,
                &mut gathered.requests,
            )
            .await;
            let series = match measured {
                Ok(points) => points,
                // Only "nothing there" is a metric without points. A refused query or
                // several series where one was asked is the file's mistake or a changed
                // environment: judging without that metric could pass a regression, so
                // the gate fails with it (say which metric and side).
                Err(SliError::Ambiguous(m)) => {
                    return Err(SliError::Ambiguous(format!(
                        "metric {} ({side}): {m}",
                        metric.name
                    )))
                }
                Err(SliError::Provider(m)) => {
                    return Err(SliError::Provider(format!(
                        "metric {} ({side}): {m}",
                        metric.name
                    )))
                }
                Err(e @ SliError::Unavailable(_)) => return Err(e),
                Err(e) => {
                    gathered
                        .notes
                        .push(format!("{} ({side}): {e}", metric.name));
                    Vec::new()
                }
            };
            let samples = if s == 0 {
                &mut gathered.control
            } else {
                &mut gathered.experiment
            };
            samples.insert(metric.name.clone(), series);
        }
    }
    Ok(gathered)
}

fn filled_query(points: &PointsQuery, scope: &Scope) -> Result<PointsQuery, String> {
    Ok(match points {
        PointsQuery::Value(query) => PointsQuery::Value(CanaryFile::fill(query, scope)?),
        PointsQuery::Ratio { errors, requests } => PointsQuery::Ratio {
            errors: CanaryFile::fill(errors, scope).map_err(|e| format!("errors: {e}"))?,
            requests: CanaryFile::fill(requests, scope).map_err(|e| format!("requests: {e}"))?,
        },
    })
}

/// The window `offset` earlier (Production an hour ago).
fn shifted(window: TimeWindow, offset: Duration) -> TimeWindow {
    let back = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
    TimeWindow {
        from_ms: window.from_ms.saturating_sub(back),
        to_ms: window.to_ms.saturating_sub(back),
    }
}

async fn measure(
    source: &dyn SampleSource,
    query: &PointsQuery,
    window: TimeWindow,
    step: Duration,
    merge: Merge,
    requests_made: &mut u64,
) -> Result<Vec<Option<f64>>, SliError> {
    // Counted here, not by the source: a worker's client serves several evaluations at once.
    match query {
        PointsQuery::Value(query) => {
            *requests_made += 1;
            source.samples(query, window, step, merge).await
        }
        PointsQuery::Ratio { errors, requests } => {
            *requests_made += 1;
            let requests = source
                .samples(requests, window, step, merge)
                .await
                .map_err(|e| of_query("requests", e))?;
            *requests_made += 1;
            let errors = match source.samples(errors, window, step, merge).await {
                Ok(points) => points,
                // No error series at all (a healthy service never answered 5xx; Dynatrace's
                // empty data) is no errors where there were requests, not a metric without
                // points: else a control without errors would have no error rate to compare.
                Err(SliError::NoData(_)) => vec![None; requests.len()],
                Err(e) => return Err(of_query("errors", e)),
            };
            Ok(per_step_ratio(&errors, &requests))
        }
    }
}

/// Which query of a rate failed, for the note; an unavailable provider is the same whichever.
fn of_query(which: &str, e: SliError) -> SliError {
    match e {
        SliError::NoData(m) => SliError::NoData(format!("the {which} query: {m}")),
        SliError::Ambiguous(m) => SliError::Ambiguous(format!("the {which} query: {m}")),
        SliError::Provider(m) => SliError::Provider(format!("the {which} query: {m}")),
        unavailable @ SliError::Unavailable(_) => unavailable,
    }
}

/// errors / requests per step: `None` where the requests are missing or 0 (a rate over
/// nothing is no point, not 0 and not ∞); a step with requests but no error value had no
/// errors (Dynatrace writes null for a minute without any).
pub fn per_step_ratio(errors: &[Option<f64>], requests: &[Option<f64>]) -> Vec<Option<f64>> {
    (0..errors.len().max(requests.len()))
        .map(|i| {
            match (
                errors.get(i).copied().flatten(),
                requests.get(i).copied().flatten(),
            ) {
                (e, Some(r)) if r > 0.0 => Some(e.unwrap_or(0.0) / r).filter(|v| v.is_finite()),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::compare::canary_file::parse_canary_file;

    type Points = Result<Vec<Option<f64>>, SliError>;
    /// One request: the filled query, the window, the step and the merge.
    type Asked = (String, TimeWindow, Duration, Merge);

    /// Canned points per filled query, and every request as it was asked.
    #[derive(Default)]
    struct CannedSamples {
        answers: HashMap<String, Points>,
        asked: Mutex<Vec<Asked>>,
    }

    impl CannedSamples {
        fn answer(mut self, query: &str, points: Points) -> Self {
            self.answers.insert(query.to_string(), points);
            self
        }

        fn asked(&self) -> Vec<Asked> {
            self.asked.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl SampleSource for CannedSamples {
        async fn samples(
            &self,
            query: &str,
            window: TimeWindow,
            step: Duration,
            merge: Merge,
        ) -> Result<Vec<Option<f64>>, SliError> {
            self.asked
                .lock()
                .unwrap()
                .push((query.to_string(), window, step, merge));
            self.answers.get(query).cloned().unwrap_or_else(|| {
                Err(SliError::NoData(format!(
                    "the query returned no series ({query})"
                )))
            })
        }

        fn requests(&self) -> u64 {
            self.asked.lock().unwrap().len() as u64
        }
    }

    const WINDOW: TimeWindow = TimeWindow {
        from_ms: 1_795_255_200_000,
        to_ms: 1_795_255_500_000,
    };

    fn scope(name: &str, offset_secs: u64) -> Scope {
        Scope {
            scope: name.into(),
            location: None,
            offset: Duration::from_secs(offset_secs),
        }
    }

    fn file(text: &str) -> CanaryFile {
        parse_canary_file(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn each_side_is_asked_with_its_scope_over_its_window_shifted_by_its_offset() {
        let f = file("step: 30s\nmetrics:\n  - name: latency\n    query: lat{job=\"$SCOPE\"}\n    merge: mean\n");
        let source = CannedSamples::default()
            .answer("lat{job=\"prod\"}", Ok(vec![Some(1.0), None, Some(3.0)]))
            .answer("lat{job=\"canary\"}", Ok(vec![Some(2.0), Some(4.0)]));
        let g = gather(
            &source,
            &f,
            &scope("prod", 3600),
            &scope("canary", 0),
            WINDOW,
        )
        .await
        .unwrap();
        assert_eq!(g.control.series("latency"), [Some(1.0), None, Some(3.0)]);
        assert_eq!(g.experiment.series("latency"), [Some(2.0), Some(4.0)]);
        assert_eq!((g.requests, g.notes.len()), (2, 0));
        let hour_ago = TimeWindow {
            from_ms: WINDOW.from_ms - 3_600_000,
            to_ms: WINDOW.to_ms - 3_600_000,
        };
        let step = Duration::from_secs(30);
        assert_eq!(
            source.asked(),
            [
                ("lat{job=\"prod\"}".to_string(), hour_ago, step, Merge::Mean),
                ("lat{job=\"canary\"}".to_string(), WINDOW, step, Merge::Mean),
            ]
        );
    }

    #[tokio::test]
    async fn a_rate_divides_per_step_and_has_no_point_where_there_were_no_requests() {
        let f = file("metrics:\n  - name: error_rate\n    errors: e{job=\"$SCOPE\"}\n    requests: r{job=\"$SCOPE\"}\n    merge: sum\n");
        let source = CannedSamples::default()
            .answer(
                "e{job=\"a\"}",
                Ok(vec![Some(1.0), Some(0.0), Some(2.0), None, Some(1.0)]),
            )
            .answer(
                "r{job=\"a\"}",
                Ok(vec![Some(10.0), Some(5.0), Some(0.0), Some(4.0), None]),
            )
            .answer("e{job=\"b\"}", Ok(vec![Some(3.0)]))
            .answer("r{job=\"b\"}", Ok(vec![Some(4.0), Some(8.0)]));
        let g = gather(&source, &f, &scope("a", 0), &scope("b", 0), WINDOW)
            .await
            .unwrap();
        assert_eq!(
            g.control.series("error_rate"),
            // No error value where there were requests is no errors (Dynatrace's null
            // minute); no requests or none known is no point.
            [Some(0.1), Some(0.0), None, Some(0.0), None]
        );
        assert_eq!(g.experiment.series("error_rate"), [Some(0.75), Some(0.0)]);
        assert_eq!(g.requests, 4);
        assert!(source.asked().iter().all(|(_, _, _, m)| *m == Merge::Sum));
    }

    #[tokio::test]
    async fn a_metric_without_points_is_an_empty_series_with_a_note_and_the_rest_is_measured() {
        let f = file(
            "metrics:\n  - name: latency\n    query: lat{job=\"$SCOPE\"}\n  - name: errors\n    errors: e{job=\"$SCOPE\"}\n    requests: r{job=\"$SCOPE\"}\n  - name: cpu\n    query: cpu{job=\"$SCOPE\"}\n",
        );
        let source = CannedSamples::default()
            .answer("lat{job=\"a\"}", Ok(vec![Some(1.0)]))
            .answer("lat{job=\"b\"}", Ok(vec![Some(2.0)]))
            .answer("r{job=\"a\"}", Err(SliError::NoData("no series".into())))
            .answer("e{job=\"a\"}", Ok(vec![Some(0.0)]))
            // No error series at all where there were requests: no errors, not no points.
            .answer("e{job=\"b\"}", Err(SliError::NoData("no series".into())))
            .answer("r{job=\"b\"}", Ok(vec![Some(5.0)]))
            .answer("cpu{job=\"a\"}", Ok(vec![Some(0.5)]))
            .answer("cpu{job=\"b\"}", Err(SliError::NoData("no series".into())));
        let g = gather(&source, &f, &scope("a", 0), &scope("b", 0), WINDOW)
            .await
            .unwrap();
        assert_eq!(g.control.series("latency"), [Some(1.0)]);
        assert!(g.control.series("errors").is_empty());
        assert_eq!(g.experiment.series("errors"), [Some(0.0)]);
        assert_eq!(g.control.series("cpu"), [Some(0.5)]);
        assert!(g.experiment.series("cpu").is_empty());
        assert_eq!(
            g.notes,
            [
                "errors (control): no data: the requests query: no series",
                "cpu (experiment): no data: no series",
            ]
        );
        // Per query asked: a rate whose requests have no data does not ask for its errors.
        assert_eq!(g.requests, 7);
    }

    #[tokio::test]
    async fn a_refused_or_ambiguous_query_fails_the_gather_naming_the_metric_and_side() {
        let f = file(
            "metrics:\n  - name: errors\n    errors: e{job=\"$SCOPE\"}\n    requests: r{job=\"$SCOPE\"}\n  - name: cpu\n    query: cpu{job=\"$SCOPE\"}\n",
        );
        let source = CannedSamples::default().answer(
            "r{job=\"a\"}",
            Err(SliError::Ambiguous(
                "the query returned 2 series, not one".into(),
            )),
        );
        let e = gather(&source, &f, &scope("a", 0), &scope("b", 0), WINDOW)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            SliError::Ambiguous(
                "metric errors (control): the requests query: the query returned 2 series, not one"
                    .into()
            )
        );
        let source = CannedSamples::default()
            .answer("e{job=\"a\"}", Ok(vec![Some(0.0)]))
            .answer("r{job=\"a\"}", Ok(vec![Some(1.0)]))
            .answer("e{job=\"b\"}", Ok(vec![Some(0.0)]))
            .answer("r{job=\"b\"}", Ok(vec![Some(1.0)]))
            .answer("cpu{job=\"a\"}", Ok(vec![Some(0.5)]))
            .answer(
                "cpu{job=\"b\"}",
                Err(SliError::Provider(
                    "Prometheus answered 400 Bad Request: bad_data: parse error".into(),
                )),
            );
        let e = gather(&source, &f, &scope("a", 0), &scope("b", 0), WINDOW)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            SliError::Provider(
                "metric cpu (experiment): Prometheus answered 400 Bad Request: bad_data: parse error"
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn a_placeholder_a_scope_cannot_fill_is_refused_before_any_request() {
        let f = file("metrics:\n  - name: latency\n    query: up\n  - name: regional\n    errors: e{region=\"${location}\"}\n    requests: r\n");
        let source = CannedSamples::default();
        let e = gather(&source, &f, &scope("a", 0), &scope("b", 0), WINDOW)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            SliError::Provider("metric regional (control): errors: the query uses ${location}, but the scope \"a\" has no location: give the scope as scope=a,location=<location>".into())
        );
        assert!(source.asked().is_empty());
    }

    #[test]
    fn a_ratio_is_missing_where_requests_are_zero_or_missing_and_zero_without_errors() {
        assert_eq!(
            per_step_ratio(
                &[Some(1.0), Some(1.0), None, Some(0.0), Some(2.0)],
                &[Some(4.0), Some(0.0), Some(2.0), Some(3.0), None]
            ),
            [Some(0.25), None, Some(0.0), Some(0.0), None]
        );
    }
}
