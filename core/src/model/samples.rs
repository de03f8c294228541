//! How the series of one query become the points a statistical gate judges.

/// How several series of one query become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Counters: summed per point, never averaged.
    Sum,
    /// Gauges / latencies: the mean of the series present at that point.
    Mean,
    /// Several series are an error (SliError::Ambiguous) that says how to aggregate.
    One,
}

impl Merge {
    /// The name a canary file writes (`merge: sum`).
    pub fn as_str(self) -> &'static str {
        match self {
            Merge::Sum => "sum",
            Merge::Mean => "mean",
            Merge::One => "one",
        }
    }
}

/// Merge the values several series have at one point: `None` when none has one. `One` with
/// more than one value is not decided here (the adapters refuse several series before).
pub fn merge_point(values: &[f64], merge: Merge) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match merge {
        Merge::Sum | Merge::One => values.iter().sum(),
        Merge::Mean => values.iter().sum::<f64>() / values.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_gauges_average_over_the_series_present() {
        assert_eq!(merge_point(&[1.0, 2.0, 6.0], Merge::Sum), Some(9.0));
        assert_eq!(merge_point(&[1.0, 2.0, 6.0], Merge::Mean), Some(3.0));
        assert_eq!(merge_point(&[4.0], Merge::One), Some(4.0));
        assert_eq!(merge_point(&[], Merge::Sum), None);
        assert_eq!(merge_point(&[], Merge::Mean), None);
    }
}
