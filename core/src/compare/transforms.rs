//! What happens to a series before it is judged: missing points (the NaN strategy), then
//! outliers (Kayenta's IQR detector with reduced sensitivity), each series on its own.

use super::config::{MetricConfig, NanStrategy, OutlierStrategy};

/// A series with its missing points (`None`, JSON `null`) dropped (`remove`) or made 0
/// (`replace`).
pub fn handle_missing(series: &[Option<f64>], strategy: NanStrategy) -> Vec<f64> {
    match strategy {
        NanStrategy::Remove => series.iter().flatten().copied().collect(),
        NanStrategy::Replace => series.iter().map(|v| v.unwrap_or(0.0)).collect(),
    }
}

/// The p-th percentile (0 ≤ p ≤ 100) of ascending `sorted` values, Hyndman–Fan type 7 (R's
/// default, Apache Commons Math's R_7): h = (n − 1)·p/100, interpolated linearly. NaN when
/// there are no values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * p / 100.0;
    let below = h.floor();
    let i = below as usize;
    if i + 1 >= n {
        return sorted[n - 1];
    }
    sorted[i] + (h - below) * (sorted[i + 1] - sorted[i])
}

/// The fences outside which a value is an outlier: `min(P1, Q1 − f·IQR)` and
/// `max(P99, Q3 + f·IQR)` (Kayenta's reduced sensitivity). None when nothing can be an
/// outlier: an empty series, or Q1 = Q3 (D6: Kayenta's fences collapse to [P1, P99] there and
/// delete the non-zero points of a mostly-zero error series, kayenta#420).
pub fn outlier_fences(values: &[f64], factor: f64) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q1 = percentile(&sorted, 25.0);
    let q3 = percentile(&sorted, 75.0);
    if q1 == q3 {
        return None;
    }
    let iqr = q3 - q1;
    let lower = percentile(&sorted, 1.0).min(q1 - factor * iqr);
    let upper = percentile(&sorted, 99.0).max(q3 + factor * iqr);
    Some((lower, upper))
}

/// `values` without the points outside [`outlier_fences`], in their order.
pub fn remove_outliers(values: &[f64], factor: f64) -> Vec<f64> {
    match outlier_fences(values, factor) {
        None => values.to_vec(),
        Some((lower, upper)) => values
            .iter()
            .copied()
            .filter(|v| lower <= *v && *v <= upper)
            .collect(),
    }
}

/// A raw series as the metric's settings say: missing points first, then outliers.
pub fn transform(series: &[Option<f64>], metric: &MetricConfig) -> Vec<f64> {
    let values = handle_missing(series, metric.nan_strategy);
    match metric.outliers.strategy {
        OutlierStrategy::Keep => values,
        OutlierStrategy::Remove => remove_outliers(&values, metric.outliers.factor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_drops_missing_points_and_replace_makes_them_zero() {
        let series = [Some(212.0), None, Some(230.5), None];
        assert_eq!(
            handle_missing(&series, NanStrategy::Remove),
            vec![212.0, 230.5]
        );
        assert_eq!(
            handle_missing(&series, NanStrategy::Replace),
            vec![212.0, 0.0, 230.5, 0.0]
        );
        assert!(handle_missing(&[None, None], NanStrategy::Remove).is_empty());
    }

    #[test]
    fn percentiles_are_hyndman_fan_type_7() {
        // numpy.percentile(sorted, p) (its default 'linear' method is type 7), numpy 2.4.
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 100.0];
        assert_eq!(percentile(&sorted, 1.0), 1.1);
        assert_eq!(percentile(&sorted, 25.0), 3.5);
        assert_eq!(percentile(&sorted, 50.0), 6.0);
        assert_eq!(percentile(&sorted, 75.0), 8.5);
        assert!((percentile(&sorted, 99.0) - 91.00000000000003).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn outliers_beyond_the_reduced_sensitivity_fences_are_removed() {
        // Q1 3.5, Q3 8.5, IQR 5: with f = 3 the fences are min(P1 1.1, −11.5) = −11.5 and
        // max(P99 91.0, 23.5) = 91.0, so 100 goes (numpy, as above).
        let values = [1.0, 2.0, 3.0, 4.0, 100.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let (lower, upper) = outlier_fences(&values, 3.0).unwrap();
        assert_eq!(lower, -11.5);
        assert!((upper - 91.00000000000003).abs() < 1e-12);
        assert_eq!(
            remove_outliers(&values, 3.0),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
        );
    }

    #[test]
    fn a_zero_iqr_removes_nothing_d6() {
        // Kayenta: fences [P1 0, P99 4.05] delete the one error of a mostly-zero series.
        let mut errors = vec![0.0; 19];
        errors.insert(9, 5.0);
        assert_eq!(outlier_fences(&errors, 3.0), None);
        assert_eq!(remove_outliers(&errors, 3.0), errors);
    }

    #[test]
    fn an_empty_series_stays_empty() {
        assert!(remove_outliers(&[], 3.0).is_empty());
    }

    #[test]
    fn missing_points_are_handled_before_outliers() {
        let mut metric = MetricConfig::named("m");
        metric.nan_strategy = NanStrategy::Replace;
        metric.outliers.strategy = OutlierStrategy::Remove;
        // Replaced by 0, the missing points make Q1 = Q3 = 0: nothing is removed (D6).
        let series = [
            None,
            None,
            None,
            Some(1.0),
            None,
            None,
            Some(50.0),
            None,
            None,
        ];
        assert_eq!(
            transform(&series, &metric),
            vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 50.0, 0.0, 0.0]
        );
        metric.nan_strategy = NanStrategy::Remove;
        assert_eq!(transform(&series, &metric), vec![1.0, 50.0]);
    }
}
