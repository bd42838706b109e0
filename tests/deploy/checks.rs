//! Static checks of `deploy/`: schemas and linters, and cross-checks against the code
//! (settings the service reads, metrics it exports, files the ConfigMaps carry).

use super::*;
use std::collections::BTreeSet;

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn k8s_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(deploy().join("k8s")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    v.sort();
    v
}

#[test]
fn kubernetes_manifests_match_the_kubernetes_schemas_and_the_kustomization_renders() {
    let manifests: Vec<PathBuf> = k8s_files().into_iter().filter(|p| !p.ends_with("kustomization.yaml")).collect();
    let out = run_ok(Command::new(tool("kubernetes-validate")).arg("--strict").args(&manifests));
    assert!(!out.contains("ERROR") && !out.contains("WARN"), "{out}");
    // Rendering: every resource the kustomization lists exists and parses, every
    // manifest but the secret template is listed, and all of them land in one namespace.
    let kust = &yaml_docs(&deploy().join("k8s/kustomization.yaml"))[0];
    let listed: BTreeSet<String> = kust["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
    let present: BTreeSet<String> = manifests.iter().map(|p| p.file_name().unwrap().to_string_lossy().to_string()).filter(|n| n != "secret.example.yaml").collect();
    assert_eq!(listed, present, "kustomization.yaml resources");
    let mut kinds = BTreeSet::new();
    for f in &listed {
        for doc in yaml_docs(&deploy().join("k8s").join(f)) {
            let kind = doc["kind"].as_str().unwrap().to_string();
            if kind != "Namespace" {
                assert_eq!(doc["metadata"]["namespace"], "planmap", "{f}: {kind}");
            }
            kinds.insert(kind);
        }
    }
    for k in ["Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "CronJob"] {
        assert!(kinds.contains(k), "no {k} in deploy/k8s");
    }
}

#[test]
fn the_deployment_is_hardened_and_drains_gracefully() {
    let d = &yaml_docs(&deploy().join("k8s/deployment.yaml"))[0];
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 3);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &spec["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/api/agent/health");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/api/agent/ready");
    assert!(c["startupProbe"].is_object());
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    // The pod must outlive preStop + the service's drain + releasing jobs.
    let cm = &yaml_docs(&deploy().join("k8s/configmap.yaml"))[0];
    let grace: u64 = cm["data"]["SHUTDOWN_GRACE_SECONDS"].as_str().unwrap().parse().unwrap();
    let pre_stop: u64 = c["lifecycle"]["preStop"]["exec"]["command"][1].as_str().unwrap().parse().unwrap();
    let termination = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(termination >= pre_stop + grace + 15, "terminationGracePeriodSeconds {termination} < preStop {pre_stop} + grace {grace} + release");
    // Writable places are volumes (the root filesystem is read-only).
    let mounts: Vec<&str> = c["volumeMounts"].as_array().unwrap().iter().map(|m| m["mountPath"].as_str().unwrap()).collect();
    for dir in ["/var/cache/planmap", "/tmp", "/etc/planmap/graphs", "/etc/planmap/plugins"] {
        assert!(mounts.contains(&dir), "{dir} is not mounted");
    }
}

#[test]
fn prometheus_config_and_alert_rules_pass_promtool() {
    let m = deploy().join("monitoring");
    run_ok(Command::new(tool("promtool")).args(["check", "config"]).arg(m.join("prometheus.yml")));
    run_ok(Command::new(tool("promtool")).args(["check", "rules"]).arg(m.join("alerts.yml")));
}

#[test]
fn the_dockerfile_lints_clean_and_the_compose_file_matches_the_compose_spec() {
    run_ok(Command::new(tool("hadolint")).arg(deploy().join("Dockerfile")));
    run_ok(Command::new(tool("check-jsonschema")).args(["--builtin-schema", "vendor.compose-spec"]).arg(deploy().join("docker-compose.yml")));
}

/// Variables `${NAME…}` a compose file interpolates.
fn compose_variables(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let end = after.find(['}', ':', '-', '?']).unwrap_or(after.len());
        out.insert(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

/// Keys of `NAME=value` lines.
pub fn env_file(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim_start().starts_with('#') && l.contains('=')).map(|l| {
        let (k, v) = l.split_once('=').unwrap();
        (k.trim().to_string(), v.trim().to_string())
    }).collect()
}

#[test]
fn every_setting_the_deployment_sets_is_one_the_service_reads() {
    let reads: BTreeSet<&str> = planmap::service::config::SETTINGS.iter().map(|(k, _)| *k).collect();
    let mut set: Vec<(String, String)> = Vec::new();
    let compose = &yaml_docs(&deploy().join("docker-compose.yml"))[0];
    for k in compose["services"]["planmap"]["environment"].as_object().unwrap().keys() {
        set.push(("docker-compose.yml".into(), k.clone()));
    }
    for k in yaml_docs(&deploy().join("k8s/configmap.yaml"))[0]["data"].as_object().unwrap().keys() {
        set.push(("k8s/configmap.yaml".into(), k.clone()));
    }
    for k in yaml_docs(&deploy().join("k8s/secret.example.yaml"))[0]["stringData"].as_object().unwrap().keys() {
        set.push(("k8s/secret.example.yaml".into(), k.clone()));
    }
    for e in yaml_docs(&deploy().join("k8s/deployment.yaml"))[0]["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap() {
        set.push(("k8s/deployment.yaml".into(), e["name"].as_str().unwrap().to_string()));
    }
    let unknown: Vec<_> = set.iter().filter(|(_, k)| !reads.contains(k.as_str())).collect();
    assert!(unknown.is_empty(), "settings the service does not read: {unknown:?}");
    assert!(set.len() > 30);
    // Every variable the compose file interpolates is documented in .env.example.
    let documented: BTreeSet<String> = env_file(&deploy().join(".env.example")).into_iter().map(|(k, _)| k).collect();
    let used = compose_variables(&std::fs::read_to_string(deploy().join("docker-compose.yml")).unwrap());
    let missing: Vec<_> = used.difference(&documented).collect();
    assert!(missing.is_empty(), "compose variables missing from .env.example: {missing:?}");
}

/// Metric names the code registers (string literals in host/src/metrics.rs).
fn exported_metrics() -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join("host/src/metrics.rs")).unwrap();
    src.split('"').filter(|s| s.starts_with("planmap_") && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).map(str::to_string).collect()
}

/// `planmap_*` names used in a text, with histogram suffixes removed.
fn used_metrics(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("planmap_") {
        if i > 0 && text.as_bytes()[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let name: String = text[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).map(str::to_string).unwrap_or(name);
        out.insert(base);
    }
    out
}

#[test]
fn every_metric_the_dashboard_and_alerts_use_is_one_the_service_exports() {
    let exported = exported_metrics();
    assert!(exported.len() >= 15, "{exported:?}");
    let m = deploy().join("monitoring");
    let alerts = used_metrics(&std::fs::read_to_string(m.join("alerts.yml")).unwrap());
    let dashboard_json: Value = serde_json::from_str(&std::fs::read_to_string(m.join("grafana-dashboard.json")).unwrap()).unwrap();
    let exprs: String = dashboard_json["panels"].as_array().unwrap().iter().flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string())).collect::<Vec<_>>().join("\n");
    let dashboard = used_metrics(&exprs);
    // Hosts' own job name in `up{job="planmap"}` is not a metric.
    for (what, used) in [("alerts.yml", &alerts), ("grafana-dashboard.json", &dashboard)] {
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(unknown.is_empty(), "{what} uses metrics the service does not export: {unknown:?}");
    }
    // The dashboard shows what an operator needs: every exported metric but none hidden.
    let unshown: Vec<_> = exported.difference(&dashboard).collect();
    assert!(unshown.is_empty(), "exported but on no dashboard panel: {unshown:?}");
}

/// The `data` of the first ConfigMap named `name` in a file.
fn configmap_data(file: &str, name: &str) -> serde_json::Map<String, Value> {
    yaml_docs(&deploy().join("k8s").join(file)).into_iter().find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name).unwrap()["data"].as_object().unwrap().clone()
}

#[test]
fn configmaps_carry_the_repository_files_unchanged() {
    let graphs = configmap_data("graphs-configmap.yaml", "planmap-graphs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("graphs")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    assert_eq!(graphs.len(), files.len(), "one ConfigMap key per graph file");
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(graphs[&name].as_str(), Some(std::fs::read_to_string(&f).unwrap().as_str()), "{name} drifted from graphs/ (run deploy/k8s/render-graphs-configmap.py)");
    }
    let scripts = configmap_data("backup-cronjob.yaml", "planmap-backup-scripts");
    assert_eq!(scripts["pg-backup.sh"].as_str(), Some(std::fs::read_to_string(deploy().join("backup/pg-backup.sh")).unwrap().as_str()));
}
