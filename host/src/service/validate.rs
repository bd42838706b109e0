//! Checking a job submission field by field: every problem is reported with its JSON
//! path, all at once, before anything is stored. The repository token is taken out of
//! the request here, so nothing after this point can store or echo it.

use super::error::FieldError;
use crate::jobs::JobSpec;
use crate::plan::PlanFormat;
use crate::repo::{RepoPolicy, RepoSpec};
use serde_json::{Map, Value};

/// Fields a submission may carry.
const FIELDS: &[&str] = &["analysisId", "repoUrl", "branch", "commit", "token", "targetPaths", "plan", "planFormat", "executionId", "dagNodes", "graph"];
/// Longest identifiers and names accepted (they end up in rows, logs and keys).
const MAX_ID_LEN: usize = 200;
const MAX_URL_LEN: usize = 2048;
const MAX_TOKEN_LEN: usize = 8192;
/// More target paths than any real repository layout needs.
const MAX_TARGET_PATHS: usize = 1000;

/// A valid submission: the spec to store and the token to hold in memory only.
pub struct Submission {
    pub spec: JobSpec,
    pub token: Option<String>,
}

/// An optional string field: `None` when absent or null; a problem when empty, longer
/// than `max` or not a string.
/// The path of the first string (or object key) under `v` holding a NUL character.
fn nul_at(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then(|| path.to_string()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| nul_at(x, &format!("{path}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| if k.contains('\0') { Some(path.to_string()) } else { nul_at(x, &format!("{path}.{k}")) }),
        _ => None,
    }
}

pub fn text<'a>(body: &'a Map<String, Value>, field: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(FieldError::new(field, "must not be empty"));
            None
        }
        Some(Value::String(s)) if s.len() > max => {
            errors.push(FieldError::new(field, format!("is longer than {max} characters")));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            errors.push(FieldError::new(field, format!("must be a string, not {}", kind(other))));
            None
        }
    }
}

/// What a JSON value is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Check a submission body against the repository policy.
pub fn submission(body: &Value, policy: &RepoPolicy) -> Result<Submission, Vec<FieldError>> {
    check(body, policy, false)
}

/// Check the fields that come with an uploaded plan file (form fields or query
/// parameters): the same fields, except that the file is the plan.
pub fn upload_fields(fields: &Value, policy: &RepoPolicy) -> Result<Submission, Vec<FieldError>> {
    check(fields, policy, true)
}

fn check(body: &Value, policy: &RepoPolicy, uploaded: bool) -> Result<Submission, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new("", format!("the body must be a JSON object, not {}", kind(body)))]);
    };
    let mut errors = Vec::new();
    // Postgres stores no NUL character in text or JSONB: refused here, by field, rather
    // than failing the insert.
    for (k, v) in obj {
        if let Some(at) = nul_at(v, k) {
            errors.push(FieldError::new(at, "must not contain a NUL character (U+0000)"));
        }
    }
    for k in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.push(FieldError::new(k.as_str(), format!("unknown field (expected one of: {})", FIELDS.join(", "))));
    }
    let analysis_id = text(obj, "analysisId", MAX_ID_LEN, &mut errors).map(str::to_string);
    let token = text(obj, "token", MAX_TOKEN_LEN, &mut errors).map(str::to_string);
    let repo_url = match text(obj, "repoUrl", MAX_URL_LEN, &mut errors) {
        None if !obj.contains_key("repoUrl") || obj["repoUrl"].is_null() => {
            errors.push(FieldError::new("repoUrl", "is required"));
            None
        }
        None => None,
        // An https user (and any password) is a credential; an ssh user (`ssh://git@host`)
        // is the account to log in as, unless it carries a password.
        Some(u) if u.split_once("://").is_some_and(|(scheme, rest)| {
            let userinfo = rest.split('/').next().unwrap_or("").rsplit_once('@').map(|(user, _)| user);
            userinfo.is_some_and(|user| scheme != "ssh" || user.contains(':'))
        }) => {
            errors.push(FieldError::new("repoUrl", "must not carry credentials; pass the access token in `token`"));
            None
        }
        Some(u) => match crate::repo::source::check(&RepoSpec { url: u.to_string(), ..Default::default() }, policy) {
            Ok(()) => Some(u.to_string()),
            Err(e) => {
                errors.push(FieldError::new("repoUrl", e.to_string()));
                None
            }
        },
    };
    let branch = text(obj, "branch", 255, &mut errors).map(str::to_string);
    if let Some(b) = &branch
        && (b.starts_with('-') || b.contains("..") || b.chars().any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))) {
            errors.push(FieldError::new("branch", "is not a valid git branch name"));
        }
    let commit = text(obj, "commit", 64, &mut errors).map(str::to_string);
    if let Some(c) = &commit
        && (!(7..=40).contains(&c.len()) || !c.chars().all(|ch| ch.is_ascii_hexdigit())) {
            errors.push(FieldError::new("commit", "must be a commit hash of 7 to 40 hexadecimal digits"));
        }
    let mut target_paths = Vec::new();
    match obj.get("targetPaths") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() > MAX_TARGET_PATHS => errors.push(FieldError::new("targetPaths", format!("has more than {MAX_TARGET_PATHS} entries"))),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(p) if p.starts_with('/') || p.split(['/', '\\']).any(|c| c == "..") || p.trim().is_empty() => {
                        errors.push(FieldError::new(format!("targetPaths[{i}]"), "must be a non-empty path relative to the repository root, without `..`"))
                    }
                    Some(p) => target_paths.push(p.to_string()),
                    None => errors.push(FieldError::new(format!("targetPaths[{i}]"), format!("must be a string, not {}", kind(item)))),
                }
            }
        }
        Some(other) => errors.push(FieldError::new("targetPaths", format!("must be an array of paths, not {}", kind(other)))),
    }
    let plan = match obj.get("plan") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(FieldError::new("plan", "must not be empty"));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        // A JSON plan (REST, query profile) may be sent as JSON rather than as a string.
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v.to_string()),
        Some(other) => {
            errors.push(FieldError::new("plan", format!("must be plan text or a JSON plan, not {}", kind(other))));
            None
        }
    };
    let plan_format = match obj.get("planFormat") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<PlanFormat>(v.clone()) {
            Ok(f) => Some(f),
            Err(_) => {
                errors.push(FieldError::new("planFormat", "must be one of: explain, formatted, event-log, rest, query-profile, dag-nodes"));
                None
            }
        },
    };
    let execution_id = match obj.get("executionId") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().filter(|n| *n >= 0) {
            Some(n) => Some(n),
            None => {
                errors.push(FieldError::new("executionId", "must be a whole number of zero or more"));
                None
            }
        },
    };
    let dag_nodes = match obj.get("dagNodes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.is_empty() => {
            errors.push(FieldError::new("dagNodes", "must not be empty"));
            None
        }
        Some(v @ Value::Array(_)) => Some(v.clone()),
        Some(v @ Value::Object(o)) if o.get("nodes").is_some_and(Value::is_array) => Some(v.clone()),
        Some(other) => {
            errors.push(FieldError::new("dagNodes", format!("must be the list of DAG nodes, not {}", kind(other))));
            None
        }
    };
    let given = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    match (given("plan"), given("dagNodes"), uploaded) {
        (p, d, true) if p || d => errors.push(FieldError::new(if p { "plan" } else { "dagNodes" }, "the uploaded file is the plan; leave this field out")),
        (true, true, _) => errors.push(FieldError::new("dagNodes", "give either `plan` or `dagNodes`, not both")),
        (false, false, false) => errors.push(FieldError::new("plan", "is required (or `dagNodes`, or upload the plan as a file)")),
        _ => {}
    }
    if dag_nodes.is_some() && plan_format.is_some_and(|f| f != PlanFormat::DagNodes) {
        errors.push(FieldError::new("planFormat", "must be dag-nodes (or absent) with `dagNodes`"));
    }
    let graph = text(obj, "graph", MAX_ID_LEN, &mut errors).map(str::to_string);
    if !errors.is_empty() {
        return Err(errors);
    }
    let spec = JobSpec {
        analysis_id,
        repo_url: repo_url.expect("checked above"),
        branch,
        commit,
        target_paths,
        plan,
        plan_format,
        execution_id,
        dag_nodes,
        plan_upload: None,
        graph,
    };
    Ok(Submission { spec, token })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> RepoPolicy {
        RepoPolicy { allow_local: false, allowed_hosts: vec![] }
    }

    fn paths(body: Value) -> Vec<String> {
        submission(&body, &policy()).err().unwrap().into_iter().map(|f| f.path).collect()
    }

    #[test]
    fn every_invalid_field_is_named_by_its_path() {
        let p = paths(json!({"repoUrl": "/etc", "commit": "xyz", "targetPaths": ["ok", "../up", 3], "plan": 5, "planFormat": "yaml", "executionId": -1, "extra": 1}));
        assert_eq!(p, vec!["extra", "repoUrl", "commit", "targetPaths[1]", "targetPaths[2]", "plan", "planFormat", "executionId"]);
    }

    #[test]
    fn plan_and_dag_nodes_are_exclusive_and_one_is_required() {
        assert_eq!(paths(json!({"repoUrl": "https://github.com/a/b"})), vec!["plan"]);
        assert_eq!(paths(json!({"repoUrl": "https://github.com/a/b", "plan": "x", "dagNodes": [{}]})), vec!["dagNodes"]);
    }

    #[test]
    fn urls_with_credentials_and_internal_hosts_are_refused() {
        assert_eq!(paths(json!({"repoUrl": "https://me:ghp_x@github.com/a/b", "plan": "x"})), vec!["repoUrl"]);
        assert_eq!(paths(json!({"repoUrl": "https://10.0.0.5/a/b", "plan": "x"})), vec!["repoUrl"]);
        assert_eq!(paths(json!({"repoUrl": "https://github.com/a/b", "branch": "--upload-pack=x", "plan": "x"})), vec!["branch"]);
    }

    #[test]
    fn an_ssh_user_is_not_a_credential_but_a_password_is() {
        assert!(submission(&json!({"repoUrl": "ssh://git@github.com/org/repo.git", "plan": "x"}), &policy()).is_ok());
        assert!(submission(&json!({"repoUrl": "git@github.com:org/repo.git", "plan": "x"}), &policy()).is_ok());
        assert_eq!(paths(json!({"repoUrl": "ssh://git:hunter2@github.com/org/repo.git", "plan": "x"})), vec!["repoUrl"]);
    }

    #[test]
    fn a_nul_character_anywhere_is_refused_by_its_path() {
        let p = paths(json!({"repoUrl": "https://github.com/a/b", "analysisId": "a\u{0}b", "targetPaths": ["ok", "x\u{0}"], "dagNodes": [{"id": "1", "name": "Scan\u{0}"}]}));
        assert_eq!(p, vec!["analysisId", "dagNodes[0].name", "targetPaths[1]"]);
    }

    #[test]
    fn the_token_is_kept_out_of_the_spec() {
        let s = submission(&json!({"repoUrl": "https://github.com/a/b", "token": "ghp_secret", "plan": {"nodes": []}}), &policy()).ok().unwrap();
        assert_eq!(s.token.as_deref(), Some("ghp_secret"));
        assert!(!serde_json::to_string(&s.spec).unwrap().contains("ghp_secret"));
        assert_eq!(s.spec.plan.as_deref(), Some(r#"{"nodes":[]}"#));
    }
}
