//! Placeholders in sli.yaml queries, as Keptn's SLI providers fill them: `$PROJECT`,
//! `$STAGE`, `$SERVICE`, `$DEPLOYMENT`, `$CONTEXT`, `$DURATION_SECONDS` (the window in whole
//! seconds, rounded up, e.g. `300s`), `$LABEL.<key>`, `$ENV.<NAME>`, and for each key of the
//! slo.yaml `filter` both `$<key>` and `$<KEY>` (its value without quotes).
//!
//! Where the peers fill a placeholder without a value with nothing (so `tag(keptn_stage:)`
//! matches no entity, a problem count of 0 passes), [`fill`] refuses the query and says which
//! placeholder, and how to give it. A value given empty on purpose (`--deployment ''`, as
//! Keptn events carry it) is a value. Any other text that starts with `$` stays as written.

use std::collections::BTreeMap;

/// Reads an environment variable (the process's, for `$ENV.<NAME>`).
pub type EnvReader = fn(&str) -> Option<String>;

/// Who builds the context: says how a missing value is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContextOrigin {
    /// `unbreakable slo query` / `alert-rules`: flags.
    #[default]
    Cli,
    /// An SLO gate of the pipeline: the registration's values.
    Pipeline,
    /// A self-healing evaluation of a service's stage.
    Lane,
}

/// Where and what is evaluated. `None` is "not given"; `Some("")` is "given empty".
#[derive(Debug, Clone, Default)]
pub struct SliContext {
    pub project: Option<String>,
    pub stage: Option<String>,
    pub service: Option<String>,
    pub deployment: Option<String>,
    /// `$CONTEXT`: Keptn's context id; the pipeline's execution id.
    pub context: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// How `$ENV.<NAME>` is read; `None`: not at all.
    pub env: Option<EnvReader>,
    pub origin: ContextOrigin,
}

/// What a provider fills where the context has no value (prometheus-service's `primary` for
/// `$DEPLOYMENT`), said in the result's notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FillOptions {
    pub deployment_fallback: Option<&'static str>,
}

/// The query with its placeholders filled, and what was assumed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub query: String,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error("{placeholder} has no value: {how}")]
    Missing { placeholder: String, how: String },
    #[error("$ENV.{name} is refused: it names one of this tool's secrets or credentials, which would be sent to the provider in the query; use another variable")]
    SecretEnv { name: String },
}

/// Environment variables that hold secrets or credentials (ours, AWS's): never put into a
/// query that goes to a provider.
pub fn is_secret_env(name: &str) -> bool {
    const OURS: [&str; 9] = [
        "DT_API_TOKEN",
        "DT_API_TOKEN_SECRET_ARN",
        "WEBHOOK_SECRET_ARN",
        "ALERTMANAGER_SECRET_ID",
        "UNLEASH_TOKEN_SECRET_ID",
        "PROMETHEUS_URL",
        "ALERTMANAGER_URL",
        "UNLEASH_URL",
        "ARTIFACT_CREDENTIALS",
    ];
    let upper = name.to_ascii_uppercase();
    OURS.contains(&upper.as_str())
        || upper.starts_with("AWS_")
        || [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "CREDENTIAL",
            "PASSWD",
            "APIKEY",
            "API_KEY",
        ]
        .iter()
        .any(|word| upper.contains(word))
}

/// How a missing value is given, for the message.
fn how_to_give(placeholder: &str, origin: ContextOrigin) -> String {
    let flag = |flag: &str, pipeline: &str, lane: &str| match origin {
        ContextOrigin::Cli => flag.to_string(),
        ContextOrigin::Pipeline => pipeline.to_string(),
        ContextOrigin::Lane => lane.to_string(),
    };
    match placeholder {
        "$PROJECT" => flag(
            "give --project",
            "the pipeline gives its name; this should not happen",
            "a service's self-healing evaluation has no Keptn project: remove $PROJECT from the query",
        ),
        "$STAGE" => flag(
            "give --stage",
            "register the gate with a stage",
            "the lane's stage is its deployment group; this should not happen",
        ),
        "$SERVICE" => flag(
            "give --service",
            "give \"service\" in the gate's UserParameters",
            "the lane's service is its application; this should not happen",
        ),
        "$DEPLOYMENT" => flag(
            "give --deployment (--deployment '' for none, as Keptn events carry it)",
            "the pipeline has no deployment name (Keptn's primary/canary): remove $DEPLOYMENT from the query",
            "a self-healing evaluation has no deployment name: remove $DEPLOYMENT from the query",
        ),
        "$CONTEXT" => flag(
            "give --context",
            "the pipeline gives its execution id; this should not happen",
            "a self-healing evaluation has no Keptn context: remove $CONTEXT from the query",
        ),
        label if label.starts_with("$LABEL.") => {
            let key = &label["$LABEL.".len()..];
            flag(
                &format!("give --label {key}=<value>"),
                "the pipeline's labels are executionId and pipeline",
                "a self-healing evaluation has no labels",
            )
        }
        env if env.starts_with("$ENV.") => {
            let name = &env["$ENV.".len()..];
            format!("set the environment variable {name} where this runs")
        }
        _ => "give it a value".into(),
    }
}

/// A token's name after `$LABEL.` or `$ENV.`: as long as it is made of these characters.
fn name_at(text: &str, allowed: impl Fn(char) -> bool) -> &str {
    let end = text.find(|c: char| !allowed(c)).unwrap_or(text.len());
    &text[..end]
}

/// Fill `query`'s placeholders (see the module's comment); the error names the first
/// placeholder without a value and how to give it. No quote is added or removed around a
/// value, except a filter value's own quotes, which the peers strip.
pub fn fill(
    query: &str,
    context: &SliContext,
    filter: &BTreeMap<String, String>,
    window_ms: i64,
    options: FillOptions,
) -> Result<Filled, PlaceholderError> {
    let mut notes = Vec::new();
    let deployment = match (&context.deployment, options.deployment_fallback) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(fallback)) if query.contains("$DEPLOYMENT") => {
            notes.push(format!(
                "$DEPLOYMENT: no deployment was given; prometheus-service's fallback \"{fallback}\" was used"
            ));
            Some(fallback.to_string())
        }
        (None, _) => None,
    };
    // Names with a value; the longest name that matches at a `$` wins.
    let mut given: Vec<(String, String)> = vec![(
        "$DURATION_SECONDS".into(),
        format!("{}s", (window_ms.max(1) + 999) / 1000),
    )];
    let mut unset: Vec<&str> = Vec::new();
    for (name, value) in [
        ("$PROJECT", &context.project),
        ("$STAGE", &context.stage),
        ("$SERVICE", &context.service),
        ("$DEPLOYMENT", &deployment),
        ("$CONTEXT", &context.context),
    ] {
        match value {
            Some(v) => given.push((name.into(), v.clone())),
            None => unset.push(name),
        }
    }
    for (key, value) in &context.labels {
        given.push((format!("$LABEL.{key}"), value.clone()));
    }
    for (key, value) in filter {
        let bare: String = value.chars().filter(|c| !matches!(c, '\'' | '"')).collect();
        given.push((format!("${key}"), bare.clone()));
        given.push((format!("${}", key.to_uppercase()), bare));
    }
    given.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));

    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some((name, value)) = given
            .iter()
            .find(|(name, _)| tail.starts_with(name.as_str()))
        {
            out.push_str(value);
            rest = &tail[name.len()..];
            continue;
        }
        if let Some(name) = tail.strip_prefix("$ENV.") {
            let name = name_at(name, |c| c.is_ascii_alphanumeric() || c == '_');
            if !name.is_empty() {
                if is_secret_env(name) {
                    return Err(PlaceholderError::SecretEnv { name: name.into() });
                }
                let value = context.env.and_then(|read| read(name));
                let Some(value) = value else {
                    let placeholder = format!("$ENV.{name}");
                    let how = if context.env.is_none() {
                        "this evaluation does not read the environment: remove $ENV from the query"
                            .into()
                    } else {
                        how_to_give(&placeholder, context.origin)
                    };
                    return Err(PlaceholderError::Missing { placeholder, how });
                };
                out.push_str(&value);
                rest = &tail["$ENV.".len() + name.len()..];
                continue;
            }
        }
        if let Some(key) = tail.strip_prefix("$LABEL.") {
            let key = name_at(key, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
            });
            let key = key.trim_end_matches('.');
            if !key.is_empty() {
                let placeholder = format!("$LABEL.{key}");
                return Err(PlaceholderError::Missing {
                    how: how_to_give(&placeholder, context.origin),
                    placeholder,
                });
            }
        }
        // A known placeholder without a value, unless a longer name (`$STAGE_NAME`, not one
        // of ours) starts there: then the text stays, as the peers leave it.
        if let Some(name) = unset.iter().find(|name| tail.starts_with(**name)) {
            let next = tail[name.len()..].chars().next();
            if !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(PlaceholderError::Missing {
                    placeholder: name.to_string(),
                    how: how_to_give(name, context.origin),
                });
            }
        }
        out.push('$');
        rest = &tail[1..];
    }
    out.push_str(rest);
    Ok(Filled { query: out, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> SliContext {
        SliContext {
            project: Some("sockshop".into()),
            stage: Some("staging".into()),
            service: Some("carts".into()),
            deployment: Some("canary".into()),
            context: Some("ctx-1".into()),
            labels: [("version".to_string(), "4".to_string())].into(),
            env: None,
            origin: ContextOrigin::Cli,
        }
    }

    fn filled(query: &str, context: &SliContext) -> Result<String, PlaceholderError> {
        fill(
            query,
            context,
            &BTreeMap::new(),
            300_000,
            FillOptions::default(),
        )
        .map(|f| f.query)
    }

    #[test]
    fn placeholders_are_filled_longest_first() {
        let filter = [("SERVICE_NAME".to_string(), "carts-db".to_string())].into();
        let q = fill(
            "rate(x{job=\"$SERVICE-$STAGE\",p=\"$PROJECT\",d=\"$DEPLOYMENT\",v=\"$LABEL.version\",n=\"$SERVICE_NAME\",c=\"$CONTEXT\"}[$DURATION_SECONDS])",
            &full(),
            &filter,
            300_000,
            FillOptions::default(),
        )
        .unwrap();
        assert_eq!(
            q.query,
            "rate(x{job=\"carts-staging\",p=\"sockshop\",d=\"canary\",v=\"4\",n=\"carts-db\",c=\"ctx-1\"}[300s])"
        );
        assert!(q.notes.is_empty());
    }

    #[test]
    fn a_known_placeholder_without_a_value_is_an_error_that_says_how_to_give_it() {
        let mut context = full();
        context.stage = None;
        let e = filled(
            "PV2;problemSelector=status(\"open\")&entitySelector=type(SERVICE),tag(\"DeploymentGroup:$STAGE\")",
            &context,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "$STAGE has no value: give --stage");
        context.origin = ContextOrigin::Pipeline;
        context.deployment = None;
        let e = filled("tag(keptn_deployment:$DEPLOYMENT)", &context).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("$DEPLOYMENT has no value: the pipeline has no deployment name"),
            "{e}"
        );
        let e = filled("status($LABEL.problem_status)", &full()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$LABEL.problem_status has no value: give --label problem_status=<value>"
        );
    }

    #[test]
    fn a_value_given_empty_is_a_value_and_other_dollar_text_stays() {
        let mut context = full();
        context.deployment = Some(String::new());
        assert_eq!(
            filled("tag(keptn_deployment:$DEPLOYMENT)", &context).unwrap(),
            "tag(keptn_deployment:)"
        );
        let peer = "calc:service.$rt_csm:filter(requestAttribute(~\"$svc_id~\")) $STAGE_NAME $5";
        let mut no_stage = full();
        no_stage.stage = None;
        assert_eq!(filled(peer, &no_stage).unwrap(), peer);
    }

    #[test]
    fn filter_placeholders_in_upper_and_lower_case_lose_their_quotes() {
        // prometheus-sli-service's TestGetCustomErrorRateQueryWithFilter.
        let filter = [("handler".to_string(), "'ItemsController'".to_string())].into();
        let q = fill(
            "sum(rate(my_custom_metric{job='$SERVICE-$PROJECT-$STAGE',handler=~'$HANDLER',status!~'2..'}[$DURATION_SECONDS]))/sum(rate(my_custom_metric{job='$SERVICE-$PROJECT-$STAGE',handler=~'$handler'}[$DURATION_SECONDS]))",
            &SliContext {
                project: Some("sockshop".into()),
                stage: Some("dev".into()),
                service: Some("carts".into()),
                ..SliContext::default()
            },
            &filter,
            1_000,
            FillOptions::default(),
        )
        .unwrap();
        assert_eq!(
            q.query,
            "sum(rate(my_custom_metric{job='carts-sockshop-dev',handler=~'ItemsController',status!~'2..'}[1s]))/sum(rate(my_custom_metric{job='carts-sockshop-dev',handler=~'ItemsController'}[1s]))"
        );
    }

    #[test]
    fn the_duration_rounds_up_to_whole_seconds() {
        for (ms, text) in [
            (75_905, "76s"),
            (1_000, "1s"),
            (1_001, "2s"),
            (300_000, "300s"),
        ] {
            assert_eq!(
                fill(
                    "$DURATION_SECONDS",
                    &full(),
                    &BTreeMap::new(),
                    ms,
                    FillOptions::default()
                )
                .unwrap()
                .query,
                text
            );
        }
    }

    #[test]
    fn env_placeholders_read_the_environment_but_never_a_secret() {
        let mut context = full();
        context.env = Some(|name| (name == "MY_ENV_TAG").then(|| "some_tag".to_string()));
        assert_eq!(
            filled("tag(\"env_tag:$ENV.MY_ENV_TAG\")", &context).unwrap(),
            "tag(\"env_tag:some_tag\")"
        );
        let e = filled("tag(\"t:$ENV.UNSET_ONE\")", &context).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$ENV.UNSET_ONE has no value: set the environment variable UNSET_ONE where this runs"
        );
        for secret in ["DT_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "MY_PASSWORD"] {
            let e = filled(&format!("x:$ENV.{secret}"), &context).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("$ENV.{secret} is refused")),
                "{e}"
            );
        }
        let e = filled("$ENV.MY_ENV_TAG", &full()).unwrap_err();
        assert!(
            e.to_string().contains("does not read the environment"),
            "{e}"
        );
    }

    #[test]
    fn prometheus_fills_a_missing_deployment_with_primary_and_says_so() {
        let mut context = full();
        context.deployment = None;
        let f = fill(
            "up{job=\"$SERVICE-$PROJECT-$STAGE-$DEPLOYMENT\"}",
            &context,
            &BTreeMap::new(),
            60_000,
            FillOptions {
                deployment_fallback: Some("primary"),
            },
        )
        .unwrap();
        assert_eq!(f.query, "up{job=\"carts-sockshop-staging-primary\"}");
        assert_eq!(
            f.notes,
            ["$DEPLOYMENT: no deployment was given; prometheus-service's fallback \"primary\" was used"]
        );
    }
}
