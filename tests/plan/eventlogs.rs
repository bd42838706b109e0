//! Event logs: every codec, rolling and Databricks layouts, execution listing and
//! selection, AQE final plans, Python and pandas UDF operators, writes.

use super::*;
use planmap::plan::{Family, PlanFormat};

#[test]
fn lz4_and_snappy_logs_decode_to_the_same_plan() {
    let a = load("shared/eventlogs/generated-spark-3.5.3-lz4-snappy/local-1795872990035.lz4");
    let b = load("shared/eventlogs/generated-spark-3.5.3-lz4-snappy/local-1795873014323.snappy");
    assert_eq!(a.format, PlanFormat::EventLog);
    let shape = |p: &planmap::plan::Plan| p.nodes.iter().map(|n| (n.id.clone(), n.operator.clone())).collect::<Vec<_>>();
    assert_eq!(shape(&a), shape(&b));
    assert!(a.source.contains("AQE final plan"), "{}", a.source);
    let w = node(&a, "27");
    assert_eq!(w.semantics.window_functions, strs(&["rank"]));
    assert!(induced_by(node(&a, "26")).is_some(), "WindowGroupLimit is the optimizer's");
    assert_eq!(a.execution.as_ref().unwrap().call_site, "/tmp/shs/gen/gen.py:18");
}

#[test]
fn rolling_and_databricks_layouts_read_every_part_in_order() {
    let rolling = load("shared/eventlogs/spark-3.1.1-rolling-v2-zstd/eventlog_v2_local-1623876083964");
    let db = load("shared/eventlogs/spark-3.1.1-databricks-style-rotated-gz/db_sim_eventlog");
    for p in [&rolling, &db] {
        assert_eq!(p.nodes.len(), 15);
        assert_eq!(node(p, "11").semantics.left_keys, strs(&["a"]));
        assert_eq!(p.execution.as_ref().unwrap().description, "count at <console>:28");
    }
}

#[test]
fn executions_are_listed_and_the_largest_is_the_default() {
    let execs = planmap::plan::list_executions(&fixture("shared/eventlogs/spark-3.1.1-pandas-udf/pandas_execs_eventlog.zstd")).unwrap();
    assert_eq!(execs.len(), 5);
    assert!(execs.iter().all(|e| e.call_site == "<stdin>:1"));
    let p = load("shared/eventlogs/spark-3.1.1-pandas-udf/pandas_execs_eventlog.zstd");
    let most = execs.iter().map(|e| e.nodes).max().unwrap();
    assert_eq!(p.execution.as_ref().unwrap().nodes, most);
    assert!(p.source.contains("the one with most nodes"), "{}", p.source);
}

#[test]
fn pandas_udf_operators() {
    let p = load_with("shared/eventlogs/spark-3.1.1-pandas-udf/pandas_execs_eventlog.zstd", Some(3));
    let f = first(&p, "FlatMapGroupsInPandas");
    assert_eq!(f.family, Family::PythonUdf);
    assert_eq!(f.semantics.udfs, strs(&["_normalize_cpu_func"]));
    assert_eq!(f.semantics.grouping_keys, strs(&["id"]));
    assert_eq!(induced_by(first(&p, "Exchange")), Some(f.id.as_str()));
    let agg = load_with("shared/eventlogs/spark-3.1.1-pandas-udf/pandas_execs_eventlog.zstd", Some(1));
    assert_eq!(first(&agg, "AggregateInPandas").semantics.udfs, strs(&["_sum_cpu_func"]));
}

#[test]
fn python_udf_and_write_command() {
    let p = load("shared/eventlogs/spark-3.5.5-python-udf/python_udf_eventlog");
    let udf = first(&p, "BatchEvalPython");
    assert_eq!(udf.semantics.udfs, strs(&["multiply_by_two"]));
    let w = first(&p, "InsertIntoHadoopFsRelationCommand");
    assert_eq!(w.family, Family::Write);
    assert!(w.semantics.write_target.as_deref().unwrap().ends_with("tmp/output/python_udf"));
    assert_eq!(first(&p, "Project").semantics.aliases, strs(&["doubled"]));
}

#[test]
fn spark2_log_falls_back_to_extended_text() {
    let execs = planmap::plan::list_executions(&fixture("shared/eventlogs/spark-2.2.3/spark2-eventlog.zstd")).unwrap();
    assert_eq!(execs.len(), 4);
    let p = load("shared/eventlogs/spark-2.2.3/spark2-eventlog.zstd");
    assert_eq!(p.nodes.len(), 9);
    assert_eq!(first(&p, "BroadcastHashJoin").semantics.left_keys, strs(&["salary"]));
}

#[test]
fn databricks_log_uses_explain_ids() {
    let p = load("shared/eventlogs/databricks-11.3-standard/db_subExecution_id.zstd");
    let ids: Vec<&str> = p.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec!["10", "6", "5", "4", "3", "2", "1"]);
    assert_eq!(induced_by(node(&p, "3")), Some("6"));
}

#[test]
fn aqe_log_takes_the_last_final_plan() {
    let p = load("shared/eventlogs/spark-3.2.1-aqe/aqeshuffle_eventlog.zstd");
    assert!(p.source.contains("AQE final plan from SQLAdaptiveExecutionUpdate #3"), "{}", p.source);
    assert!(p.nodes.iter().any(|n| n.operator == "AQEShuffleRead" && n.family == Family::Infrastructure));
}

/// A plan deeper than serde_json's default nesting limit (128 levels, about 60
/// operators) is read, not skipped: real AQE plans of long pipelines go that deep.
#[test]
fn a_plan_hundreds_of_operators_deep_is_read() {
    const DEPTH: usize = 700;
    let mut info = serde_json::json!({"nodeName": "Scan parquet", "simpleString": "FileScan parquet [a#1]", "children": [], "metadata": {}});
    for i in 0..DEPTH {
        info = serde_json::json!({"nodeName": "Filter", "simpleString": format!("Filter (a#1 > {i})"), "children": [info], "metadata": {}});
    }
    let start = serde_json::json!({"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart", "executionId": 0, "description": "count at deep.py:9", "details": "", "physicalPlanDescription": "", "sparkPlanInfo": info});
    let mut log = serde_json::json!({"Event": "SparkListenerLogStart", "Spark Version": "4.1.1"}).to_string();
    log.push('\n');
    log.push_str(&serde_json_deep(&start));
    log.push('\n');
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep-eventlog");
    std::fs::write(&path, log).unwrap();
    let p = plan::parse(PlanInput::Path(&path), &ParseOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.nodes.len(), DEPTH + 1);
    assert_eq!(p.execution.as_ref().unwrap().call_site, "deep.py:9");
}

/// `Value::to_string` recurses too; a big stack keeps the fixture's own writer safe.
fn serde_json_deep(v: &serde_json::Value) -> String {
    let v = v.clone();
    std::thread::Builder::new().stack_size(64 << 20).spawn(move || v.to_string()).unwrap().join().unwrap()
}
