//! The queries Keptn's SLI providers used for a well-known SLI name that sli.yaml does not
//! define, kept as data, and the rule each peer had for using them:
//! - prometheus-service (`utils/prometheus/prometheus.go::GetMetricQuery`) uses its default
//!   for every name sli.yaml leaves out, even when sli.yaml defines others;
//! - dynatrace-service (`internal/sli/query/custom_queries.go::GetQueryByNameOrDefaultIfEmpty`)
//!   only when sli.yaml defines no indicator at all: once a team writes its own queries, a
//!   missing one is a mistake to report, not a gap to fill.
//!
//! The placeholders stay in the text, to be filled (and checked) like any sli.yaml query.

use std::collections::BTreeMap;

use super::SliFile;
use crate::model::store::SliProviderKind;

/// Stands for the label matchers in [`PROMETHEUS`]; see [`prometheus_matchers`].
const MATCHERS: &str = "MATCHERS";

/// prometheus-service's default queries, as its code writes them (no spaces).
pub const PROMETHEUS: [(&str, &str); 5] = [
    (
        "throughput",
        "sum(rate(http_requests_total{MATCHERS}[$DURATION_SECONDS]))",
    ),
    (
        "error_rate",
        "sum(rate(http_requests_total{MATCHERS,status!~'2..'}[$DURATION_SECONDS]))/sum(rate(http_requests_total{MATCHERS}[$DURATION_SECONDS]))",
    ),
    (
        "response_time_p50",
        "histogram_quantile(0.50,sum(rate(http_response_time_milliseconds_bucket{MATCHERS}[$DURATION_SECONDS]))by(le))",
    ),
    (
        "response_time_p90",
        "histogram_quantile(0.90,sum(rate(http_response_time_milliseconds_bucket{MATCHERS}[$DURATION_SECONDS]))by(le))",
    ),
    (
        "response_time_p95",
        "histogram_quantile(0.95,sum(rate(http_response_time_milliseconds_bucket{MATCHERS}[$DURATION_SECONDS]))by(le))",
    ),
];

/// The job prometheus-service's defaults select: both peers (and their tests) write the
/// literal `-canary`, not the deployment.
pub const PROMETHEUS_JOB: &str = "job='$SERVICE-$PROJECT-$STAGE-canary'";

/// dynatrace-service's default queries (Metrics API v2, values as Dynatrace gives them:
/// microseconds for the response times).
pub const DYNATRACE: [(&str, &str); 5] = [
    (
        "throughput",
        "metricSelector=builtin:service.requestCount.total:merge(\"dt.entity.service\"):sum&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
    ),
    (
        "error_rate",
        "metricSelector=builtin:service.errors.total.rate:merge(\"dt.entity.service\"):avg&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
    ),
    (
        "response_time_p50",
        "metricSelector=builtin:service.response.time:merge(\"dt.entity.service\"):percentile(50)&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
    ),
    (
        "response_time_p90",
        "metricSelector=builtin:service.response.time:merge(\"dt.entity.service\"):percentile(90)&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
    ),
    (
        "response_time_p95",
        "metricSelector=builtin:service.response.time:merge(\"dt.entity.service\"):percentile(95)&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
    ),
];

/// The SLI names with a default query.
pub const DEFAULT_NAMES: &str =
    "throughput, error_rate, response_time_p50, response_time_p90, response_time_p95";

/// prometheus-service's label matchers for its defaults (`getDefaultFilterExpression`): the
/// job, then one matcher per slo.yaml `filter` entry. A value that starts with an operator
/// (`=`, `!=`, `=~`, `!~`) keeps it, with `"` turned into `'`; any other is matched exactly,
/// its quotes removed. A `job` filter replaces the default job.
pub fn prometheus_matchers(filter: &BTreeMap<String, String>) -> String {
    let mut matchers = Vec::new();
    if !filter.contains_key("job") {
        matchers.push(PROMETHEUS_JOB.to_string());
    }
    for (key, value) in filter {
        if ["=", "!=", "=~", "!~"]
            .iter()
            .any(|op| value.starts_with(op))
        {
            matchers.push(format!("{key}{}", value.replace('"', "'")));
        } else {
            matchers.push(format!("{key}='{}'", value.replace(['\'', '"'], "")));
        }
    }
    matchers.join(",")
}

/// prometheus-service's default query for `sli`, with the matchers of `filter`; `None` for
/// a name it has no default for.
pub fn prometheus_default(sli: &str, filter: &BTreeMap<String, String>) -> Option<String> {
    PROMETHEUS
        .iter()
        .find(|(name, _)| *name == sli)
        .map(|(_, template)| template.replace(MATCHERS, &prometheus_matchers(filter)))
}

/// dynatrace-service's default query for `sli`; `None` for a name it has no default for.
pub fn dynatrace_default(sli: &str) -> Option<&'static str> {
    DYNATRACE
        .iter()
        .find(|(name, _)| *name == sli)
        .map(|(_, query)| *query)
}

/// The query an objective is measured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenQuery {
    /// The query with its placeholders, still to be filled.
    pub text: String,
    /// The peer whose default query this is, when sli.yaml has none for the SLI.
    pub default_of: Option<&'static str>,
}

impl ChosenQuery {
    /// What the evaluation's notes say when a default was used; `sent` is the query as
    /// filled. `None` for sli.yaml's own query.
    pub fn note(&self, sli: &str, sent: &str) -> Option<String> {
        match self.default_of? {
            DYNATRACE_SERVICE => Some(format!(
                "sli.yaml has no indicators: {DYNATRACE_SERVICE}'s default query for \"{sli}\" was used: {sent}"
            )),
            peer => Some(format!(
                "sli.yaml has no indicator \"{sli}\": {peer}'s default query was used: {sent}"
            )),
        }
    }
}

const PROMETHEUS_SERVICE: &str = "prometheus-service";
const DYNATRACE_SERVICE: &str = "dynatrace-service";

/// sli.yaml's query for `sli`, else the provider's peer's default where the peer used one;
/// the error names the SLI and says what to add.
pub fn query_for(
    kind: SliProviderKind,
    sli: &str,
    indicators: &SliFile,
    filter: &BTreeMap<String, String>,
) -> Result<ChosenQuery, String> {
    if let Some(text) = indicators.indicators.get(sli) {
        return Ok(ChosenQuery {
            text: text.clone(),
            default_of: None,
        });
    }
    let missing = format!("sli.yaml has no indicator \"{sli}\": add its query under indicators");
    match kind {
        SliProviderKind::Prometheus => match prometheus_default(sli, filter) {
            Some(text) => Ok(ChosenQuery {
                text,
                default_of: Some(PROMETHEUS_SERVICE),
            }),
            None => Err(format!(
                "{missing} ({PROMETHEUS_SERVICE}'s default queries are for {DEFAULT_NAMES} only)"
            )),
        },
        SliProviderKind::Dynatrace => match dynatrace_default(sli) {
            Some(text) if indicators.indicators.is_empty() => Ok(ChosenQuery {
                text: text.to_string(),
                default_of: Some(DYNATRACE_SERVICE),
            }),
            Some(_) => Err(format!(
                "{missing} ({DYNATRACE_SERVICE}'s default query for it applies only to an sli.yaml without indicators, as in Keptn)"
            )),
            None if indicators.indicators.is_empty() => Err(format!(
                "{missing} ({DYNATRACE_SERVICE}'s default queries are for {DEFAULT_NAMES} only)"
            )),
            None => Err(missing),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sli_file(pairs: &[(&str, &str)]) -> SliFile {
        SliFile {
            spec_version: None,
            indicators: filter(pairs),
        }
    }

    /// prometheus-sli-service's `lib/prometheus/prometheus_test.go`, with sockshop/dev/carts
    /// and a 1 s window filled in as the placeholders will be.
    fn filled(query: &str) -> String {
        query
            .replace("$SERVICE", "carts")
            .replace("$PROJECT", "sockshop")
            .replace("$STAGE", "dev")
            .replace("$DURATION_SECONDS", "1s")
    }

    #[test]
    fn prometheus_defaults_are_the_peers_queries() {
        let none = BTreeMap::new();
        let handler = filter(&[("handler", "=~'ItemsController'")]);
        let cases = [
            ("throughput", &none, "sum(rate(http_requests_total{job='carts-sockshop-dev-canary'}[1s]))"),
            ("error_rate", &none, "sum(rate(http_requests_total{job='carts-sockshop-dev-canary',status!~'2..'}[1s]))/sum(rate(http_requests_total{job='carts-sockshop-dev-canary'}[1s]))"),
            ("error_rate", &handler, "sum(rate(http_requests_total{job='carts-sockshop-dev-canary',handler=~'ItemsController',status!~'2..'}[1s]))/sum(rate(http_requests_total{job='carts-sockshop-dev-canary',handler=~'ItemsController'}[1s]))"),
            ("response_time_p50", &none, "histogram_quantile(0.50,sum(rate(http_response_time_milliseconds_bucket{job='carts-sockshop-dev-canary'}[1s]))by(le))"),
            ("response_time_p90", &none, "histogram_quantile(0.90,sum(rate(http_response_time_milliseconds_bucket{job='carts-sockshop-dev-canary'}[1s]))by(le))"),
            ("response_time_p95", &none, "histogram_quantile(0.95,sum(rate(http_response_time_milliseconds_bucket{job='carts-sockshop-dev-canary'}[1s]))by(le))"),
        ];
        for (sli, filter, expected) in cases {
            let query = prometheus_default(sli, filter).unwrap();
            assert_eq!(filled(&query), expected, "{sli}");
        }
        assert_eq!(prometheus_default("response_time_p99", &none), None);
    }

    #[test]
    fn prometheus_matchers_follow_the_peers_filter_rules() {
        let cases = [
            (
                filter(&[("handler", "ItemsController")]),
                "job='carts-sockshop-dev-canary',handler='ItemsController'",
            ),
            (
                filter(&[("handler", "!='ItemsController'")]),
                "job='carts-sockshop-dev-canary',handler!='ItemsController'",
            ),
            (
                filter(&[("handler", "'ItemsController'")]),
                "job='carts-sockshop-dev-canary',handler='ItemsController'",
            ),
            (
                filter(&[("handler", "\"ItemsController\"")]),
                "job='carts-sockshop-dev-canary',handler='ItemsController'",
            ),
            (
                filter(&[("handler", "=~\".+Items\"")]),
                "job='carts-sockshop-dev-canary',handler=~'.+Items'",
            ),
            (filter(&[("job", "my-job")]), "job='my-job'"),
        ];
        for (filter, expected) in cases {
            assert_eq!(
                filled(&prometheus_matchers(&filter)),
                expected,
                "{filter:?}"
            );
        }
    }

    #[test]
    fn prometheus_uses_a_default_for_each_name_sli_yaml_leaves_out() {
        let sli = sli_file(&[("response_time_p95", "my_query")]);
        let own = query_for(
            SliProviderKind::Prometheus,
            "response_time_p95",
            &sli,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!((own.text.as_str(), own.default_of), ("my_query", None));
        assert_eq!(own.note("response_time_p95", "my_query"), None);
        let default = query_for(
            SliProviderKind::Prometheus,
            "throughput",
            &sli,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(default.default_of, Some("prometheus-service"));
        assert_eq!(
            default.note("throughput", "sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[76s]))").unwrap(),
            "sli.yaml has no indicator \"throughput\": prometheus-service's default query was used: sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[76s]))"
        );
        assert_eq!(
            query_for(SliProviderKind::Prometheus, "cpu", &sli, &BTreeMap::new()).unwrap_err(),
            "sli.yaml has no indicator \"cpu\": add its query under indicators (prometheus-service's default queries are for throughput, error_rate, response_time_p50, response_time_p90, response_time_p95 only)"
        );
    }

    #[test]
    fn dynatrace_uses_its_defaults_only_when_sli_yaml_has_no_indicators() {
        let empty = sli_file(&[]);
        let default = query_for(
            SliProviderKind::Dynatrace,
            "response_time_p95",
            &empty,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            default.text,
            "metricSelector=builtin:service.response.time:merge(\"dt.entity.service\"):percentile(95)&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)"
        );
        assert_eq!(
            default.note("response_time_p95", "metricSelector=…").unwrap(),
            "sli.yaml has no indicators: dynatrace-service's default query for \"response_time_p95\" was used: metricSelector=…"
        );
        assert_eq!(
            query_for(SliProviderKind::Dynatrace, "cpu", &empty, &BTreeMap::new()).unwrap_err(),
            "sli.yaml has no indicator \"cpu\": add its query under indicators (dynatrace-service's default queries are for throughput, error_rate, response_time_p50, response_time_p90, response_time_p95 only)"
        );
        // dynatrace-service's TestNoDefaultSLIsAreUsedWhenCustomSLIsAreValidYAMLButIndicatorCannotBeMatched.
        let other = sli_file(&[("response_time_p59", "metricSelector=x")]);
        assert_eq!(
            query_for(SliProviderKind::Dynatrace, "response_time_p95", &other, &BTreeMap::new()).unwrap_err(),
            "sli.yaml has no indicator \"response_time_p95\": add its query under indicators (dynatrace-service's default query for it applies only to an sli.yaml without indicators, as in Keptn)"
        );
        assert_eq!(
            query_for(SliProviderKind::Dynatrace, "cpu", &other, &BTreeMap::new()).unwrap_err(),
            "sli.yaml has no indicator \"cpu\": add its query under indicators"
        );
    }
}
