//! Workflows: the list, and one workflow drawn as its graph (server-rendered SVG: a column
//! per layer, a box per step coloured by its status, an arrow per edge), refreshed from the
//! event stream as its steps move.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use shared::db::WorkflowRow;

use super::manage::CursorForm;
use super::session::Operator;
use super::{DashError, live_after, page};
use crate::extract::{ApiQuery, Mine, Owned};
use crate::paging::{Listing, PageQuery};
use crate::routes::workflows::{StepView, WorkflowQuery};
use crate::state::AppState;
use crate::waiting::WaitQuery;

/// A box's size and the gaps between boxes, in SVG units.
const BOX_W: usize = 180;
const BOX_H: usize = 54;
const GAP_X: usize = 70;
const GAP_Y: usize = 22;
const MARGIN: usize = 10;

pub async fn list(
    op: Operator,
    State(state): State<AppState>,
    Query(form): Query<CursorForm>,
) -> Result<Response, DashError> {
    let live = live_after(&state, "/dashboard/events").await?;
    let listing = Listing {
        state: state.clone(),
        caller: op.caller.clone(),
        filter: WorkflowQuery {
            status: None,
            since: None,
            until: None,
        },
        page: PageQuery {
            limit: Some(50),
            cursor: form.cursor.filter(|c| !c.is_empty()),
        },
    };
    let page_of = crate::routes::workflows::list(listing).await?.0;
    Ok(page(
        "workflows.html",
        Some(&op),
        "workflows",
        context! {
            workflows => page_of.workflows,
            next_url => page_of.next_cursor.map(|c| format!("/dashboard/workflows?cursor={c}")),
            live,
        },
    ))
}

pub async fn show(
    op: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let id = crate::views::parse_id(&id)?;
    let live = live_after(&state, &format!("/dashboard/events?workflow={id}")).await?;
    let row = WorkflowRow::find(&state, &op.caller, &id.to_string()).await?;
    let mine = Mine {
        state: state.clone(),
        caller: op.caller.clone(),
        row,
    };
    let view = crate::routes::workflows::get(mine, ApiQuery(WaitQuery { wait: None }))
        .await?
        .0;
    let graph = layout(view.steps.as_deref().unwrap_or_default());
    Ok(page(
        "workflow.html",
        Some(&op),
        "workflows",
        context! { workflow => view, graph, live },
    ))
}

/// The drawing: boxes and arrows with their coordinates.
#[derive(Debug, Serialize)]
struct Drawing {
    width: usize,
    height: usize,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

#[derive(Debug, Serialize)]
struct Node {
    x: usize,
    y: usize,
    name: String,
    kind: String,
    status: String,
    /// `3/1000 ok` for a batch step; the job's status otherwise.
    label: String,
    href: Option<String>,
}

#[derive(Debug, Serialize)]
struct Edge {
    x1: usize,
    y1: usize,
    x2: usize,
    y2: usize,
}

/// Layers by longest path from a root (the steps' graph is acyclic: the API refused cycles),
/// boxes stacked in each layer in submission order.
fn layout(steps: &[StepView]) -> Drawing {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut layer = vec![0usize; steps.len()];
    // At most one pass per layer; the graph's depth is bounded by `workflows.max_depth`.
    for _ in 0..steps.len() {
        let mut moved = false;
        for (i, s) in steps.iter().enumerate() {
            for parent in &s.after {
                if let Some(&p) = index.get(parent.as_str())
                    && layer[i] < layer[p] + 1
                {
                    layer[i] = layer[p] + 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let mut rows = vec![0usize; steps.len()];
    let mut filled: HashMap<usize, usize> = HashMap::new();
    for (i, l) in layer.iter().enumerate() {
        let n = filled.entry(*l).or_default();
        rows[i] = *n;
        *n += 1;
    }
    let at = |i: usize| {
        (
            MARGIN + layer[i] * (BOX_W + GAP_X),
            MARGIN + rows[i] * (BOX_H + GAP_Y),
        )
    };
    let nodes = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (x, y) = at(i);
            let label = if s.kind == "batch" {
                let ok = s.counts.get("succeeded").copied().unwrap_or(0);
                format!("{ok}/{} succeeded", s.jobs)
            } else {
                s.status.clone()
            };
            Node {
                x,
                y,
                name: s.name.clone(),
                kind: s.kind.clone(),
                status: s.status.clone(),
                label,
                href: s.job.as_ref().map(|j| format!("/dashboard/jobs/{}", j.id)),
            }
        })
        .collect();
    let mut edges = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        for parent in &s.after {
            if let Some(&p) = index.get(parent.as_str()) {
                let ((px, py), (cx, cy)) = (at(p), at(i));
                edges.push(Edge {
                    x1: px + BOX_W,
                    y1: py + BOX_H / 2,
                    x2: cx,
                    y2: cy + BOX_H / 2,
                });
            }
        }
    }
    let layers = layer.iter().max().map_or(0, |m| m + 1);
    let tallest = filled.values().max().copied().unwrap_or(0);
    Drawing {
        width: 2 * MARGIN + layers * BOX_W + layers.saturating_sub(1) * GAP_X,
        height: 2 * MARGIN + tallest * BOX_H + tallest.saturating_sub(1) * GAP_Y,
        nodes,
        edges,
    }
}
