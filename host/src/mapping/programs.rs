//! A node's answer in the light of program resolution: the chosen program's answer
//! holds with the weight of the programs that agree on that place, and rival programs
//! that put the node elsewhere become alternatives, with the reason said.

use super::{lines, Alternative, EvidenceOut, Mapping, Thresholds, MAX_ALTERNATIVES};
use crate::program::Resolution;
use std::collections::HashMap;

fn overlaps(a: &super::MappedCode, file: &str, start: u32, end: u32) -> bool {
    a.file == file && a.line_start <= end && start <= a.line_end
}

/// Adjust `m` (a code-owned node's final answer in the chosen program) by what the
/// rivals answered for the same node (`rivals[i]` is `res.programs[i + 1]`'s).
pub fn merge(m: &mut Mapping, res: &Resolution, rivals: &[HashMap<String, Mapping>], t: Thresholds) {
    let Some(chosen) = res.chosen() else { return };
    let Some(code) = m.mapped_code.clone() else { return };
    let answer_of = |i: usize| rivals.get(i - 1).and_then(|r| r.get(&m.dag_node_id)).and_then(|r| r.mapped_code.clone().map(|c| (c, r.confidence)));
    let same = |i: usize| answer_of(i).is_some_and(|(c, _)| overlaps(&code, &c.file, c.line_start, c.line_end));
    let factor = res.agreement(same);
    let total: f64 = res.programs.iter().map(|p| p.weight).sum::<f64>().max(1e-9);
    let mut alts: Vec<Alternative> = Vec::new();
    for i in 1..=res.rivals {
        let rival = &res.programs[i];
        let Some((c, conf)) = answer_of(i) else { continue };
        if same(i) {
            continue;
        }
        alts.push(Alternative {
            file: c.file.clone(),
            symbol: c.symbol.clone(),
            lines: lines(c.line_start, c.line_end),
            line_start: c.line_start,
            line_end: c.line_end,
            confidence: conf * rival.weight / total,
            reasoning: format!(
                "the same operation in another program, {} (it explains {:.0}% of the plan, {} {:.0}%)",
                rival.entry,
                rival.score * 100.0,
                chosen.entry,
                chosen.score * 100.0
            ),
        });
    }
    let before = m.confidence;
    m.confidence *= factor;
    if !alts.is_empty() {
        // The chosen program's other candidates hold only as far as that program does.
        let share = chosen.weight / total;
        for a in &mut m.alternatives {
            a.confidence *= share;
        }
        let names: Vec<&str> = alts.iter().map(|a| a.file.as_str()).collect();
        m.explanation = format!("{}; other programs explain the plan about as well and put it at {} — the repository holds this query more than once", m.explanation, names.join(", "));
        m.evidence.push(EvidenceOut { signal: "program".into(), weight: factor - 1.0, detail: format!("{} explains {:.0}% of the plan; {} rival program(s) explain it about as well", chosen.entry, chosen.score * 100.0, alts.len()) });
        alts.append(&mut m.alternatives);
        alts.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        alts.truncate(MAX_ALTERNATIVES);
        m.alternatives = alts;
    } else {
        m.evidence.push(EvidenceOut { signal: "program".into(), weight: 0.0, detail: format!("in {}, the program that explains the plan best ({:.0}%)", chosen.entry, chosen.score * 100.0) });
    }
    if m.confidence < before {
        // A place the rivals dispute is still a place: at worst uncertain, never gone.
        m.status = super::located_status(m.confidence, t).into();
    }
}
