//! Per-variant figures of A/B experiments, from what the mappings recorded (exposure:
//! experiment, variant, plugin, latency, outcomes; shadow answers) and the feedback
//! users gave on them: enough for a team to decide whether to switch.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One mapping as the report needs it.
#[derive(Debug, Clone)]
pub struct Row {
    pub status: String,
    pub confidence: f64,
    /// The mapping's metadata (`plugins`, `shadow`).
    pub metadata: Value,
    /// Where the mapping points (file, first line, last line), if anywhere.
    pub at: Option<(String, i64, i64)>,
    /// The latest feedback: `correct`, `wrong` or `corrected` with the right place.
    pub feedback: Option<Feedback>,
}

/// A user's verdict on a mapping.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub verdict: String,
    pub file: Option<String>,
    pub lines: Option<(i64, i64)>,
}

/// An accuracy with its 95 % Wilson interval.
#[derive(Debug, Clone, Serialize)]
pub struct Accuracy {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub n: u64,
}

/// Wilson score interval at 95 %: honest for small counts and extreme rates.
pub fn wilson(right: u64, n: u64) -> Option<Accuracy> {
    if n == 0 {
        return None;
    }
    let (z, nf) = (1.96_f64, n as f64);
    let p = right as f64 / nf;
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * ((p * (1.0 - p) / nf) + z * z / (4.0 * nf * nf)).sqrt() / denom;
    Some(Accuracy { value: p, low: (centre - half).max(0.0), high: (centre + half).min(1.0), n })
}

/// One variant's figures.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantReport {
    pub variant: String,
    pub plugins: Vec<String>,
    pub shadow: bool,
    /// Mappings this variant produced (or, for a shadow, answered alongside).
    pub exposures: u64,
    /// Mean time of the variant's step per plan node.
    pub latency_ms_mean: f64,
    /// Failed steps by kind (trap, timeout, memory, host, plugin-error).
    pub errors: BTreeMap<String, u64>,
    pub mean_confidence: f64,
    /// Live variants: mappings by status.
    pub statuses: BTreeMap<String, u64>,
    /// Shadow variants: how often the shadow's answer was the live answer.
    pub agreement: Option<f64>,
    /// Feedback on this variant's answers: correct and wrong.
    pub feedback_correct: u64,
    pub feedback_wrong: u64,
    pub accuracy: Option<Accuracy>,
    #[serde(skip)]
    steps: u64,
    #[serde(skip)]
    ms: f64,
    #[serde(skip)]
    agree: u64,
}

/// One experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentReport {
    pub experiment: String,
    pub variants: Vec<VariantReport>,
}

fn overlaps(at: &(String, i64, i64), file: &str, lines: Option<(i64, i64)>) -> bool {
    at.0 == file && lines.is_none_or(|(a, b)| at.1 <= b && a <= at.2)
}

/// Whether an answer at `at` is right, by the feedback: `Some(true/false)` when it tells.
fn judged(answer: Option<&(String, i64, i64)>, live: Option<&(String, i64, i64)>, fb: &Feedback) -> Option<bool> {
    match fb.verdict.as_str() {
        "correct" => Some(answer.is_some() && answer == live),
        "corrected" => fb.file.as_ref().map(|f| answer.is_some_and(|a| overlaps(a, f, fb.lines))),
        // Wrong without the right place: only the live answer is known to be wrong.
        "wrong" => (answer == live).then_some(false),
        _ => None,
    }
}

fn place(v: &Value) -> Option<(String, i64, i64)> {
    Some((v["file"].as_str()?.to_string(), v["lineStart"].as_i64()?, v["lineEnd"].as_i64()?))
}

/// Aggregate rows into experiments, variants in name order.
pub fn report(rows: &[Row]) -> Vec<ExperimentReport> {
    let mut by: BTreeMap<String, BTreeMap<(bool, String), VariantReport>> = BTreeMap::new();
    for r in rows {
        let mut seen_live: Vec<(String, String)> = Vec::new();
        for p in r.metadata["plugins"].as_array().into_iter().flatten() {
            let (Some(exp), Some(var)) = (p["experiment"].as_str(), p["variant"].as_str()) else { continue };
            let shadow = p["shadow"].as_bool().unwrap_or(false);
            let v = by.entry(exp.to_string()).or_default().entry((shadow, var.to_string())).or_insert_with(|| VariantReport { variant: var.to_string(), shadow, ..Default::default() });
            let plugin = p["plugin"].as_str().unwrap_or_default().to_string();
            if !v.plugins.contains(&plugin) {
                v.plugins.push(plugin);
            }
            v.steps += p["calls"].as_u64().unwrap_or(1);
            v.ms += p["ms"].as_f64().unwrap_or(0.0);
            for (k, n) in p["errors"].as_object().into_iter().flatten() {
                *v.errors.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
            if shadow || seen_live.contains(&(exp.to_string(), var.to_string())) {
                continue;
            }
            seen_live.push((exp.to_string(), var.to_string()));
            v.exposures += 1;
            v.mean_confidence += r.confidence;
            *v.statuses.entry(r.status.clone()).or_default() += 1;
            if let Some(fb) = &r.feedback {
                match judged(r.at.as_ref(), r.at.as_ref(), fb) {
                    Some(true) => v.feedback_correct += 1,
                    Some(false) => v.feedback_wrong += 1,
                    None => {}
                }
            }
        }
        for s in r.metadata["shadow"].as_array().into_iter().flatten() {
            let (Some(exp), Some(var)) = (s["experiment"].as_str(), s["variant"].as_str()) else { continue };
            let v = by.entry(exp.to_string()).or_default().entry((true, var.to_string())).or_insert_with(|| VariantReport { variant: var.to_string(), shadow: true, ..Default::default() });
            let answer = place(s);
            v.exposures += 1;
            v.mean_confidence += s["confidence"].as_f64().unwrap_or(0.0);
            if answer.is_some() && answer == r.at {
                v.agree += 1;
            }
            if let Some(fb) = &r.feedback {
                match judged(answer.as_ref(), r.at.as_ref(), fb) {
                    Some(true) => v.feedback_correct += 1,
                    Some(false) => v.feedback_wrong += 1,
                    None => {}
                }
            }
        }
    }
    by.into_iter()
        .map(|(experiment, vs)| ExperimentReport {
            experiment,
            variants: vs
                .into_values()
                .map(|mut v| {
                    if v.exposures > 0 {
                        v.mean_confidence /= v.exposures as f64;
                    }
                    if v.steps > 0 {
                        v.latency_ms_mean = v.ms / v.steps as f64;
                    }
                    if v.shadow && v.exposures > 0 {
                        v.agreement = Some(v.agree as f64 / v.exposures as f64);
                    }
                    v.accuracy = wilson(v.feedback_correct, v.feedback_correct + v.feedback_wrong);
                    v
                })
                .collect(),
        })
        .collect()
}

/// The report as a table for the terminal.
pub fn text(reports: &[ExperimentReport]) -> String {
    let mut s = String::new();
    if reports.is_empty() {
        s.push_str("no experiment exposures recorded yet\n");
    }
    for e in reports {
        s.push_str(&format!("experiment {}\n", e.experiment));
        s.push_str(&format!("  {:<16} {:>9} {:>10} {:>9} {:>7}  {:<28} {:<22} {}\n", "variant", "exposures", "latency ms", "mean conf", "errors", "statuses", "feedback (ok/wrong)", "accuracy (95% CI)"));
        for v in &e.variants {
            let statuses = if v.shadow { v.agreement.map(|a| format!("agrees with live {:.0}%", a * 100.0)).unwrap_or_default() } else { v.statuses.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ") };
            let acc = v.accuracy.as_ref().map(|a| format!("{:.1}% [{:.1}, {:.1}]", a.value * 100.0, a.low * 100.0, a.high * 100.0)).unwrap_or_else(|| "-".into());
            let name = if v.shadow { format!("{} (shadow)", v.variant) } else { v.variant.clone() };
            s.push_str(&format!(
                "  {:<16} {:>9} {:>10.3} {:>9.2} {:>7}  {:<28} {:<22} {}\n",
                name, v.exposures, v.latency_ms_mean, v.mean_confidence, v.errors.values().sum::<u64>(), statuses, format!("{}/{}", v.feedback_correct, v.feedback_wrong), acc
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wilson_intervals_are_honest_for_small_counts() {
        let a = wilson(9, 10).unwrap();
        assert!((a.value - 0.9).abs() < 1e-9 && a.low > 0.55 && a.low < 0.6 && a.high > 0.98, "{a:?}");
        assert!(wilson(0, 0).is_none());
        let b = wilson(900, 1000).unwrap();
        assert!(b.high - b.low < 0.04);
    }

    #[test]
    fn feedback_counts_toward_the_variant_that_answered_and_shadows_are_judged_too() {
        let meta = |var: &str, shadow_at: &str| json!({
            "plugins": [{"graphNode": "score", "plugin": "weighted-scorer", "experiment": "scorer", "variant": var, "calls": 1, "ms": 2.0, "errors": {}}],
            "shadow": [{"experiment": "scorer", "variant": "challenger", "file": shadow_at, "lineStart": 10, "lineEnd": 10, "confidence": 0.7}],
        });
        let row = |var: &str, verdict: &str, shadow_at: &str| Row {
            status: "confirmed".into(), confidence: 0.9, metadata: meta(var, shadow_at), at: Some(("a.py".into(), 10, 10)),
            feedback: Some(Feedback { verdict: verdict.into(), file: (verdict == "corrected").then(|| "b.py".to_string()), lines: None }),
        };
        let rows = vec![row("control", "correct", "a.py"), row("control", "wrong", "b.py"), row("candidate", "corrected", "b.py")];
        let r = report(&rows);
        assert_eq!(r.len(), 1);
        let v = |name: &str, shadow: bool| r[0].variants.iter().find(|v| v.variant == name && v.shadow == shadow).unwrap().clone();
        let control = v("control", false);
        assert_eq!((control.exposures, control.feedback_correct, control.feedback_wrong), (2, 1, 1));
        assert_eq!(v("candidate", false).feedback_wrong, 1);
        let shadow = v("challenger", true);
        assert_eq!(shadow.exposures, 3);
        assert_eq!(shadow.agreement, Some(1.0 / 3.0));
        // Right where live was confirmed right (same place) and where the correction
        // named its file; unknown where live was only marked wrong.
        assert_eq!((shadow.feedback_correct, shadow.feedback_wrong), (2, 0));
    }
}
