//! Combining per-entity values into one number when the API cannot merge them for us
//! (v1 timeseries answers per entity).

use crate::monspec::Aggregate;

/// One entity's value and the number of requests behind it (its weight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntityValue {
    pub value: f64,
    pub requests: Option<f64>,
}

/// The combined value and, when it is not exact, what approximation was used.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    pub value: f64,
    pub approximation: Option<String>,
}

/// Combine per-entity values for `aggregate`:
/// - count and sum add up;
/// - min and max take the minimum and maximum;
/// - avg, median and percentiles take the request-weighted mean. That is exact for avg (when
///   every weight is known) and an approximation for median and percentiles, which is said.
///
/// Returns `None` when there is nothing to combine.
pub fn combine(aggregate: Aggregate, values: &[EntityValue]) -> Option<Combined> {
    let exact = |value| {
        Some(Combined {
            value,
            approximation: None,
        })
    };
    match values {
        [] => None,
        [single] => exact(single.value),
        _ => match aggregate {
            Aggregate::Count | Aggregate::Sum => exact(values.iter().map(|v| v.value).sum()),
            Aggregate::Min => exact(values.iter().map(|v| v.value).fold(f64::INFINITY, f64::min)),
            Aggregate::Max => exact(
                values
                    .iter()
                    .map(|v| v.value)
                    .fold(f64::NEG_INFINITY, f64::max),
            ),
            Aggregate::Avg | Aggregate::Median | Aggregate::Percentile(_) => {
                let weights_known = values.iter().all(|v| v.requests.is_some_and(|r| r > 0.0));
                let (value, how) = if weights_known {
                    let total: f64 = values.iter().map(|v| v.requests.unwrap_or(0.0)).sum();
                    let weighted: f64 = values
                        .iter()
                        .map(|v| v.value * v.requests.unwrap_or(0.0))
                        .sum();
                    (weighted / total, "request-weighted mean")
                } else {
                    let n = values.len() as f64;
                    (
                        values.iter().map(|v| v.value).sum::<f64>() / n,
                        "unweighted mean (request counts unavailable)",
                    )
                };
                let approximation = if aggregate == Aggregate::Avg && weights_known {
                    None
                } else {
                    Some(format!(
                        "{how} of {aggregate} over {} entities",
                        values.len()
                    ))
                };
                Some(Combined {
                    value,
                    approximation,
                })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(value: f64, requests: f64) -> EntityValue {
        EntityValue {
            value,
            requests: Some(requests),
        }
    }

    #[test]
    fn count_and_sum_add_up_across_entities() {
        let values = [ev(100.0, 100.0), ev(50.0, 50.0)];
        assert_eq!(combine(Aggregate::Count, &values).unwrap().value, 150.0);
        assert_eq!(combine(Aggregate::Sum, &values).unwrap().value, 150.0);
    }

    #[test]
    fn min_and_max_take_the_extremes() {
        let values = [ev(3.0, 1.0), ev(7.0, 1.0), ev(5.0, 1.0)];
        assert_eq!(combine(Aggregate::Min, &values).unwrap().value, 3.0);
        assert_eq!(combine(Aggregate::Max, &values).unwrap().value, 7.0);
    }

    #[test]
    fn avg_is_request_weighted_and_exact() {
        // 900 requests at 100 ms and 100 at 1000 ms: the mean request took 190 ms, not 550.
        let combined = combine(Aggregate::Avg, &[ev(100.0, 900.0), ev(1000.0, 100.0)]).unwrap();
        assert_eq!(combined.value, 190.0);
        assert_eq!(combined.approximation, None);
    }

    #[test]
    fn percentiles_are_weighted_and_marked_approximate() {
        let combined =
            combine(Aggregate::Percentile(90), &[ev(100.0, 3.0), ev(200.0, 1.0)]).unwrap();
        assert_eq!(combined.value, 125.0);
        assert_eq!(
            combined.approximation.as_deref(),
            Some("request-weighted mean of p90 over 2 entities")
        );
    }

    #[test]
    fn missing_weights_fall_back_to_an_unweighted_mean_and_say_so() {
        let values = [
            EntityValue {
                value: 1.0,
                requests: None,
            },
            EntityValue {
                value: 3.0,
                requests: None,
            },
        ];
        let combined = combine(Aggregate::Avg, &values).unwrap();
        assert_eq!(combined.value, 2.0);
        assert!(combined.approximation.unwrap().contains("unweighted"));
    }

    #[test]
    fn one_entity_is_exact_and_none_is_nothing() {
        assert_eq!(
            combine(Aggregate::Median, &[ev(4.0, 0.0)])
                .unwrap()
                .approximation,
            None
        );
        assert_eq!(combine(Aggregate::Avg, &[]), None);
    }
}
