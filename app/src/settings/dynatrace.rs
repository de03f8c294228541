//! Where a function's Dynatrace tenant is and where its token is kept (never the token
//! itself): the settings the handlers read at cold start and the Dynatrace adapter
//! (`unbreakable-adapters`' `dynatrace::connection`) connects with. Plain data here, below
//! both, so a handler's `Config` names no adapter.

use super::{ConfigError, Env, Setting};

pub const TENANT_URL: Setting = Setting::required(
    "DT_TENANT_URL",
    "the Dynatrace tenant, e.g. https://abc12345.live.dynatrace.com",
);
pub const API_VERSION: Setting =
    Setting::optional("DT_API_VERSION", "the Dynatrace API generation, v1 or v2");
pub const TOKEN_SECRET: Setting = Setting::required(
    "DT_API_TOKEN_SECRET_ARN",
    "the ARN of the Secrets Manager secret (or SSM SecureString parameter) holding the Dynatrace API token",
);
/// What every Dynatrace-using function reads.
pub const SETTINGS: [Setting; 3] = [TENANT_URL, API_VERSION, TOKEN_SECRET];

/// Which Dynatrace API generation to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    V1,
    #[default]
    V2,
}

impl std::str::FromStr for ApiVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(ApiVersion::V1),
            "v2" => Ok(ApiVersion::V2),
            other => Err(format!("unknown API version \"{other}\" (use v1 or v2)")),
        }
    }
}

/// Where the tenant is and where its token is kept (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynatraceSettings {
    pub tenant_url: String,
    pub api: ApiVersion,
    pub token_secret: String,
}

impl DynatraceSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(DynatraceSettings {
            tenant_url: env.url(&TENANT_URL)?,
            api: env.parsed(&API_VERSION)?,
            token_secret: env.required(&TOKEN_SECRET)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_api_version_names_the_variable() {
        let env = Env::new(|name: &str| match name {
            "DT_TENANT_URL" => Some("https://abc12345.live.dynatrace.com".to_string()),
            "DT_API_VERSION" => Some("v3".to_string()),
            "DT_API_TOKEN_SECRET_ARN" => Some("arn:aws:secretsmanager:token".to_string()),
            _ => None,
        });
        let e = DynatraceSettings::from_env(&env).unwrap_err();
        assert!(
            e.to_string()
                .contains("DT_API_VERSION unknown API version \"v3\""),
            "{e}"
        );
    }

    #[test]
    fn an_unset_api_version_is_v2() {
        let env = Env::new(|name: &str| match name {
            "DT_TENANT_URL" => Some("https://abc12345.live.dynatrace.com/".to_string()),
            "DT_API_TOKEN_SECRET_ARN" => Some("arn:aws:secretsmanager:token".to_string()),
            _ => None,
        });
        let settings = DynatraceSettings::from_env(&env).expect("the settings read");
        assert_eq!(settings.api, ApiVersion::V2);
        assert_eq!(settings.tenant_url, "https://abc12345.live.dynatrace.com");
    }
}
