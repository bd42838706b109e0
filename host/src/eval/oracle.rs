//! A scripted stand-in for a chat model, for measuring what model verification could
//! bring on a labelled dataset without a real model: an OpenAI-compatible endpoint on
//! loopback that answers the verifier's question from the labels, right with a chosen
//! probability (deterministic per case and node) and wrong otherwise. It reads only
//! what the verifier's prompt shows (node id, numbered `file:lines` candidates).

use super::{correct, Label};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The oracle's state: how often it is right, the labels of the case being run, and
/// how many questions it was asked.
pub struct Oracle {
    pub accuracy: f64,
    pub case: Mutex<(String, Vec<Label>)>,
    pub asked: Mutex<usize>,
}

/// A shown candidate as the prompt numbers it: (number, file, first line, last line).
type Shown = (usize, String, u32, u32);

/// Where the verifier's prompt names the node and the candidates.
fn parse_prompt(prompt: &str) -> (Option<String>, Vec<Shown>) {
    let node = prompt.lines().find_map(|l| l.strip_prefix("Plan node ")).and_then(|r| r.split_whitespace().next()).map(str::to_string);
    let mut cands = Vec::new();
    for l in prompt.lines() {
        let Some((num, rest)) = l.split_once(". ") else { continue };
        let Ok(n) = num.trim().parse::<usize>() else { continue };
        let Some(loc) = rest.split_whitespace().next() else { continue };
        let Some((file, lines)) = loc.rsplit_once(':') else { continue };
        let Some((a, b)) = lines.split_once('-') else { continue };
        if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
            cands.push((n, file.to_string(), a, b));
        }
    }
    (node, cands)
}

impl Oracle {
    /// The answer to one prompt: `{"choice": N, "reason": …}`.
    fn answer(&self, prompt: &str) -> String {
        *self.asked.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let (node, cands) = parse_prompt(prompt);
        let (case, labels) = self.case.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let label = node.as_ref().and_then(|n| labels.iter().find(|l| &l.node == n));
        let right: Vec<usize> = cands.iter().filter(|(_, f, a, b)| label.is_some_and(|l| correct(l, f, *a, *b))).map(|c| c.0).collect();
        let wrong: Vec<usize> = cands.iter().map(|c| c.0).filter(|n| !right.contains(n)).collect();
        let d = Sha256::digest(format!("{case}/{}", node.unwrap_or_default()).as_bytes());
        let roll = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) as f64 / u64::MAX as f64;
        let choice = if roll < self.accuracy { right.first().copied().unwrap_or(0) } else { wrong.first().copied().unwrap_or(0) };
        serde_json::json!({"choice": choice, "reason": "scripted oracle"}).to_string()
    }
}

/// Serve the oracle on a loopback port; its OpenAI-compatible base URL.
pub async fn serve(oracle: Arc<Oracle>) -> anyhow::Result<String> {
    async fn chat(axum::extract::State(o): axum::extract::State<Arc<Oracle>>, axum::Json(body): axum::Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
        let prompt = body["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or("");
        let text = o.answer(prompt);
        axum::Json(serde_json::json!({"id": "oracle", "object": "chat.completion", "created": 0, "model": "oracle", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": {"prompt_tokens": prompt.len() / 4, "completion_tokens": 12, "total_tokens": prompt.len() / 4 + 12}}))
    }
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat)).with_state(oracle);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_yields_the_node_and_numbered_candidates() {
        let (n, c) = parse_prompt("Plan node 12 `HashAggregate` (aggregate):\n  columns: a\n\nCandidates:\n1. etl/a.py:10-12 (aggregate in main)\n```\nx\n```\n2. etl/b.py:3-3 (select in f)\n");
        assert_eq!(n.as_deref(), Some("12"));
        assert_eq!(c, vec![(1, "etl/a.py".into(), 10, 12), (2, "etl/b.py".into(), 3, 3)]);
    }
}
