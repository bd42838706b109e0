//! The `llm` capability against a local OpenAI-compatible fake server started by each
//! test (the one thing tests may fake): retries on 429 / 5xx honouring `Retry-After`,
//! no retry on validation errors, timeouts and malformed answers, the job budget, the
//! answer cache (real Redis), secrets kept out of prompts, and a plugin calling the
//! model through the sandbox.

use planmap::capabilities::llm::{Budget, JobLlm, LlmClient, LlmConfig, Outcome, Price, Request};
use planmap::capabilities::{Cache, MemoryCache};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One scripted reply of the fake server.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
    retry_after: Option<u64>,
}

fn ok(text: &str, prompt_tokens: u32, completion_tokens: u32) -> Reply {
    let body = json!({"id": "x", "object": "chat.completion", "created": 0, "model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}});
    Reply { status: 200, body: body.to_string(), delay: Duration::ZERO, retry_after: None }
}

fn status(code: u16) -> Reply {
    Reply { status: code, body: json!({"error": {"message": format!("scripted {code}")}}).to_string(), delay: Duration::ZERO, retry_after: None }
}

/// A fake chat-completions endpoint: replies from a script (then a default answer),
/// recording every request body and Authorization header.
struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<(Value, String)>>>,
}

async fn fake(script: Vec<Reply>) -> Fake {
    use axum::extract::State;
    use axum::http::HeaderMap;
    type Shared = (Arc<Mutex<VecDeque<Reply>>>, Arc<Mutex<Vec<(Value, String)>>>);
    async fn handle(State((script, seen)): State<Shared>, headers: HeaderMap, body: String) -> axum::response::Response {
        use axum::response::IntoResponse;
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        seen.lock().unwrap().push((serde_json::from_str(&body).unwrap_or(Value::Null), auth));
        let reply = script.lock().unwrap().pop_front().unwrap_or_else(|| ok("{\"choice\": 1, \"reason\": \"default\"}", 10, 5));
        tokio::time::sleep(reply.delay).await;
        let mut r = (axum::http::StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
        if let Some(s) = reply.retry_after {
            r.headers_mut().insert("retry-after", s.into());
        }
        r
    }
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(handle)).with_state((script.clone(), seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { base: format!("http://{addr}/v1"), seen }
}

fn client(base: &str, timeout: Duration, retries: u32) -> Arc<LlmClient> {
    let cfg = LlmConfig { base_url: base.into(), api_key: Some("sk-test-KEY-0123456789abcdefghij".into()), model: "fake-model".into(), timeout, max_retries: retries, price: Price { prompt: 1.0, completion: 1.0 } };
    Arc::new(LlmClient::new(cfg).unwrap())
}

fn request(prompt: &str) -> Request {
    Request { system: "You pick the code that produced a plan node.".into(), prompt: prompt.into(), max_tokens: 10, temperature: 0.0, json: true }
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_honouring_retry_after() {
    let f = fake(vec![Reply { retry_after: Some(1), ..status(429) }, status(503), ok("fine", 3, 2)]).await;
    let c = client(&f.base, Duration::from_secs(5), 4);
    let t = Instant::now();
    let a = c.complete(&request("hello")).await.unwrap();
    assert_eq!((a.text.as_str(), a.prompt_tokens, a.completion_tokens), ("fine", 3, 2));
    assert_eq!(f.seen.lock().unwrap().len(), 3);
    assert!(t.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured ({:?})", t.elapsed());
    let (body, auth) = f.seen.lock().unwrap()[0].clone();
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(auth, "Bearer sk-test-KEY-0123456789abcdefghij");
}

#[tokio::test]
async fn validation_errors_are_not_retried_and_failures_say_why() {
    let f = fake(vec![status(400)]).await;
    let e = client(&f.base, Duration::from_secs(5), 4).complete(&request("x")).await.unwrap_err().to_string();
    assert!(e.contains("400") && e.contains("scripted 400"), "{e}");
    assert_eq!(f.seen.lock().unwrap().len(), 1, "a 400 is not retried");

    let slow = Reply { delay: Duration::from_secs(3), ..ok("late", 1, 1) };
    let f = fake(vec![slow.clone(), slow]).await;
    let e = client(&f.base, Duration::from_secs(1), 1).complete(&request("x")).await.unwrap_err().to_string();
    assert!(e.contains("after 2 attempts") && e.contains("no answer within 1 s"), "{e}");

    let f = fake(vec![Reply { status: 200, body: "this is not json".into(), delay: Duration::ZERO, retry_after: None }]).await;
    let e = client(&f.base, Duration::from_secs(5), 4).complete(&request("x")).await.unwrap_err().to_string();
    assert!(e.contains("not a chat completion"), "{e}");
    let f = fake(vec![Reply { status: 200, body: json!({"choices": []}).to_string(), delay: Duration::ZERO, retry_after: None }]).await;
    assert!(client(&f.base, Duration::from_secs(5), 0).complete(&request("x")).await.is_err());
}

#[tokio::test]
async fn the_budget_stops_calls_and_repeats_come_from_the_cache() {
    let redis = crate::support::services::redis();
    let cache: Arc<dyn Cache> = Arc::new(planmap::capabilities::redis_cache::RedisCache::connect(&redis.url).await.unwrap());
    let f = fake(vec![ok("a", 10, 10), ok("b", 10, 10), ok("c", 10, 10)]).await;
    // $0.001 per token: a call of 10 + 10 tokens costs $0.02; a call is estimated at
    // about $0.03 (its ~80 characters / 4 plus its whole max_tokens of 10).
    let budget = Arc::new(Budget::new(0.065, 0.0));
    // Unique per run: the Redis cache outlives the test.
    let unique = format!("{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let job = JobLlm { client: client(&f.base, Duration::from_secs(5), 0), budget: budget.clone(), secrets: vec![], cache };
    let first = job.complete(request(&format!("node 1 {unique}"))).await;
    assert!(matches!(first, Outcome::Answer { cached: false, .. }));
    let again = job.complete(request(&format!("node 1 {unique}"))).await;
    match again {
        Outcome::Answer { answer, cached } => assert!(cached && answer.text == "a"),
        _ => panic!("a repeat is answered from the cache"),
    }
    assert_eq!(f.seen.lock().unwrap().len(), 1, "the repeat did not reach the model");
    assert!(matches!(job.complete(request(&format!("node 2 {unique}"))).await, Outcome::Answer { cached: false, .. }));
    match job.complete(request(&format!("node 3 {unique}"))).await {
        Outcome::OverBudget { spent, estimate, limit } => assert!(spent + estimate > limit && (spent - 0.04).abs() < 1e-9 && limit == 0.065, "{spent} {estimate} {limit}"),
        _ => panic!("the third paid call would exceed the budget"),
    }
    let sp = budget.spend();
    assert!(sp.exhausted && sp.calls == 2 && sp.cache_hits == 1 && (sp.usd - 0.04).abs() < 1e-9, "{sp:?}");
    assert_eq!(f.seen.lock().unwrap().len(), 2, "the refused call never reached the model");
    // A resumed job carries its earlier spending.
    assert!(matches!(
        JobLlm { client: client(&f.base, Duration::from_secs(5), 0), budget: Arc::new(Budget::new(0.05, 0.04)), secrets: vec![], cache: Arc::new(MemoryCache::new()) }.complete(request("other")).await,
        Outcome::OverBudget { .. }
    ));
}

#[tokio::test]
async fn secrets_never_reach_the_model() {
    let f = fake(vec![]).await;
    let token = "repo-token-value-0123456789".to_string();
    let job = JobLlm { client: client(&f.base, Duration::from_secs(5), 0), budget: Arc::new(Budget::new(10.0, 0.0)), secrets: vec![token.clone()], cache: Arc::new(MemoryCache::new()) };
    let prompt = format!("df = spark.read.load('s3://bucket/x')  # token {token}\nGITHUB = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'\npassword = 'hunter2hunter2'");
    assert!(matches!(job.complete(request(&prompt)).await, Outcome::Answer { .. }));
    let (body, _) = f.seen.lock().unwrap()[0].clone();
    let sent = body.to_string();
    for secret in [token.as_str(), "ghp_abcdefghij", "hunter2hunter2", "sk-test-KEY"] {
        assert!(!sent.contains(secret), "{secret} was sent to the model: {sent}");
    }
    assert!(sent.contains("spark.read.load"), "the rest of the prompt is intact");
}

#[tokio::test]
async fn a_plugin_reaches_the_model_through_the_sandbox_only_when_granted() {
    use crate::support::*;
    use planmap::pipeline::{run_node, RunContext};
    use planmap::runtime::wit::Family;
    let f = fake(vec![ok("verified", 5, 1)]).await;
    let graph = |grant: &str| {
        format!("entry = \"retrieve\"\n[nodes.retrieve]\nkind = \"retriever\"\nplugin = \"lexical-retriever\"\ncapabilities = [\"code-search\"]\n[nodes.score]\nkind = \"scorer\"\nplugin = \"test-scorer\"\n{grant}\n[nodes.score.config]\nmode = \"llm\"\n[[edges]]\nfrom = \"retrieve\"\nto = \"score\"\n[[edges]]\nfrom = \"score\"\nto = \"finish\"\n")
    };
    let (_dir, reg) = registry_with_graphs(runtime(), &[("t", &graph("capabilities = [\"llm\"]")), ("u", &graph(""))]);
    let snap = reg.snapshot();
    let sites = vec![site(0, "join", "a.py", 1, &["id"])];
    let job = Arc::new(JobLlm { client: client(&f.base, Duration::from_secs(5), 0), budget: Arc::new(Budget::new(1.0, 0.0)), secrets: vec![], cache: Arc::new(MemoryCache::new()) });
    let caps = |j: Option<Arc<JobLlm>>| -> Arc<dyn planmap::runtime::Capabilities> {
        let c = planmap::capabilities::JobCapabilities::new(Arc::new(planmap::capabilities::MemoryIndex::build(sites.clone().into_iter().map(entry).collect(), &[])), Arc::new(MemoryCache::new()));
        Arc::new(c.with_llm(j))
    };
    let node = || plan_node("1", "SortMergeJoin", Family::Join, &["id"]);
    let out = run_node(&reg.runtime, &snap, &snap.graph("t").unwrap(), node(), caps(Some(job.clone())), &RunContext::default()).await;
    assert_eq!(out.candidates[0].explanation(), "llm answered: verified");
    let denied = run_node(&reg.runtime, &snap, &snap.graph("u").unwrap(), node(), caps(Some(job)), &RunContext::default()).await;
    assert!(denied.candidates[0].explanation().contains("Denied"), "{}", denied.candidates[0].explanation());
    let off = run_node(&reg.runtime, &snap, &snap.graph("t").unwrap(), node(), caps(None), &RunContext::default()).await;
    assert!(off.candidates[0].explanation().contains("Unavailable"), "{}", off.candidates[0].explanation());
    assert_eq!(f.seen.lock().unwrap().len(), 1, "only the granted, configured call reached the model");
}

/// Run retrieve -> match -> (chaos scorer, every candidate at 0.6) -> llm-verifier on
/// one node against a fake model; the candidates as the verifier left them.
async fn verified(reply: Reply, final_pass: bool) -> (Vec<(u32, f64, String)>, usize) {
    use crate::support::*;
    use planmap::pipeline::{run_node, RunContext};
    use planmap::runtime::model::PlanFile;
    use planmap::runtime::wit::Family;
    let f = fake(vec![reply]).await;
    let g = "entry = \"retrieve\"\n[nodes.retrieve]\nkind = \"retriever\"\nplugin = \"lexical-retriever\"\ncapabilities = [\"code-search\"]\n\
             [nodes.score]\nkind = \"scorer\"\nplugin = \"test-scorer\"\n[nodes.score.config]\nmode = \"ok\"\nconfidence = 0.6\n\
             [nodes.verify]\nkind = \"scorer\"\nplugin = \"llm-verifier\"\ncapabilities = [\"llm\", \"code-search\"]\n\
             [[edges]]\nfrom = \"retrieve\"\nto = \"score\"\n[[edges]]\nfrom = \"score\"\nto = \"verify\"\n[[edges]]\nfrom = \"verify\"\nto = \"finish\"\n";
    let (_dir, reg) = registry_with_graphs(runtime(), &[("v", g)]);
    let snap = reg.snapshot();
    let sites = vec![site(0, "join", "etl/a.py", 10, &["id"]), site(1, "join", "etl/b.py", 20, &["id"]), site(2, "join", "etl/c.py", 30, &["id"])];
    let job = Arc::new(JobLlm { client: client(&f.base, Duration::from_secs(5), 0), budget: Arc::new(Budget::new(1.0, 0.0)), secrets: vec![], cache: Arc::new(MemoryCache::new()) });
    let caps = planmap::capabilities::JobCapabilities::new(Arc::new(planmap::capabilities::MemoryIndex::build(sites.into_iter().map(entry).collect(), &[])), Arc::new(MemoryCache::new())).with_llm(Some(job));
    let mut node = plan_node("4", "SortMergeJoin", Family::Join, &["id"]);
    if final_pass {
        node.plan_files = vec![PlanFile { file: "etl/a.py".into(), share: 1.0 }];
    }
    let out = run_node(&reg.runtime, &snap, &snap.graph("v").unwrap(), node, Arc::new(caps), &RunContext::default()).await;
    assert!(out.error.is_none(), "{:?}", out.error);
    let asked = f.seen.lock().unwrap().len();
    (out.candidates.iter().map(|c| (c.site.id, c.confidence(), c.explanation().to_string())).collect(), asked)
}

#[tokio::test]
async fn the_verifier_promotes_the_model_s_choice_and_ignores_invented_ones() {
    // The model picks the second candidate shown: it becomes first, more confident.
    let (before, _) = verified(ok("{\"choice\": 0, \"reason\": \"x\"}", 1, 1), false).await;
    let second = before[1].0;
    let (after, asked) = verified(ok("{\"choice\": 2, \"reason\": \"the join on id is in b.py\"}", 50, 10), true).await;
    assert_eq!(asked, 1);
    assert_eq!(after[0].0, second, "{after:?}");
    assert!(after[0].1 > 0.6 && after[1].1 < 0.6, "{after:?}");
    assert!(after[0].2.contains("the model chose this site: the join on id is in b.py"), "{}", after[0].2);
    // Hallucinations (a candidate that was not shown) and broken answers change nothing.
    for bad in ["{\"choice\": 9, \"reason\": \"made up\"}", "{\"pick\": 1}", "I think it is the second one"] {
        let (same, asked) = verified(ok(bad, 50, 10), true).await;
        assert_eq!(asked, 1);
        assert!(same.iter().all(|c| (c.1 - 0.6).abs() < 1e-9), "{bad}: {same:?}");
        assert!(same.iter().all(|c| !c.2.contains("the model")), "{bad}: {same:?}");
    }
    // A first-pass node (no plan context yet) is not sent: the final pass asks once.
    let (_, asked) = verified(ok("{\"choice\": 1, \"reason\": \"x\"}", 1, 1), false).await;
    assert_eq!(asked, 0);
}

#[tokio::test]
async fn the_verification_edge_goes_to_the_model_when_there_is_one_and_widens_otherwise() {
    use crate::support::*;
    use planmap::pipeline::{run_node, RunContext};
    use planmap::runtime::model::PlanFile;
    use planmap::runtime::wit::Family;
    // The default graph's routing, with a scorer that leaves every candidate uncertain.
    let g = "entry = \"retrieve\"\nmax_visits = 2\n[nodes.retrieve]\nkind = \"retriever\"\nplugin = \"lexical-retriever\"\ncapabilities = [\"code-search\"]\n\
             [nodes.score]\nkind = \"scorer\"\nplugin = \"test-scorer\"\n[nodes.score.config]\nmode = \"ok\"\nconfidence = 0.6\n\
             [nodes.route]\nkind = \"router\"\nplugin = \"threshold-router\"\n\
             [nodes.verify]\nkind = \"scorer\"\nplugin = \"llm-verifier\"\ncapabilities = [\"llm\", \"code-search\"]\n\
             [[edges]]\nfrom = \"retrieve\"\nto = \"score\"\n[[edges]]\nfrom = \"score\"\nto = \"route\"\n\
             [[edges]]\nfrom = \"route\"\non = \"accept\"\nto = \"finish\"\n[[edges]]\nfrom = \"route\"\non = \"reject\"\nto = \"unmapped\"\n\
             [[edges]]\nfrom = \"route\"\non = \"verify\"\nwhen = \"llm\"\nto = \"verify\"\n[[edges]]\nfrom = \"route\"\non = \"verify\"\nto = \"retrieve\"\n\
             [[edges]]\nfrom = \"route\"\non = \"settle\"\nto = \"finish\"\n[[edges]]\nfrom = \"verify\"\nto = \"finish\"\n";
    let (_dir, reg) = registry_with_graphs(runtime(), &[("v", g)]);
    let snap = reg.snapshot();
    let graph = snap.graph("v").unwrap();
    let f = fake(vec![ok("{\"choice\": 1, \"reason\": \"the join on id\"}", 50, 10)]).await;
    let sites = vec![site(0, "join", "etl/a.py", 10, &["id"]), site(1, "join", "etl/b.py", 20, &["id"])];
    let caps = |budget: Option<Budget>| -> Arc<dyn planmap::runtime::Capabilities> {
        let job = budget.map(|b| Arc::new(JobLlm { client: client(&f.base, Duration::from_secs(5), 0), budget: Arc::new(b), secrets: vec![], cache: Arc::new(MemoryCache::new()) }));
        let c = planmap::capabilities::JobCapabilities::new(Arc::new(planmap::capabilities::MemoryIndex::build(sites.clone().into_iter().map(entry).collect(), &[])), Arc::new(MemoryCache::new()));
        Arc::new(c.with_llm(job))
    };
    let mut node = plan_node("4", "SortMergeJoin", Family::Join, &["id"]);
    node.plan_files = vec![PlanFile { file: "etl/a.py".into(), share: 1.0 }];
    let path = |out: &planmap::pipeline::NodeOutcome| out.steps.iter().map(|s| s.graph_node.as_str()).collect::<Vec<_>>().join(">");

    let with_model = run_node(&reg.runtime, &snap, &graph, node.clone(), caps(Some(Budget::new(1.0, 0.0))), &RunContext::default()).await;
    assert_eq!(path(&with_model), "retrieve>score>route>verify", "the uncertain node went to the model, not to a wider pass");
    assert_eq!(f.seen.lock().unwrap().len(), 1);
    assert!(with_model.candidates[0].confidence() > 0.8, "{}", with_model.candidates[0].confidence());

    let without = run_node(&reg.runtime, &snap, &graph, node.clone(), caps(None), &RunContext::default()).await;
    assert_eq!(path(&without), "retrieve>score>route>retrieve>score>route", "no model: a wider pass, then settle");
    let spent = run_node(&reg.runtime, &snap, &graph, node, caps(Some(Budget::new(0.5, 0.5))), &RunContext::default()).await;
    assert_eq!(path(&spent), "retrieve>score>route>retrieve>score>route", "a spent budget counts as no model");
    assert_eq!(f.seen.lock().unwrap().len(), 1, "only the first run asked the model");
}
