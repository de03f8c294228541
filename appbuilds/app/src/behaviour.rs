//! What each build does wrong, on purpose (the tutorial's table):
//!
//! | build | staging | production |
//! |---|---|---|
//! | 1 | normal | normal |
//! | 2 | half of `/api/invoke` calls fail with 500 | same |
//! | 3 | normal | normal |
//! | 4 | normal | latency doubles, 10% of `/api/invoke` calls fail |
//! | other | like 1 | like 1 |
//!
//! Failures are spread deterministically (every 2nd or every 10th invoke call), so "half"
//! and "10%" are exact over any whole cycle and tests need no tolerance for randomness.
//!
//! Independently of the build, the `EnablePromotion` feature flag (from Unleash) makes every
//! 3rd `/api/cart` call fail, as in Keptn's carts example.

use std::time::Duration;

/// Production is faster than staging (better hardware, in the tutorial's story).
pub const STAGING_BASE_LATENCY: Duration = Duration::from_millis(500);
pub const PRODUCTION_BASE_LATENCY: Duration = Duration::from_millis(300);

/// Keptn's carts example fails about a third of the calls while the promotion is on.
pub const PROMOTION_FAILS_EVERY_NTH_CART: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    pub build: u32,
    pub production: bool,
    /// The least time an `/api` request takes.
    pub min_latency: Duration,
    /// Every n-th `/api/invoke` call fails; 0: none.
    pub fail_every_nth_invoke: u32,
}

impl Behaviour {
    /// `deployment_group` is CodeDeploy's `DEPLOYMENT_GROUP_NAME`; groups starting with
    /// "Production" are production. `latency_scale` shrinks latencies for tests.
    pub fn new(build: u32, deployment_group: &str, latency_scale: f64) -> Self {
        let production = deployment_group.starts_with("Production");
        let base = if production {
            PRODUCTION_BASE_LATENCY
        } else {
            STAGING_BASE_LATENCY
        };
        let (factor, fail_every_nth_invoke) = match (build, production) {
            (2, _) => (1, 2),
            (4, true) => (2, 10),
            _ => (1, 0),
        };
        Behaviour {
            build,
            production,
            min_latency: base.mul_f64(latency_scale) * factor,
            fail_every_nth_invoke,
        }
    }

    /// Whether the `n`-th invoke call (1-based) fails.
    pub fn invoke_fails(&self, n: u64) -> bool {
        self.fail_every_nth_invoke > 0 && n.is_multiple_of(self.fail_every_nth_invoke as u64)
    }

    /// Whether the `n`-th cart call (1-based) fails: with the promotion on, every 3rd does.
    pub fn cart_fails(promotion: bool, n: u64) -> bool {
        promotion && n.is_multiple_of(PROMOTION_FAILS_EVERY_NTH_CART)
    }

    /// The page colour of this build (the original's palette; unknown builds look like 1).
    pub fn colour(&self) -> &'static str {
        match self.build {
            2 => "#FF0000",
            3 => "#FFFF00",
            4 => "#777777",
            _ => "#73A53E",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(b: &Behaviour, calls: u64) -> usize {
        (1..=calls).filter(|n| b.invoke_fails(*n)).count()
    }

    #[test]
    fn the_build_table() {
        let cases = [
            (1, "Staging", 500, 0),
            (1, "Production", 300, 0),
            (2, "Staging", 500, 50),
            (2, "Production", 300, 50),
            (3, "Production", 300, 0),
            (4, "Staging", 500, 0),
            (4, "Production", 600, 10),
            (9, "Production", 300, 0),
            (0, "StagingTests", 500, 0),
        ];
        for (build, group, latency_ms, failures_per_100) in cases {
            let b = Behaviour::new(build, group, 1.0);
            assert_eq!(
                b.min_latency,
                Duration::from_millis(latency_ms),
                "build {build} in {group}"
            );
            assert_eq!(
                failures(&b, 100),
                failures_per_100,
                "build {build} in {group}"
            );
        }
    }

    #[test]
    fn the_promotion_fails_every_third_cart_call() {
        let failing: Vec<u64> = (1..=9)
            .filter(|n| Behaviour::cart_fails(true, *n))
            .collect();
        assert_eq!(failing, vec![3, 6, 9]);
        assert!((1..=9).all(|n| !Behaviour::cart_fails(false, n)));
    }

    #[test]
    fn latency_scales_for_tests() {
        assert_eq!(
            Behaviour::new(4, "Production", 0.1).min_latency,
            Duration::from_millis(60)
        );
    }
}
