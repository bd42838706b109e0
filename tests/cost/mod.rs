//! Costs by line of code: event logs of real Spark 4 runs with planted problems
//! (`tests/fixtures/hotspots`, made by its `generate.py`) are ranked and checked for
//! findings; the clean run of the same job shape has none.

use std::process::Command;

fn hotspots(job: &str, variant: &str) -> serde_json::Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(env!("CARGO_BIN_EXE_planmap"))
        .args(["hotspots", "--plan", &format!("tests/fixtures/hotspots/logs/{job}-{variant}.zstd"), "--repo", "tests/fixtures/hotspots/repo", "--format", "json"])
        .current_dir(root)
        .output()
        .expect("run planmap");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("hotspots JSON")
}

/// (rule, file, first line) of every finding.
fn findings(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    v["findings"].as_array().unwrap().iter().map(|f| (f["rule"].as_str().unwrap().to_string(), f["file"].as_str().unwrap_or("").to_string(), f["lineStart"].as_u64().unwrap_or(0))).collect()
}

#[test]
fn every_planted_problem_is_found_at_its_span_and_clean_runs_have_none() {
    let planted = [
        ("orders_by_country", "planmap/cost/broadcastable-join", Some(13)),
        ("sorted_export", "planmap/cost/spill", Some(12)),
        ("basket_pairs", "planmap/cost/exploding-join", Some(13)),
        // The skewed shuffle read feeds the window on line 17, which induced it.
        ("sessions_by_user", "planmap/cost/skew", Some(17)),
        // The UDF: its definition (15-16) or its call (20) are both its span.
        ("normalise_names", "planmap/cost/python-udf", None),
    ];
    let udf = findings(&hotspots("normalise_names", "planted"));
    assert!(matches!(udf[0].2, 15 | 20), "the UDF's finding is at its definition or call: {udf:?}");
    for (job, rule, line) in planted {
        let found = findings(&hotspots(job, "planted"));
        assert_eq!(found.len(), 1, "{job}: {found:?}");
        let (r, file, start) = &found[0];
        assert_eq!((r.as_str(), file.as_str()), (rule, format!("jobs/{job}.py").as_str()), "{job}");
        if let Some(line) = line {
            assert_eq!(*start, line, "{job}: {found:?}");
        }
        assert!(findings(&hotspots(job, "clean")).is_empty(), "{job} clean: {:?}", findings(&hotspots(job, "clean")));
    }
}

#[test]
fn spans_are_ranked_by_task_time_with_their_induced_nodes_and_evidence() {
    let v = hotspots("orders_by_country", "planted");
    let h = &v["hotspots"];
    assert_eq!(h["basis"], "task time");
    let spans = h["spans"].as_array().unwrap();
    let shares: Vec<f64> = spans.iter().map(|s| s["share"].as_f64().unwrap()).collect();
    assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{shares:?}");
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-6 || h["unattributedMs"].as_f64().unwrap() > 0.0);
    // The join's span carries the shuffles and sorts it induced.
    let join = spans.iter().find(|s| s["lineStart"] == 13).expect("the join's span");
    assert!(!join["induced"].as_array().unwrap().is_empty(), "{join}");
    assert!(join["why"].as_str().unwrap().contains("SortMergeJoin") && join["why"].as_str().unwrap().contains("Exchange"), "{join}");
    // AQE's changes stand beside the span they touched.
    assert!(spans.iter().any(|s| s["adaptive"].as_array().is_some_and(|a| a.iter().any(|x| x.as_str().unwrap().contains("coalesced")))), "{spans:?}");
    // The UDF's stage dominates its job.
    let udf = hotspots("normalise_names", "planted");
    assert!(udf["hotspots"]["spans"][0]["share"].as_f64().unwrap() > 0.5, "{}", udf["hotspots"]["spans"][0]);
    let f = &udf["findings"][0];
    assert!(f["evidence"]["stageShare"].as_f64().unwrap() >= 0.1, "{f}");
}

#[test]
fn explain_text_says_once_that_it_has_no_metrics() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(env!("CARGO_BIN_EXE_planmap"))
        .args(["hotspots", "--plan", "tests/fixtures/public/plans/la-crime-variants/query-3-no-hint/9.txt", "--repo", "tests/fixtures/hotspots/repo"])
        .current_dir(root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("no costs: EXPLAIN text carries no metrics"), "{text}");
}

#[test]
fn rest_and_profile_metrics_are_read_with_units() {
    for (path, node, name) in [
        ("tests/fixtures/plans/shared/rest/generated-shs-3.5.3/application_1751493828576_0001.sql.24.json", "118", "scan time"),
        ("tests/fixtures/plans/shared/query-profile/query-profile_01f078dc-e054-132c-9ea0-325160b677c7.json", "13713", "Number of output rows"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_planmap")).args(["plan", "show", path, "--format", "json"]).current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let metrics = v["metrics"]["nodes"][node]["metrics"].as_array().unwrap_or_else(|| panic!("{path}: no metrics on {node}"));
        let m = metrics.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{path}: {name} missing"));
        assert!(m["total"].as_f64().unwrap() > 0.0, "{m}");
    }
}

#[test]
fn findings_from_the_plan_alone_need_no_metrics() {
    // EXPLAIN text has no metrics, but a cartesian product and a source read twice show
    // in the plan itself, each at the code that asked for it.
    for (plan, rule, line) in [("cross_join", "planmap/cost/cartesian-product", 103), ("union_distinct", "planmap/cost/repeated-scan", 75)] {
        let out = Command::new(env!("CARGO_BIN_EXE_planmap"))
            .args(["hotspots", "--plan", &format!("tests/fixtures/plans/generated/explain/{plan}/formatted.txt"), "--repo", "tests/fixtures/spark", "--format", "json"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["hotspots"]["known"], false);
        assert_eq!(findings(&v), vec![(rule.to_string(), "generate_plans.py".to_string(), line)], "{plan}");
    }
}
