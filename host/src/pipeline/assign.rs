//! Sticky A/B assignment: a stable hash of (salt, key) into the variants' weights, so
//! the same key always gets the same variant for a given salt, on every replica.

use crate::graph::Variant;
use sha2::{Digest, Sha256};

/// A uniform bucket in `0..total` for (salt, key). SHA-256 rather than a fast hash so
/// the assignment never changes with a Rust or crate upgrade.
pub fn bucket(salt: &str, key: &str, total: u64) -> u64 {
    let d = Sha256::digest(format!("{salt}\u{1f}{key}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b) % total.max(1)
}

/// The variant for (salt, key), or `None` when there are no positive weights.
pub fn assign<'a>(salt: &str, key: &str, variants: &'a [Variant]) -> Option<&'a Variant> {
    let total: u64 = variants.iter().map(|v| v.weight as u64).sum();
    if total == 0 {
        return None;
    }
    let mut b = bucket(salt, key, total);
    for v in variants {
        if b < v.weight as u64 {
            return Some(v);
        }
        b -= v.weight as u64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, weight: u32) -> Variant {
        Variant { name: name.into(), plugin: name.into(), weight, config: None, config_text: "{}".into() }
    }

    #[test]
    fn assignment_is_sticky_and_follows_weights() {
        let vs = [v("a", 90), v("b", 10)];
        assert_eq!(assign("s", "job-1", &vs).unwrap().name, assign("s", "job-1", &vs).unwrap().name);
        let n = 20_000;
        let a = (0..n).filter(|i| assign("s", &format!("job-{i}"), &vs).unwrap().name == "a").count();
        let share = a as f64 / n as f64;
        assert!((share - 0.9).abs() < 0.01, "share of a = {share}");
    }

    #[test]
    fn a_new_salt_reshuffles() {
        let vs = [v("a", 50), v("b", 50)];
        let moved = (0..1000).filter(|i| {
            let k = format!("k{i}");
            assign("s1", &k, &vs).unwrap().name != assign("s2", &k, &vs).unwrap().name
        }).count();
        assert!(moved > 350 && moved < 650, "moved {moved}");
    }
}
