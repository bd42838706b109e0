//! Bad input gets a clear error or a warning, never a panic.

use super::*;
use std::sync::Arc;

fn parse_bytes(b: &[u8]) -> Result<planmap::plan::Plan, planmap::plan::PlanError> {
    planmap::plan::parse(PlanInput::Bytes(Arc::from(b)), &ParseOptions::default())
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(parse_bytes(b"").unwrap_err().to_string(), "the plan input is empty");
    assert_eq!(parse_bytes(b"  \n\t ").unwrap_err().to_string(), "the plan input is empty");
}

#[test]
fn binary_input_is_refused() {
    let e = parse_bytes(&[0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 0, 0]).unwrap_err().to_string();
    assert!(e.contains("binary data") && e.contains("NUL bytes"), "{e}");
}

#[test]
fn truncated_json_names_the_place() {
    let text = std::fs::read_to_string(fixture("shared/rest/generated-shs-3.5.3/application_1751493828576_0001.sql.24.json")).unwrap();
    let e = parse_bytes(&text.as_bytes()[..text.len() / 2]).unwrap_err().to_string();
    assert!(e.starts_with("invalid JSON in the plan at line") && e.contains("column"), "{e}");
}

#[test]
fn a_log_with_no_sql_executions_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.log");
    std::fs::write(&f, "{\"Event\":\"SparkListenerLogStart\",\"Spark Version\":\"3.5.3\"}\n{\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":1}\n").unwrap();
    let e = planmap::plan::parse(PlanInput::Path(&f), &ParseOptions::default()).unwrap_err().to_string();
    assert!(e.contains("no SQL executions in 2 events"), "{e}");
}

#[test]
fn a_truncated_compressed_log_is_an_error_not_a_panic() {
    let bytes = std::fs::read(fixture("shared/eventlogs/spark-3.1.1-pandas-udf/pandas_execs_eventlog.zstd")).unwrap();
    let r = parse_bytes(&bytes[..bytes.len() / 3]);
    match r {
        Err(e) => assert!(e.to_string().contains("event log"), "{e}"),
        Ok(p) => assert!(!p.nodes.is_empty()), // the part that decoded held a whole plan
    }
}

#[test]
fn unknown_operators_are_kept_with_a_warning() {
    let p = planmap::plan::parse_text("== Physical Plan ==\nProject [a#1]\n+- TurboScan fancy_table[a#1]\n").unwrap();
    assert_eq!(p.nodes.len(), 2);
    assert_eq!(p.nodes[1].family, planmap::plan::Family::Other);
    assert!(p.warnings.iter().any(|w| w.contains("TurboScan")));
}

#[test]
fn text_that_is_not_a_plan_is_refused_clearly() {
    let e = parse_bytes(b"hello world, this is a README\n").unwrap_err().to_string();
    assert!(e.contains("is not EXPLAIN output") && e.contains("name the format explicitly"), "{e}");
    let e = parse_bytes(b"{\"foo\": 1}").unwrap_err().to_string();
    assert!(e.contains("neither a Spark REST execution"), "{e}");
}

#[test]
fn truncated_strings_are_flagged() {
    let p = planmap::plan::parse_text("== Physical Plan ==\nProject [a#1, b#2, ... 40 more fields]\n+- Scan parquet t[a#1]\n").unwrap();
    assert!(p.nodes[0].semantics.truncated);
    assert!(p.warnings.iter().any(|w| w.contains("truncated")));
}
