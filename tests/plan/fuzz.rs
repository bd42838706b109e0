//! A mutation fuzzer for the text parsers: real plans are cut, spliced, duplicated
//! and bit-flipped, and every parser must answer without panicking. The suite runs a
//! short pass; a long one runs with
//! `PLANMAP_FUZZ_SECS=600 cargo test --release --test integration fuzz -- --ignored`.

use super::*;
use std::time::{Duration, Instant};

/// A tiny deterministic PRNG (xorshift64*), so failures are reproducible by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for rel in [
        "shared/explain/tpcds-v1_4-spark-3.5.2/q3.explain.txt",
        "shared/explain/tpcds-v1_4-spark-3.5.2/q12.explain.txt",
        "shared/explain/derived-from-eventlogs/local-1776286786993.spark-4.1.0.exec6.aqe-final.formatted.txt",
        "shared/explain/derived-from-eventlogs/spark2-eventlog.spark-2.2.3.exec2.extended.txt",
        "generated/explain/window_rank_lag/simple.txt",
        "generated/explain/sql_subqueries/formatted.txt",
        "shared/query-profile/query-profile_01f078dc-e054-132c-9ea0-325160b677c7.json",
    ] {
        v.push(std::fs::read(fixture(rel)).unwrap());
    }
    v
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut d = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(6) {
        if d.is_empty() {
            break;
        }
        let i = rng.below(d.len());
        match rng.below(7) {
            0 => d.truncate(i),
            1 => d[i] ^= 1 << rng.below(8),
            2 => {
                let j = (i + rng.below(200)).min(d.len());
                let chunk = d[i..j].to_vec();
                let k = rng.below(d.len());
                d.splice(k..k, chunk);
            }
            3 => {
                let j = (i + rng.below(400)).min(d.len());
                d.drain(i..j);
            }
            4 => d.insert(i, b"()[]#,:-+* \n\t'`"[rng.below(15)]),
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let k = rng.below(other.len());
                d.extend_from_slice(&other[k..(k + rng.below(300)).min(other.len())]);
            }
            _ => {
                // Re-indent a line: tree structure is what the parser trusts most.
                if let Some(nl) = d[i..].iter().position(|b| *b == b'\n') {
                    let at = i + nl + 1;
                    for _ in 0..rng.below(7) {
                        d.insert(at.min(d.len()), b' ');
                    }
                }
            }
        }
    }
    d
}

fn run_for(limit: Duration, seed: u64) -> usize {
    let corpus = corpus();
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < limit {
        let input = mutate(&mut rng, &corpus);
        let r = std::panic::catch_unwind(|| {
            let _ = planmap::plan::parse(PlanInput::Bytes(std::sync::Arc::from(&input[..])), &ParseOptions::default());
            if let Ok(s) = std::str::from_utf8(&input) {
                let _ = planmap::plan::parse_text(s);
            }
        });
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("planmap-fuzz-crash-{seed}-{n}.txt"));
            std::fs::write(&path, &input).unwrap();
            panic!("parser panicked on input saved at {}", path.display());
        }
        n += 1;
    }
    n
}

#[test]
fn fuzz_the_text_parsers_briefly() {
    let n = run_for(Duration::from_secs(3), 0x5eed);
    assert!(n > 50, "only {n} inputs in 3 s");
}

#[test]
#[ignore = "long run: PLANMAP_FUZZ_SECS=600 cargo test --release --test integration fuzz -- --ignored"]
fn fuzz_the_text_parsers_for_long() {
    let secs: u64 = std::env::var("PLANMAP_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let seed: u64 = std::env::var("PLANMAP_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xdecaf);
    let n = run_for(Duration::from_secs(secs), seed);
    println!("fuzzed {n} inputs in {secs} s without a panic");
}
