//! Checkpoints after every graph step: each unfinished node's walk is reported after
//! each step, and a node interrupted mid-graph continues from its last step (not from
//! the entry) to the same answer, through the mapper and through a job's store.

use planmap::capabilities::{BackendConfig, Backends};
use planmap::mapping::{self, Checkpoint, Job, Pass, Resume};
use planmap::pipeline::{RunContext, SavedWalk};
use std::sync::{Arc, Mutex};

type Reported = Mutex<Vec<(String, Pass, SavedWalk)>>;

fn capture(into: &Reported) -> impl Fn(Checkpoint<'_>) + Sync + '_ {
    move |c| {
        if let Checkpoint::Step { node, pass, walk } = c {
            into.lock().unwrap().push((node.to_string(), pass, walk));
        }
    }
}

#[tokio::test]
async fn a_node_interrupted_mid_graph_continues_from_its_last_step_to_the_same_answer() {
    let registry = planmap::snapshot::Registry::open(crate::support::runtime(), planmap::snapshot::Sources::default()).expect("built-in plugins and graphs");
    let plan = planmap::plan::parse(planmap::plan::PlanInput::Path(std::path::Path::new(&super::fixture("plans/generated/explain/sort_merge_join/formatted.txt"))), &Default::default()).unwrap();
    let spec = planmap::repo::RepoSpec { url: super::fixture("spark"), ..Default::default() };
    let clones = tempfile::tempdir().unwrap();
    let checkout = planmap::repo::source::acquire(&spec, &planmap::repo::RepoPolicy::cli(), clones.path()).unwrap();
    let backends = Backends::connect(&BackendConfig::default()).await;
    let (ctx, caps) = planmap::repo::context::job_capabilities(&backends, &checkout, &[]).await.unwrap();
    let job = Job {
        runtime: &registry.runtime,
        snapshot: registry.snapshot(),
        graph: "default".into(),
        caps: Arc::new(caps),
        ctx: RunContext { analysis_id: "steps".into(), ..Default::default() },
        thresholds: Default::default(),
        parallel: 3,
        step_checkpoints: true,
        programs: None,
        commit: ctx.commit.clone(),
    };
    let first_run = Reported::default();
    let full = mapping::map_plan_resumable(&job, &plan, &|_, _| {}, &Resume::default(), &capture(&first_run)).await.unwrap();
    let reported = first_run.into_inner().unwrap();
    // Every step of every unfinished walk was reported, in order, per node and pass.
    let owned: Vec<&str> = full.mappings.iter().filter(|m| m.ownership == "owned").map(|m| m.dag_node_id.as_str()).collect();
    for node in &owned {
        for pass in [Pass::First, Pass::Final] {
            let steps: Vec<usize> = reported.iter().filter(|(n, p, _)| n == node && *p == pass).map(|(_, _, w)| w.steps).collect();
            assert!(steps.len() >= 2 && steps.iter().enumerate().all(|(i, s)| *s == i + 1), "node {node} {pass:?}: {steps:?}");
        }
    }

    // Interrupted after two steps of the first pass: each node resumes there.
    let mut resume = Resume::default();
    for (node, pass, walk) in &reported {
        if *pass == Pass::First && walk.steps == 2 {
            resume.first_steps.insert(node.clone(), walk.clone());
        }
    }
    assert_eq!(resume.first_steps.len(), owned.len());
    let second_run = Reported::default();
    let again = mapping::map_plan_resumable(&job, &plan, &|_, _| {}, &resume, &capture(&second_run)).await.unwrap();
    let reported = second_run.into_inner().unwrap();
    for node in &owned {
        let first: Vec<usize> = reported.iter().filter(|(n, p, _)| n == node && *p == Pass::First).map(|(_, _, w)| w.steps).collect();
        assert!(first.first().is_none_or(|s| *s == 3), "node {node} went on from step 3, not from the entry: {first:?}");
    }
    for (a, b) in full.mappings.iter().zip(&again.mappings) {
        assert_eq!((&a.dag_node_id, &a.status, &a.mapped_code), (&b.dag_node_id, &b.status, &b.mapped_code));
        assert!((a.confidence - b.confidence).abs() < 1e-9, "node {}: {} vs {}", a.dag_node_id, a.confidence, b.confidence);
        assert_eq!(a.plugins.len(), b.plugins.len(), "node {}: the restored steps are still on record", a.dag_node_id);
    }

    // A walk saved on another graph version is not continued: the node starts over.
    let mut stale = Resume::default();
    let (node, _, walk) = reported.iter().find(|(_, p, _)| *p == Pass::First).cloned().unwrap_or_else(|| {
        let (n, w) = resume.first_steps.iter().next().unwrap();
        (n.clone(), Pass::First, w.clone())
    });
    stale.first_steps.insert(node.clone(), SavedWalk { graph_version: "0+sha256:000000000000".into(), ..walk });
    let third_run = Reported::default();
    mapping::map_plan_resumable(&job, &plan, &|_, _| {}, &stale, &capture(&third_run)).await.unwrap();
    let first = third_run.into_inner().unwrap().into_iter().find(|(n, p, _)| *n == node && *p == Pass::First).map(|(_, _, w)| w.steps);
    assert_eq!(first, Some(1), "node {node} started over");
}

#[tokio::test]
async fn a_pass_checkpoint_replaces_the_node_s_step_states_in_one_transaction_with_its_event() {
    use planmap::jobs::store::CheckpointWrite;
    use serde_json::json;
    super::on_both(|store, backend| async move {
        let id = store.submit(&super::new_job(&json!({"repoUrl": "x"}), "h", None)).await.unwrap().job.id;
        let fence = store.lease("w", std::time::Duration::from_secs(60)).await.unwrap().unwrap().fence().unwrap();
        let w = |node: &str, pass: i64, event: bool| CheckpointWrite { node: node.into(), pass, state: json!({"walk": {"n": node}}), event: event.then(|| ("node-mapped".to_string(), json!({"dagNodeId": node}))) };
        store.save_checkpoints(&fence, &[w("1", 11, false), w("2", 11, false), w("2", 12, false)]).await.unwrap();
        let passes = |cps: Vec<planmap::jobs::Checkpoint>| cps.into_iter().map(|c| (c.node_id, c.pass)).collect::<Vec<_>>();
        assert_eq!(passes(store.checkpoints(&id).await.unwrap()), vec![("1".into(), 11), ("2".into(), 11), ("2".into(), 12)], "{backend}");
        store.save_checkpoints(&fence, &[w("1", 1, false), w("2", 2, true)]).await.unwrap();
        assert_eq!(passes(store.checkpoints(&id).await.unwrap()), vec![("1".into(), 1), ("2".into(), 2)], "{backend}: step states gone");
        let events = store.events_after(&id, 0, 10).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.kind == "node-mapped").count(), 1, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_job_resumes_mid_graph_from_step_checkpoints_in_its_store() {
    use serde_json::json;
    // Real walks, saved after two steps of the first pass, from an in-process run on the
    // same plugins, graphs and repository the runner uses.
    let registry = planmap::snapshot::Registry::open(crate::support::runtime(), planmap::snapshot::Sources::default()).expect("built-in plugins and graphs");
    let plan_text = std::fs::read_to_string(super::fixture("plans/generated/explain/sort_merge_join/formatted.txt")).unwrap();
    let plan = planmap::plan::parse(planmap::plan::PlanInput::Bytes(plan_text.as_bytes().into()), &Default::default()).unwrap();
    let clones = tempfile::tempdir().unwrap();
    let checkout = planmap::repo::source::acquire(&planmap::repo::RepoSpec { url: super::fixture("spark"), ..Default::default() }, &planmap::repo::RepoPolicy::cli(), clones.path()).unwrap();
    let backends = Backends::connect(&BackendConfig::default()).await;
    let (ctx, caps) = planmap::repo::context::job_capabilities(&backends, &checkout, &[]).await.unwrap();
    let job = Job { runtime: &registry.runtime, snapshot: registry.snapshot(), graph: "default".into(), caps: Arc::new(caps), ctx: RunContext::default(), thresholds: Default::default(), parallel: 5, step_checkpoints: true, commit: ctx.commit.clone(), programs: None };
    let reported = Reported::default();
    let reference = mapping::map_plan_resumable(&job, &plan, &|_, _| {}, &Resume::default(), &capture(&reported)).await.unwrap();
    let walks: Vec<(String, SavedWalk)> = reported.into_inner().unwrap().into_iter().filter(|(_, p, w)| *p == Pass::First && w.steps == 2).map(|(n, _, w)| (n, w)).collect();
    assert!(!walks.is_empty());

    super::on_both(|store, backend| {
        let (walks, reference, plan_text) = (walks.clone(), reference.clone(), plan_text.clone());
        async move {
            let clones = tempfile::tempdir().unwrap();
            let r = super::runner(store.clone(), clones.path()).await;
            let id = store.submit(&super::new_job(&json!({"repoUrl": super::fixture("spark"), "plan": plan_text}), "h", None)).await.unwrap().job.id;
            for (node, walk) in &walks {
                store.checkpoint(&id, node, 11, &json!({"walk": walk})).await.unwrap();
            }
            let done = r.run_once().await.unwrap().unwrap();
            assert_eq!(done.status, "completed", "{backend}: {:?}", done.error);
            let resumed = store.events_after(&id, 0, 1000).await.unwrap().into_iter().find(|e| e.kind == "resumed").expect("a resumed event");
            assert_eq!(resumed.data["inGraph"].as_u64(), Some(walks.len() as u64), "{backend}");
            let got = store.mappings(&id, &Default::default()).await.unwrap().0;
            for m in &reference.mappings {
                let g = got.iter().find(|g| g["dagNodeId"] == m.dag_node_id.as_str()).expect("every node mapped");
                assert_eq!((g["status"].as_str(), g["mappedCode"]["lineStart"].as_u64()), (Some(m.status.as_str()), m.mapped_code.as_ref().map(|c| c.line_start as u64)), "{backend}: node {}", m.dag_node_id);
            }
            // Finished: no step state is left behind.
            assert!(store.checkpoints(&id).await.unwrap().iter().all(|c| c.pass < 10), "{backend}");
        }
    })
    .await;
}
