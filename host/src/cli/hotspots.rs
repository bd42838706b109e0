//! `planmap hotspots`: map the plan, then rank the code spans by what their nodes cost
//! (from the input's SQL metrics) and list the anti-patterns found at them.

use super::map::{execution_title, map_plans, Format, MapArgs};
use super::Common;
use crate::cost::{Finding, Hotspots};
use std::fmt::Write;
use std::process::ExitCode;

/// Spans listed in the table (the JSON has them all).
const TABLE_SPANS: usize = 15;

pub async fn run(a: MapArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let mapped = map_plans(&a, common).await?;
    match a.format {
        Format::Table => {
            let mut out = String::new();
            for (plan, result) in mapped.plans.iter().zip(&mapped.results) {
                if mapped.several {
                    let _ = writeln!(out, "== {} ==", execution_title(plan));
                }
                out.push_str(&table(&result.cost.hotspots, &result.cost.findings));
                if mapped.several {
                    out.push('\n');
                }
            }
            super::emit(&out);
        }
        Format::Json => {
            let entries: Vec<serde_json::Value> = mapped
                .plans
                .iter()
                .zip(&mapped.results)
                .map(|(plan, r)| {
                    let mut v = serde_json::to_value(&r.cost).unwrap_or_default();
                    if let Some(e) = &plan.execution {
                        v["execution"] = e.summary();
                    }
                    v
                })
                .collect();
            let v = if mapped.several { serde_json::json!({"executions": entries}) } else { entries.into_iter().next().unwrap_or_default() };
            super::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?));
        }
        Format::Sarif => super::emit(&format!("{}\n", serde_json::to_string_pretty(&super::map::sarif(&mapped.plans, &mapped.results))?)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The ranking and the findings as text.
pub fn table(h: &Hotspots, findings: &[Finding]) -> String {
    let mut out = String::new();
    if !h.known {
        let _ = writeln!(out, "no costs: {}", h.note.as_deref().unwrap_or("the input carries no metrics"));
    } else {
        spans(&mut out, h);
    }
    if findings.is_empty() {
        let _ = writeln!(out, "\nno findings");
    } else {
        let _ = writeln!(out, "\n{} finding(s):", findings.len());
        for f in findings {
            let at = match (&f.file, f.line_start, f.line_end) {
                (Some(file), Some(a), Some(b)) if a != b => format!("{file}:{a}-{b}"),
                (Some(file), Some(a), _) => format!("{file}:{a}"),
                _ => format!("node {} (unmapped)", f.node),
            };
            let _ = writeln!(out, "  {} at {at}: {}\n      fix: {}", f.rule, f.message, f.suggestion);
        }
    }
    out
}

/// The ranked spans.
fn spans(out: &mut String, h: &Hotspots) {
    let _ = writeln!(out, "{} spans, {} of {} in all{}", h.spans.len(), crate::plan::metrics::millis(h.total_ms), h.basis, if h.unattributed_ms > 0.0 { format!(" ({} on unmapped nodes)", crate::plan::metrics::millis(h.unattributed_ms)) } else { String::new() });
    for (i, s) in h.spans.iter().take(TABLE_SPANS).enumerate() {
        let _ = writeln!(out, "{:>3}. {:>5.1} %  {}", i + 1, s.share * 100.0, s.why);
    }
    if h.spans.len() > TABLE_SPANS {
        let _ = writeln!(out, "     … {} more spans (--format json lists every one)", h.spans.len() - TABLE_SPANS);
    }
    if let Some(n) = &h.note {
        let _ = writeln!(out, "note: {n}");
    }
}
