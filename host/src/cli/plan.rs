//! `planmap plan show|list`.

use super::Common;
use crate::plan::{self, ParseOptions, PlanFormat, PlanInput};
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum PlanCmd {
    /// Print the normalised plan: id, operator, family, owned/induced(cause), semantics.
    Show {
        /// Plan file (EXPLAIN text, event log file or folder, REST JSON, query profile, DAG list).
        file: PathBuf,
        /// Which SQL execution of an event log or REST listing (default: most nodes).
        #[arg(long)]
        execution: Option<i64>,
        /// Skip format detection.
        #[arg(long, value_enum)]
        plan_format: Option<PlanFormat>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the SQL executions of an event log: id, description, call site, node count.
    List { file: PathBuf },
}

pub async fn run(cmd: PlanCmd, _common: &Common) -> anyhow::Result<ExitCode> {
    match cmd {
        PlanCmd::Show { file, execution, plan_format, format } => {
            let opts = ParseOptions { format: plan_format, execution };
            let plan = tokio::task::spawn_blocking(move || plan::parse(PlanInput::Path(&file), &opts).map_err(|e| super::plan_error(&file, e))).await??;
            match format {
                Format::Text => print!("{}", plan::render::text(&plan)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        PlanCmd::List { file } => {
            let f = file.clone();
            let execs = tokio::task::spawn_blocking(move || plan::list_executions(&f)).await?.map_err(|e| super::plan_error(&file, e))?;
            println!("{:>5} {:>6} {:>7}  {:<40} call site", "id", "nodes", "updates", "description");
            for e in execs {
                let d: String = e.description.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(40).collect();
                println!("{:>5} {:>6} {:>7}  {:<40} {}", e.id, e.nodes, e.updates, d, e.call_site);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
