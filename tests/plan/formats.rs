//! EXPLAIN FORMATTED (TPC-DS goldens, AQE, Photon), simple/extended trees, golden
//! `.sql.out` files, REST JSON, query profiles and DAG lists.

use super::*;
use planmap::plan::{Family, Ownership, PlanFormat};

#[test]
fn formatted_q3_has_ids_semantics_and_ownership() {
    let p = load("shared/explain/tpcds-v1_4-spark-3.5.2/q3.explain.txt");
    assert_eq!(p.format, PlanFormat::Formatted);
    assert_eq!(p.nodes.len(), 21);
    assert_eq!(p.roots, vec!["21".to_string()]);
    let scan = node(&p, "1");
    assert_eq!((scan.operator.as_str(), scan.family), ("Scan parquet", Family::Scan));
    assert_eq!(scan.semantics.tables, strs(&["spark_catalog.default.date_dim"]));
    assert_eq!(scan.semantics.columns, strs(&["d_date_sk", "d_year", "d_moy"]));
    assert!(scan.semantics.predicates.contains(&"EqualTo(d_moy,11)".to_string()));
    assert!(scan.semantics.literals.contains(&"11".to_string()));
    let join = node(&p, "16");
    assert_eq!(join.semantics.left_keys, strs(&["ss_item_sk"]));
    assert_eq!(join.semantics.right_keys, strs(&["i_item_sk"]));
    assert_eq!(join.semantics.join_type.as_deref(), Some("Inner"));
    assert_eq!(join.semantics.build_side.as_deref(), Some("BuildRight"));
    assert_eq!(join.ownership, Ownership::Owned);
    let agg = node(&p, "20");
    assert_eq!(agg.semantics.grouping_keys, strs(&["d_year", "i_brand", "i_brand_id"]));
    assert_eq!(agg.semantics.aggregate_functions, strs(&["sum"]));
    assert!(agg.semantics.aliases.contains(&"sum_agg".to_string()));
    assert_eq!(induced_by(node(&p, "19")), Some("20"), "{}", reason(node(&p, "19")));
    assert!(reason(node(&p, "19")).contains("shuffle required by HashAggregate (20)"));
    assert_eq!(induced_by(node(&p, "18")), Some("20"));
    assert!(reason(node(&p, "18")).contains("partial aggregation"));
    assert_eq!(induced_by(node(&p, "8")), Some("9"));
    assert!(reason(node(&p, "8")).contains("broadcast"));
    assert_eq!(node(&p, "2").ownership, Ownership::Infrastructure);
    assert_eq!(node(&p, "2").codegen_stage, Some(3));
    let top = node(&p, "21");
    assert_eq!(top.semantics.limit, Some(100));
    assert_eq!(top.semantics.sort_keys[0].expr, "d_year");
    assert!(!top.semantics.sort_keys[1].ascending, "sum_agg DESC");
    // Children keep Spark's order: the left side first.
    assert_eq!(node(&p, "16").children, strs(&["10", "15"]));
}

#[test]
fn formatted_q12_links_subqueries_and_reused_exchanges() {
    let p = load("shared/explain/tpcds-v1_4-spark-3.5.2/q12.explain.txt");
    assert_eq!(p.nodes.len(), 25);
    let reused = node(&p, "10");
    assert_eq!(reused.operator, "ReusedExchange");
    assert_eq!(reused.reuses.as_deref(), Some("25"));
    assert_eq!(induced_by(reused), Some("11"), "{}", reason(reused));
    // The dynamic-pruning subquery is hosted by the scan that uses it.
    assert_eq!(node(&p, "1").subqueries, strs(&["25"]));
    assert_eq!(node(&p, "25").parent.as_deref(), Some("1"));
    assert!(reason(node(&p, "25")).contains("dynamic partition pruning"));
    let w = node(&p, "18");
    assert_eq!(w.family, Family::Window);
    assert_eq!(w.semantics.window_functions, strs(&["sum"]));
    assert_eq!(w.semantics.window_partition, strs(&["i_class"]));
    assert_eq!(induced_by(node(&p, "17")), Some("18"));
}

#[test]
fn formatted_q9_keeps_every_scalar_subquery() {
    let p = load("shared/explain/tpcds-v1_4-spark-3.5.2/q9.explain.txt");
    assert_eq!(p.nodes.len(), 44, "{:?}", p.warnings);
    let hosted: usize = p.nodes.iter().map(|n| n.subqueries.len()).sum();
    assert!(hosted >= 5, "subqueries hosted: {hosted}");
    for n in &p.nodes {
        for s in &n.subqueries {
            assert_eq!(node(&p, s).parent.as_ref(), Some(&n.id));
        }
    }
}

#[test]
fn formatted_sort_merge_joins_of_q72() {
    let p = load("shared/explain/tpcds-v1_4-spark-3.5.2/q72.sf100.explain.txt");
    assert_eq!(p.nodes.len(), 81);
    let smj = node(&p, "65");
    assert_eq!(smj.semantics.left_keys, strs(&["cs_item_sk", "cs_order_number"]));
    assert_eq!(smj.semantics.join_type.as_deref(), Some("LeftOuter"));
    assert_eq!(induced_by(node(&p, "58")), Some("65"));
    assert!(reason(node(&p, "58")).starts_with("sort required by SortMergeJoin (65)"));
    assert_eq!(induced_by(node(&p, "57")), Some("65"));
    let theta = node(&p, "49");
    assert!(theta.semantics.predicates.iter().any(|c| c.contains("inv_quantity_on_hand < cs_quantity")), "{:?}", theta.semantics.predicates);
}

#[test]
fn aqe_final_plan_is_chosen_and_said() {
    let p = load("shared/explain/derived-from-eventlogs/local-1776286786993.spark-4.1.0.exec6.aqe-final.formatted.txt");
    assert_eq!(p.source, "AQE final plan");
    assert_eq!(p.nodes.len(), 35);
    assert_eq!(node(&p, "17").spark_operator, "SortMergeJoin");
    assert_eq!(node(&p, "32").ownership, Ownership::Infrastructure, "AQEShuffleRead");
    assert_eq!(node(&p, "34").ownership, Ownership::Infrastructure, "ResultQueryStage");
    // Nothing from the initial plan (ids above the final plan's).
    assert!(p.nodes.iter().all(|n| n.id.parse::<u32>().unwrap() <= 51));
}

#[test]
fn photon_operators_map_to_spark_families() {
    let p = load("shared/explain/derived-from-eventlogs/q88.databricks-13.3-photon.exec26.aqe-final.formatted.txt");
    assert!(p.nodes.len() > 200);
    let agg = p.nodes.iter().find(|n| n.operator == "PhotonAgg").unwrap();
    assert_eq!((agg.spark_operator.as_str(), agg.family), ("HashAggregate", Family::Aggregate));
    let bnlj = node(&p, "249");
    assert_eq!((bnlj.operator.as_str(), bnlj.family), ("PhotonBroadcastNestedLoopJoin", Family::Join));
    let sink = p.nodes.iter().find(|n| n.operator == "PhotonShuffleExchangeSink").unwrap();
    assert_eq!(sink.family, Family::Exchange);
    assert!(induced_by(sink).is_some());
    assert_eq!(node(&p, "250").ownership, Ownership::Infrastructure, "PhotonResultStage");
    assert!(!p.warnings.iter().any(|w| w.contains("unknown operators")), "{:?}", p.warnings);
}

#[test]
fn spark2_extended_uses_the_physical_section_and_preorder_ids() {
    let p = load("shared/explain/derived-from-eventlogs/spark2-eventlog.spark-2.2.3.exec2.extended.txt");
    assert_eq!(p.format, PlanFormat::Explain);
    assert_eq!(p.nodes.len(), 9);
    let ids: Vec<&str> = p.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec!["0", "1", "2", "3", "4", "5", "6", "7", "8"]);
    assert_eq!(node(&p, "0").semantics.limit, Some(21));
    let j = node(&p, "1");
    assert_eq!((j.semantics.left_keys.clone(), j.semantics.build_side.as_deref()), (strs(&["salary"]), Some("BuildRight")));
    let scan = node(&p, "4");
    assert_eq!(scan.operator, "FileScan csv");
    assert_eq!(scan.semantics.paths, strs(&["file:/home/nartal/event_logs_spark/nested_type/simple1.csv"]));
    assert_eq!(scan.semantics.columns, strs(&["name", "id", "gender", "salary"]));
    assert_eq!(node(&p, "2").codegen_stage, None);
    assert!(reason(node(&p, "3")).contains("null filter inferred from the join keys"));
}

/// `-- !query output` blocks of a golden file that hold a physical plan.
fn golden_plans(rel: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    text.split("-- !query output").skip(1).map(|b| b.split("-- !query\n").next().unwrap_or(b).to_string()).filter(|b| b.contains("== Physical Plan ==")).collect()
}

#[test]
fn every_plan_of_the_spark_golden_files_parses() {
    let mut parsed = 0;
    let mut blocks = 0;
    for rel in ["shared/explain/sql-tests-spark-3.5.2/explain.sql.out", "shared/explain/sql-tests-spark-3.5.2/explain-aqe.sql.out"] {
        for block in golden_plans(rel) {
            blocks += 1;
            let p = planmap::plan::parse_text(&block).unwrap_or_else(|e| panic!("{rel}: {e}\n{block}"));
            assert!(!p.nodes.is_empty());
            assert!(p.nodes.iter().all(|n| !n.operator.is_empty() && !n.operator.starts_with("==")), "{block}");
            parsed += 1;
        }
    }
    assert_eq!(parsed, blocks);
    assert!(parsed >= 30, "parsed {parsed} plans");
}

#[test]
fn version_drift_keeps_the_same_shape() {
    let old = load("shared/explain/tpcds-version-drift/q6.spark-3.2.0-SNAPSHOT.explain.txt");
    let new = load("shared/explain/tpcds-v1_4-spark-3.5.2/q6.explain.txt");
    for f in [Family::Join, Family::Aggregate, Family::Scan] {
        assert_eq!(count(&old, f), count(&new, f), "{f:?}");
    }
}

#[test]
fn rest_json_uses_node_ids_and_descriptions() {
    let p = load("shared/rest/generated-shs-3.5.3/application_1751493828576_0001.sql.24.json");
    assert_eq!(p.format, PlanFormat::Rest);
    assert_eq!(p.nodes.len(), 119);
    assert_eq!(p.execution.as_ref().unwrap().id, 24);
    let smj = node(&p, "8");
    assert_eq!(smj.spark_operator, "SortMergeJoin");
    assert_eq!(smj.semantics.left_keys, strs(&["cs_item_sk", "cs_order_number"]));
    assert_eq!(node(&p, "1").semantics.limit, Some(100));
    assert_eq!(induced_by(node(&p, "4")), Some("3"));
    // Every edge became a parent link but one: a node that feeds two parents keeps the first.
    assert_eq!(p.nodes.iter().filter(|n| n.parent.is_some()).count(), 98);
}

#[test]
fn rest_listing_selects_an_execution() {
    let rel = "shared/rest/generated-shs-3.5.3/spark-110be3a8424d4a2789cb88134418217b.sql.list.json";
    let p = load_with(rel, Some(2));
    assert_eq!(p.execution.as_ref().unwrap().id, 2);
    assert_eq!(node(&p, "1").family, Family::Write);
    assert!(node(&p, "1").semantics.write_target.as_deref().unwrap().ends_with("taxi-trip/output"));
    let err = planmap::plan::parse(PlanInput::Path(&fixture(rel)), &ParseOptions { execution: Some(99), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("execution 99 is not in this input (executions: 0, 1, 2)"), "{err}");
}

#[test]
fn databricks_query_profile() {
    let p = load("shared/query-profile/query-profile_01f078dc-e054-132c-9ea0-325160b677c7.json");
    assert_eq!(p.format, PlanFormat::QueryProfile);
    assert_eq!(p.nodes.len(), 30);
    let j = node(&p, "13628");
    assert_eq!(j.family, Family::Join);
    assert_eq!(j.semantics.left_keys, strs(&["cs_sold_date_sk"]));
    assert_eq!(j.semantics.right_keys, strs(&["d_date_sk"]));
    assert_eq!(j.semantics.join_type.as_deref(), Some("LeftSemi"));
    assert_eq!(node(&p, "13702").semantics.grouping_keys, strs(&["cs_bill_customer_sk"]));
    assert_eq!(induced_by(node(&p, "13632")), Some("13702"));
    assert_eq!(node(&p, "13624").semantics.tables, strs(&["tpcds.tpcds_sf10000_delta_lc.catalog_sales_demo"]));
}

#[test]
fn dag_node_lists_from_other_tools() {
    let json = r#"[
      {"id": 1, "operator": "HashAggregate", "keys": ["region"], "aggregations": ["sum(amount)"], "children": [2],
       "physicalPlanFragment": "HashAggregate(keys=[region#1], functions=[sum(amount#2)])"},
      {"id": 2, "operator": "Exchange", "children": [3], "physicalPlanFragment": "Exchange hashpartitioning(region#1, 200), ENSURE_REQUIREMENTS, [plan_id=5]"},
      {"id": 3, "operator": "FancyVendorOp", "physicalPlanFragment": "FancyVendorOp [x#9]", "metadata": {"owner": "x"}}
    ]"#;
    let p = planmap::plan::parse(PlanInput::Bytes(std::sync::Arc::from(json.as_bytes())), &ParseOptions::default()).unwrap();
    assert_eq!(p.format, PlanFormat::DagNodes);
    assert_eq!(node(&p, "1").semantics.grouping_keys, strs(&["region"]));
    assert_eq!(node(&p, "1").semantics.aggregate_functions, strs(&["sum"]));
    assert_eq!(induced_by(node(&p, "2")), Some("1"));
    let odd = node(&p, "3");
    assert_eq!(odd.family, Family::Other, "unknown operators are kept, never dropped");
    assert!(p.warnings.iter().any(|w| w.contains("FancyVendorOp")), "{:?}", p.warnings);
}

#[test]
fn a_driver_limit_the_aqe_final_plan_leaves_out_is_kept_on_top() {
    // `show(10)` in Spark 4: the final plan is a ResultQueryStage over the Project; only
    // the initial plan shows the CollectLimit (11 rows) that ran at the driver.
    let p = load("../public/plans/data-algorithms-spark/wordcount-df-shorthand/0.txt");
    let limit = node(&p, "25");
    assert_eq!(limit.spark_operator, "CollectLimit");
    assert_eq!(limit.semantics.limit, Some(11));
    assert_eq!(limit.ownership, Ownership::Owned);
    let stage = node(&p, "14");
    assert_eq!(stage.parent.as_deref(), Some("25"), "the stage is under the limit");
    assert!(p.warnings.iter().any(|w| w.contains("CollectLimit (25)")), "{:?}", p.warnings);
    // Nothing else of the initial plan comes along.
    assert!(p.nodes.iter().all(|n| n.id.parse::<u32>().unwrap() <= 26));
    // A final plan that shows its limit is left as it is.
    let shown = load("../public/plans/dbbench/join/26.txt");
    assert_eq!(shown.nodes.iter().filter(|n| n.spark_operator == "CollectLimit").count(), 1);
    assert!(!shown.warnings.iter().any(|w| w.contains("leaves out")));
}

#[test]
fn a_partitioned_file_write_says_it_partitions() {
    // `df.write.partitionBy("year_month").save(…)`: the command lists its partition columns.
    let p = load("../public/plans/spark-sql-plan-poc/colab-poc/17.txt");
    let write = |p: &planmap::plan::Plan| p.nodes.iter().find(|n| n.family == planmap::plan::Family::Write && n.operator.contains("InsertIntoHadoopFsRelationCommand")).cloned().unwrap();
    let w = write(&p);
    assert!(w.semantics.functions.iter().any(|f| f == planmap_plugin_sdk::PARTITIONED), "{:?}", w.semantics);
    let plain = load("../public/plans/spark-sql-plan-poc/colab-poc/7.txt");
    let w = write(&plain);
    assert!(!w.semantics.functions.iter().any(|f| f == planmap_plugin_sdk::PARTITIONED), "{:?}", w.semantics);
}

#[test]
fn shuffles_under_query_stages_belong_to_the_operator_that_needed_them() {
    // `limit(10)` then a join: the single-partition shuffle gathers the LocalLimit's rows.
    let p = load("../public/plans/coder2j-pyspark/07/7.txt");
    assert_eq!(induced_by(node(&p, "5")), Some("4"), "{:?}", node(&p, "5").ownership);
    // A sort-merge join AQE turned into a broadcast: the shuffle planned for it sits under
    // the BroadcastExchange of the build side, and is still the join's.
    let p = load("../public/plans/coder2j-pyspark/08/13.txt");
    assert_eq!(induced_by(node(&p, "8")), Some("13"), "{:?}", node(&p, "8").ownership);
    // Never a query stage.
    for p in [load("../public/plans/coder2j-pyspark/07/7.txt"), load("../public/plans/coder2j-pyspark/08/13.txt")] {
        for n in &p.nodes {
            if let Some(by) = induced_by(n) {
                assert!(node(&p, by).ownership != Ownership::Infrastructure, "{} is induced by infrastructure {by}", n.id);
            }
        }
    }
}
