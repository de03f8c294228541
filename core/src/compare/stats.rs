//! Descriptive statistics of a series after its transforms, as Kayenta reports them.

use serde::Serialize;

/// count, min, max, mean and the sample standard deviation (n − 1); all 0 for an empty
/// series, and std 0 for a single point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeriesStats {
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

impl SeriesStats {
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return SeriesStats {
                count: 0,
                min: 0.0,
                max: 0.0,
                mean: 0.0,
                std: 0.0,
            };
        }
        let mean = mean(values);
        let std = if n < 2 {
            0.0
        } else {
            // The corrected two-pass algorithm (Apache Commons Math's Variance): the second
            // term removes the rounding error of the mean.
            let (squares, sum) = values.iter().fold((0.0, 0.0), |(sq, s), v| {
                let d = v - mean;
                (sq + d * d, s + d)
            });
            ((squares - sum * sum / n as f64) / (n - 1) as f64)
                .max(0.0)
                .sqrt()
        };
        SeriesStats {
            count: n,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean,
            std,
        }
    }
}

/// The mean with one correction pass (Apache Commons Math's Mean), 0 for no values.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f64;
    let first = values.iter().sum::<f64>() / n;
    let correction: f64 = values.iter().map(|v| v - first).sum();
    first + correction / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_series_is_all_zeros() {
        assert_eq!(
            SeriesStats::of(&[]),
            SeriesStats {
                count: 0,
                min: 0.0,
                max: 0.0,
                mean: 0.0,
                std: 0.0
            }
        );
    }

    #[test]
    fn one_point_has_no_spread() {
        let s = SeriesStats::of(&[42.0]);
        assert_eq!(
            (s.count, s.min, s.max, s.mean, s.std),
            (1, 42.0, 42.0, 42.0, 0.0)
        );
    }

    #[test]
    fn the_standard_deviation_divides_by_n_minus_1() {
        // numpy.std([1.5, 2.5, 10.0], ddof=1) = 4.645786621588785, mean 4.666666666666667.
        let s = SeriesStats::of(&[1.5, 2.5, 10.0]);
        assert_eq!((s.count, s.min, s.max), (3, 1.5, 10.0));
        assert!((s.mean - 4.666666666666667).abs() < 1e-15);
        assert!((s.std - 4.645786621588785).abs() < 1e-14);
    }
}
