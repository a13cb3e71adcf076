//! The config file (`--config vigil.toml`, or `VIGIL_CONFIG`) and secrets read from files
//! (`VIGIL_MASTER_KEY_FILE` and the like, as container platforms mount them). Both are turned
//! into environment variables before the command line is parsed, only where the environment does
//! not already say: so flags > environment > file > defaults holds for every setting, through the
//! one place that reads settings (clap).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A setting the file may hold: its key in the file, its environment variable, and whether it
/// is a secret (never printed).
pub struct Setting {
    /// The key in the file.
    pub key: &'static str,
    /// The environment variable (and its flag's variable).
    pub env: &'static str,
    /// Never printed; may come from `<env>_FILE`.
    pub secret: bool,
    /// The default, as `vigil config check` shows it.
    pub default: &'static str,
}

const fn setting(key: &'static str, env: &'static str, default: &'static str) -> Setting {
    Setting {
        key,
        env,
        secret: false,
        default,
    }
}

const fn secret(key: &'static str, env: &'static str) -> Setting {
    Setting {
        key,
        env,
        secret: true,
        default: "(none)",
    }
}

/// Every setting that has a flag or an environment variable.
pub const SETTINGS: &[Setting] = &[
    setting("listen", "VIGIL_LISTEN", "127.0.0.1:8080"),
    setting("data_dir", "VIGIL_DATA_DIR", "./vigil-data"),
    // A secret: the URL may hold the database password.
    secret("database_url", "VIGIL_DATABASE_URL"),
    setting(
        "retention_days",
        "VIGIL_RETENTION_DAYS",
        "(keep everything)",
    ),
    setting(
        "export_object_events",
        "VIGIL_EXPORT_OBJECT_EVENTS",
        "50000",
    ),
    setting("report_timeout_secs", "VIGIL_REPORT_TIMEOUT_SECS", "540"),
    setting(
        "allow_private_endpoints",
        "VIGIL_ALLOW_PRIVATE_ENDPOINTS",
        "false",
    ),
    setting(
        "checkpoint_interval_secs",
        "VIGIL_CHECKPOINT_INTERVAL_SECS",
        "60",
    ),
    setting("tls_cert", "VIGIL_TLS_CERT", "(plain HTTP)"),
    setting("tls_key", "VIGIL_TLS_KEY", "(plain HTTP)"),
    secret("bootstrap_api_key", "VIGIL_BOOTSTRAP_API_KEY"),
    secret("master_key", "VIGIL_MASTER_KEY"),
    setting("oidc_issuer", "VIGIL_OIDC_ISSUER", "(single sign-on off)"),
    setting("oidc_client_id", "VIGIL_OIDC_CLIENT_ID", "(none)"),
    secret("oidc_client_secret", "VIGIL_OIDC_CLIENT_SECRET"),
    setting("oidc_redirect_url", "VIGIL_OIDC_REDIRECT_URL", "(none)"),
    setting("oidc_scopes", "VIGIL_OIDC_SCOPES", "email profile"),
    setting("oidc_roles_claim", "VIGIL_OIDC_ROLES_CLAIM", "groups"),
    setting("oidc_roles", "VIGIL_OIDC_ROLES", "(none)"),
    setting("oidc_session_hours", "VIGIL_OIDC_SESSION_HOURS", "8"),
    setting("url", "VIGIL_URL", "http://127.0.0.1:8080"),
    secret("api_key", "VIGIL_API_KEY"),
    setting("log", "RUST_LOG", "info,tantivy=warn"),
    setting("log_format", "VIGIL_LOG_FORMAT", "text"),
    setting("aws_endpoint_url", "AWS_ENDPOINT_URL", "(AWS)"),
    setting("aws_access_key_id", "AWS_ACCESS_KEY_ID", "(none)"),
    secret("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
    secret("aws_session_token", "AWS_SESSION_TOKEN"),
    setting(
        "azure_storage_use_emulator",
        "AZURE_STORAGE_USE_EMULATOR",
        "false",
    ),
    setting(
        "azurite_blob_storage_url",
        "AZURITE_BLOB_STORAGE_URL",
        "(none)",
    ),
];

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The environment.
    Environment,
    /// A `…_FILE` variable naming a file that holds it.
    SecretFile,
    /// The config file.
    ConfigFile,
}

impl Origin {
    fn words(self) -> &'static str {
        match self {
            Origin::Environment => "the environment",
            Origin::SecretFile => "a …_FILE variable",
            Origin::ConfigFile => "the config file",
        }
    }
}

/// What [`apply`] did: the config file read, and where each value it set came from.
#[derive(Debug, Default)]
pub struct Applied {
    /// The config file, when there is one.
    pub file: Option<PathBuf>,
    /// Settings set from a file (config or secret), by environment variable.
    pub origins: BTreeMap<&'static str, Origin>,
}

/// The config file named by `--config PATH` (or `--config=PATH`) in `args`, else by
/// `VIGIL_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("VIGIL_CONFIG").map(PathBuf::from)
}

/// Reads the config file and the `…_FILE` secrets into the environment, where it does not say
/// already. Call it first in `main`, before any thread starts: it changes the environment.
pub fn apply(args: &[OsString]) -> Result<Applied, String> {
    let mut applied = Applied::default();
    let mut values: Vec<(&'static str, String, Origin)> = Vec::new();
    for setting in SETTINGS {
        let file_variable = format!("{}_FILE", setting.env);
        let Some(path) = std::env::var_os(&file_variable) else {
            continue;
        };
        if std::env::var_os(setting.env).is_some() {
            return Err(format!(
                "{} and {file_variable} are both set; keep one",
                setting.env
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|error| {
            format!(
                "{file_variable}: cannot read {}: {error}",
                Path::new(&path).display()
            )
        })?;
        values.push((
            setting.env,
            text.trim_end_matches(['\n', '\r']).to_owned(),
            Origin::SecretFile,
        ));
    }
    if let Some(path) = config_path(args) {
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("the config file {}: {error}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|error| format!("the config file {}: {error}", path.display()))?;
        for (key, value) in table {
            let setting = SETTINGS.iter().find(|s| s.key == key).ok_or_else(|| {
                format!(
                    "the config file {}: `{key}` is not a setting; the settings are {}",
                    path.display(),
                    SETTINGS
                        .iter()
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let text = match value {
                toml::Value::String(text) => text,
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                other => {
                    return Err(format!(
                        "the config file {}: `{key}` must be a string, a number or true/false, not {}",
                        path.display(),
                        other.type_str()
                    ));
                }
            };
            let from_file = values.iter().any(|(env, _, _)| *env == setting.env);
            if std::env::var_os(setting.env).is_none() && !from_file {
                values.push((setting.env, text, Origin::ConfigFile));
            }
        }
        applied.file = Some(path);
    }
    for (env, value, origin) in values {
        // SAFETY: called at the start of `main`, before the runtime or any other thread exists,
        // so nothing reads the environment concurrently.
        unsafe { std::env::set_var(env, value) };
        applied.origins.insert(env, origin);
    }
    Ok(applied)
}

/// `vigil config check`: the effective settings, one a line, secrets masked, each with where it
/// comes from. A command-line flag, when given to `serve`, still wins over what this shows.
pub fn check(applied: &Applied) -> String {
    let mut out = String::new();
    match &applied.file {
        Some(path) => out.push_str(&format!("config file: {}\n", path.display())),
        None => out.push_str("config file: none (--config or VIGIL_CONFIG)\n"),
    }
    let width = SETTINGS.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for setting in SETTINGS {
        let (value, origin) = match std::env::var(setting.env) {
            Ok(value) => {
                let origin = applied
                    .origins
                    .get(setting.env)
                    .copied()
                    .unwrap_or(Origin::Environment);
                let shown = if setting.secret {
                    "***".to_owned()
                } else {
                    value
                };
                (shown, format!("from {} ({})", origin.words(), setting.env))
            }
            Err(_) => (
                setting.default.to_owned(),
                format!("default ({})", setting.env),
            ),
        };
        out.push_str(&format!("{:<width$}  {value}  {origin}\n", setting.key));
    }
    out
}
