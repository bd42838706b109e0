//! Plan nodes into the contract's form, with their neighbours.

use crate::plan::{Family, Ownership, Plan, PlanNode};
use planmap_runtime::wit::Relation;
use planmap_runtime::{model, wit};
use std::collections::HashMap;

/// Longest node text handed to plugins.
const MAX_FRAGMENT: usize = 2000;

fn family(f: Family) -> wit::Family {
    match f {
        Family::Scan => wit::Family::Scan,
        Family::Filter => wit::Family::Filter,
        Family::Project => wit::Family::Project,
        Family::Join => wit::Family::Join,
        Family::Aggregate => wit::Family::Aggregate,
        Family::Exchange => wit::Family::Exchange,
        Family::Sort => wit::Family::Sort,
        Family::Window => wit::Family::Window,
        Family::Limit => wit::Family::Limit,
        Family::Union => wit::Family::Union,
        Family::Expand => wit::Family::Expand,
        Family::Generate => wit::Family::Generate,
        Family::PythonUdf => wit::Family::PythonUdf,
        Family::Write => wit::Family::Write,
        Family::Subquery => wit::Family::Subquery,
        Family::Infrastructure => wit::Family::Infrastructure,
        Family::Other => wit::Family::Other,
    }
}

fn neighbour(plan: &Plan, id: &str, relation: Relation) -> Option<model::Neighbour> {
    let n = plan.node(id)?;
    Some(model::Neighbour { id: n.id.clone(), operator: n.operator.clone(), family: family(n.family), relation, mapped: None, mapped_site: None })
}

/// Where owned nodes were mapped by an earlier pass (location and site id by node id),
/// with the per-file tally counted once for the whole pass.
pub struct Known {
    at: HashMap<String, (model::Location, u32)>,
    votes: HashMap<String, usize>,
}

impl Known {
    pub fn new(at: HashMap<String, (model::Location, u32)>) -> Known {
        let mut votes: HashMap<String, usize> = HashMap::new();
        for (loc, _) in at.values() {
            *votes.entry(loc.file.clone()).or_default() += 1;
        }
        Known { at, votes }
    }

    /// The files the other known nodes mapped to, with their shares, most first.
    fn plan_files(&self, own: &str) -> Vec<model::PlanFile> {
        let own_file = self.at.get(own).map(|(loc, _)| loc.file.as_str());
        let total = self.at.len() - usize::from(own_file.is_some());
        let mut files: Vec<model::PlanFile> = self
            .votes
            .iter()
            .map(|(f, v)| (f, v - usize::from(own_file == Some(f.as_str()))))
            .filter(|(_, v)| *v > 0)
            .map(|(f, v)| model::PlanFile { file: f.clone(), share: v as f64 / total.max(1) as f64 })
            .collect();
        files.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.file.cmp(&b.file)));
        files.truncate(MAX_PLAN_FILES);
        files
    }
}

/// At most this many files are passed: past the first few, shares are noise.
const MAX_PLAN_FILES: usize = 8;

/// The nearest code-owned nodes around `n`: the first owned ancestor and the first
/// owned node down each child path, looking through shuffles, sorts and adapters.
pub(crate) fn owned_around(plan: &Plan, n: &PlanNode) -> (Option<String>, Vec<String>) {
    let owned = |id: &str| plan.node(id).is_some_and(|x| x.ownership == Ownership::Owned);
    let mut up = n.parent.clone();
    while let Some(id) = up.clone() {
        if owned(&id) {
            break;
        }
        up = plan.node(&id).and_then(|x| x.parent.clone());
    }
    let mut down = Vec::new();
    let mut stack: Vec<String> = n.children.iter().rev().cloned().collect();
    while let Some(id) = stack.pop() {
        if owned(&id) {
            down.push(id);
        } else if let Some(x) = plan.node(&id) {
            stack.extend(x.children.iter().rev().cloned());
        }
    }
    (up, down)
}

/// The plan node `n` as the plugins get it. With `known` (an earlier pass's answers), the nearest
/// code-owned neighbours are added with where they were mapped.
pub fn for_plugins(plan: &Plan, n: &PlanNode, known: Option<&Known>) -> model::PlanNode {
    let mut neighbours: Vec<model::Neighbour> = Vec::new();
    if let Some(p) = &n.parent {
        neighbours.extend(neighbour(plan, p, Relation::Parent));
    }
    for c in &n.children {
        neighbours.extend(neighbour(plan, c, Relation::Child));
    }
    if let Some(r) = &n.reuses {
        neighbours.extend(neighbour(plan, r, Relation::Reuses));
    }
    if let Some(known) = known {
        let (up, down) = owned_around(plan, n);
        for (id, relation) in up.into_iter().map(|u| (u, Relation::Parent)).chain(down.into_iter().map(|d| (d, Relation::Child))) {
            let Some((loc, site)) = known.at.get(&id) else { continue };
            match neighbours.iter_mut().find(|x| x.id == id) {
                Some(x) => {
                    x.mapped = Some(loc.clone());
                    x.mapped_site = Some(*site);
                }
                None => {
                    if let Some(mut x) = neighbour(plan, &id, relation) {
                        x.mapped = Some(loc.clone());
                        x.mapped_site = Some(*site);
                        neighbours.push(x);
                    }
                }
            }
        }
    }
    let mut fragment = n.fragment.clone();
    crate::text::truncate(&mut fragment, MAX_FRAGMENT, "");
    let plan_files = known.map(|k| k.plan_files(&n.id)).unwrap_or_default();
    model::PlanNode {
        plan_files,
        id: n.id.clone(),
        operator: n.operator.clone(),
        family: family(n.family),
        induced: match &n.ownership {
            Ownership::Induced { by, reason } => Some(model::InducedBy { node_id: by.clone(), reason: reason.clone() }),
            _ => None,
        },
        semantics: n.semantics.clone(),
        neighbours,
        fragment,
    }
}
