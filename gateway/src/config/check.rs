//! Turning the raw file into a checked [`Config`]: every error is collected with its path.

use super::backend::{check_backend, valid_name, Backend, Model};
use super::raw::{RawConfig, RawRoute, RawTenant};
use super::server::{check_server, Server};
use super::{ConfigErrors, Errors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tollgate_policies::{
    ClassAction, DataClass, DetectorConfig, Strategy, TenantProfile, Use, ZoneCeilings,
};

/// A configuration whose every reference resolves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listeners and limits.
    pub server: Server,
    /// Backends, in name order.
    pub backends: Vec<Backend>,
    /// Routes, in name order.
    pub routes: Vec<Route>,
    /// Tenants, in name order.
    pub tenants: Vec<Tenant>,
    /// The licence profile of requests when no tenants are configured.
    pub anonymous: TenantProfile,
    /// Highest data class per trust zone.
    pub zones: ZoneCeilings,
    /// Sensitivity detector settings.
    pub detect: DetectorConfig,
    /// Things that work but deserve attention (missing key variables, ...).
    pub warnings: Vec<String>,
    /// The folder relative paths in the file are resolved against.
    pub base_dir: PathBuf,
    backend_index: HashMap<String, usize>,
    route_index: HashMap<String, usize>,
    /// `[ledger]`, `[prices]`, `[budgets]` and `[metrics]`, checked, ledger path resolved.
    pub metering: tollgate_metering::MeteringConfig,
}

/// `[server]`, checked.
/// One candidate of a route: indexes into [`Config::backends`] and that backend's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the backend.
    pub backend: usize,
    /// Index of the model within the backend.
    pub model: usize,
}

/// A route, checked.
#[derive(Debug, Clone)]
pub struct Route {
    /// The name clients send as `model`.
    pub name: String,
    /// Candidates in order of preference.
    pub candidates: Vec<Candidate>,
    /// How passing candidates are ordered.
    pub strategy: Strategy,
    /// Per-class action for external candidates.
    pub on_class: std::collections::BTreeMap<DataClass, ClassAction>,
    /// Client model names that also mean this route.
    pub aliases: Vec<glob::Pattern>,
    /// Whether a vendor's safety block fails over to the next candidate.
    pub fail_over_on_block: bool,
}

/// A tenant, checked.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Its name.
    pub name: String,
    /// SHA-256 digests of its keys.
    pub key_digests: Vec<[u8; 32]>,
    /// Variable holding one more key.
    pub api_key_env: Option<String>,
    /// Its use, size, region and training, for licence rules; and its default data class.
    pub profile: TenantProfile,
    /// Routes it may use (indexes); `None` means all.
    pub routes: Option<Vec<usize>>,
}

impl Config {
    /// A backend's index by name.
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.backend_index.get(name).copied()
    }

    /// A route's index by name.
    pub fn route_index(&self, name: &str) -> Option<usize> {
        self.route_index.get(name).copied()
    }

    /// The route an alias maps `name` to: of the aliases that match, the longest pattern (the
    /// most specific) wins, and between equally long ones the route first in name order.
    pub fn route_by_alias(&self, name: &str) -> Option<usize> {
        self.routes
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.aliases.iter().map(move |a| (i, a)))
            .filter(|(_, a)| a.matches(name))
            .max_by_key(|(i, a)| (a.as_str().len(), std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }

    /// Resolves `BACKEND/MODEL` to a candidate.
    pub fn candidate(&self, key: &str) -> Option<Candidate> {
        let (backend, model) = key.split_once('/')?;
        let b = self.backend_index(backend)?;
        let m = self.backends[b]
            .models
            .iter()
            .position(|m| m.name == model)?;
        Some(Candidate {
            backend: b,
            model: m,
        })
    }

    /// The model a candidate points at.
    pub fn model(&self, c: Candidate) -> &Model {
        &self.backends[c.backend].models[c.model]
    }

    /// Whether every API listener is on a loopback address.
    pub fn loopback_only(&self) -> bool {
        self.server.listen.iter().all(|a| a.ip().is_loopback())
    }
}

pub(super) fn check(raw: RawConfig, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut errors = Errors::default();
    let mut warnings = Vec::new();
    let server = check_server(&raw, &mut errors);
    let backends: Vec<Backend> = raw
        .backends
        .iter()
        .map(|(name, b)| check_backend(name, b, base_dir, &mut errors, &mut warnings))
        .collect();
    let backend_index: HashMap<String, usize> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.name.clone(), i))
        .collect();
    let mut config = Config {
        server,
        backends,
        routes: Vec::new(),
        tenants: Vec::new(),
        anonymous: TenantProfile {
            default_class: DataClass::Public,
            ..TenantProfile::new(raw.server.anonymous_use)
        },
        zones: raw.zones,
        detect: raw.detect.clone(),
        warnings,
        base_dir: base_dir.to_path_buf(),
        backend_index,
        route_index: HashMap::new(),
        metering: super::metering::check(&raw, base_dir, &mut errors.0),
    };
    config.routes = raw
        .routes
        .iter()
        .map(|(name, r)| check_route(name, r, &config, &mut errors))
        .collect();
    check_aliases(&config.routes, &mut errors);
    config.route_index = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), i))
        .collect();
    config.tenants = raw
        .tenants
        .iter()
        .map(|(name, t)| check_tenant(name, t, &config, &mut errors))
        .collect();
    if config.tenants.is_empty() && !config.loopback_only() {
        errors.add(
            "server.listen",
            "no tenants are configured, so requests are not authenticated: \
             listen on loopback addresses only, or add [tenants]",
        );
    }
    if config.tenants.is_empty()
        && config
            .server
            .admin_listen
            .is_some_and(|a| !a.ip().is_loopback())
    {
        // `/metrics` names routes, models and spend: with no keys anywhere, it stays as
        // private as the API itself.
        errors.add(
            "server.admin_listen",
            "no tenants are configured, so nothing on this machine is authenticated: \
             put the admin listener on a loopback address, or add [tenants]",
        );
    }
    if errors.0.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors.0))
    }
}

/// A named admin token variable that is unset or empty is an error, not a warning: the
/// admin listener would then refuse every request, or worse, be thought protected. Checked
/// by what serves (and by `check-config`), not by the commands that only read the ledger.
pub(crate) fn check_admin_token(
    server: &Server,
    env: &dyn super::env::EnvSource,
    errors: &mut Errors,
) {
    let Some(var) = server.admin_token_env.as_deref().filter(|v| !v.is_empty()) else {
        return;
    };
    if env.var(var).is_none_or(|t| t.trim().is_empty()) {
        errors.add(
            "server.admin_token_env",
            format!("environment variable {var} is not set or empty: it must hold the admin token"),
        );
    }
}

fn check_route(name: &str, r: &RawRoute, config: &Config, errors: &mut Errors) -> Route {
    let path = format!("routes.{name}");
    if !valid_name(name) {
        errors.add(
            &path,
            "route names may use letters, digits, '-', '_' and '.' only",
        );
    }
    if r.candidates.is_empty() {
        errors.add(
            format!("{path}.candidates"),
            "a route needs at least one candidate",
        );
    }
    let mut candidates = Vec::new();
    for (i, c) in r.candidates.iter().enumerate() {
        match config.candidate(c) {
            Some(cand) if candidates.contains(&cand) => errors.add(
                format!("{path}.candidates[{i}]"),
                format!("'{c}' is listed twice"),
            ),
            Some(cand) => candidates.push(cand),
            None => errors.add(
                format!("{path}.candidates[{i}]"),
                format!("'{c}' is not a BACKEND/MODEL defined under [backends]"),
            ),
        }
    }
    let mut aliases = Vec::new();
    for (i, a) in r.aliases.iter().enumerate() {
        let at = format!("{path}.aliases[{i}]");
        if a.contains('/') {
            errors.add(
                at,
                "an alias cannot contain '/': that is how BACKEND/MODEL is written",
            );
            continue;
        }
        match glob::Pattern::new(a) {
            Ok(p) => aliases.push(p),
            Err(e) => errors.add(at, format!("'{a}' is not a valid glob: {e}")),
        }
    }
    Route {
        name: name.to_string(),
        candidates,
        strategy: r.strategy,
        on_class: r.on_class.clone(),
        aliases,
        fail_over_on_block: r.fail_over_on_block,
    }
}

/// An alias pattern written on two routes, or one that is a route's own name, is a mistake:
/// which route it means would depend on a tie-break the author did not choose.
fn check_aliases(routes: &[Route], errors: &mut Errors) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for r in routes {
        for a in &r.aliases {
            if routes.iter().any(|other| other.name == a.as_str()) {
                errors.add(
                    format!("routes.{}.aliases", r.name),
                    format!("'{a}' is a route's own name; a name always means its route"),
                );
            } else if let Some(first) = seen.insert(a.as_str(), &r.name) {
                errors.add(
                    format!("routes.{}.aliases", r.name),
                    format!("'{a}' is also an alias of route '{first}'"),
                );
            }
        }
    }
}

fn check_tenant(name: &str, t: &RawTenant, config: &Config, errors: &mut Errors) -> Tenant {
    let path = format!("tenants.{name}");
    // Tenant names are metric labels and ledger values: `none` already means "no tenant"
    // there, and other characters would make labels and CSV exports ambiguous.
    if !valid_name(name) {
        errors.add(
            &path,
            "tenant names may use letters, digits, '-', '_' and '.' only",
        );
    } else if name.eq_ignore_ascii_case(tollgate_metering::metrics::NONE) {
        errors.add(
            &path,
            "'none' is reserved: it labels requests without a tenant in metrics and the ledger",
        );
    }
    let mut key_digests = Vec::new();
    for (i, h) in t.api_key_sha256.iter().enumerate() {
        let mut digest = [0u8; 32];
        match hex::decode_to_slice(h.trim(), &mut digest) {
            Ok(()) => key_digests.push(digest),
            Err(_) => errors.add(
                format!("{path}.api_key_sha256[{i}]"),
                "must be 64 hex digits (the SHA-256 of the key; `tollgate hash-key` prints it)",
            ),
        }
    }
    if t.api_key_sha256.is_empty() && t.api_key_env.is_none() {
        errors.add(&path, "a tenant needs api_key_sha256 or api_key_env");
    }
    let routes = if t.routes.is_empty() {
        None
    } else {
        let mut idx = Vec::new();
        for (i, r) in t.routes.iter().enumerate() {
            match config.route_index(r) {
                Some(ri) => idx.push(ri),
                None => errors.add(
                    format!("{path}.routes[{i}]"),
                    format!("no route named '{r}'"),
                ),
            }
        }
        Some(idx)
    };
    let use_ = t.use_.unwrap_or_else(|| {
        errors.add(
            format!("{path}.use"),
            "required: what the tenant uses models for (commercial, internal, research, \
             evaluation or personal); licence rules depend on it",
        );
        Use::Commercial
    });
    let profile = TenantProfile {
        use_,
        monthly_active_users: t.monthly_active_users,
        region: t.region.clone(),
        trains_models: t.trains_models,
        default_class: t.default_class.unwrap_or(DataClass::Public),
    };
    Tenant {
        name: name.to_string(),
        key_digests,
        api_key_env: t.api_key_env.clone(),
        profile,
        routes,
    }
}

#[cfg(test)]
mod tests {
    use super::super::env::MapEnv;
    use super::*;

    fn server(admin_token_env: Option<&str>) -> Server {
        let toml = match admin_token_env {
            Some(v) => format!("[server]\nadmin_token_env = \"{v}\"\n"),
            None => String::new(),
        };
        let raw: RawConfig = toml::from_str(&toml).unwrap_or_default();
        check_server(&raw, &mut Errors::default())
    }

    fn token_errors(admin_token_env: Option<&str>, env: &MapEnv) -> Vec<String> {
        let mut errors = Errors::default();
        check_admin_token(&server(admin_token_env), env, &mut errors);
        errors.0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_named_admin_token_must_be_set_and_not_empty() {
        assert!(token_errors(None, &MapEnv::default()).is_empty());
        let set = MapEnv::of([("ADMIN_TOKEN", "s3cret")]);
        assert!(token_errors(Some("ADMIN_TOKEN"), &set).is_empty());
        for env in [MapEnv::default(), MapEnv::of([("ADMIN_TOKEN", "  ")])] {
            let errors = token_errors(Some("ADMIN_TOKEN"), &env);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].starts_with("server.admin_token_env: environment variable ADMIN_TOKEN"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn an_admin_token_variable_needs_a_name() {
        let raw: RawConfig = toml::from_str("[server]\nadmin_token_env = \" \"\n").unwrap();
        let mut errors = Errors::default();
        check_server(&raw, &mut errors);
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path, "server.admin_token_env");
    }
}
