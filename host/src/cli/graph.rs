//! `planmap graph validate|show`.

use super::Common;
use crate::graph::{self, render, RenderFormat};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum GraphCmd {
    /// Check graph files against the available plugins; prints every error, exit 1 if any.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Render a graph.
    Show {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: RenderFormat,
    },
}

pub async fn run(cmd: GraphCmd, common: &Common) -> anyhow::Result<ExitCode> {
    let (_rt, kinds, plugin_errors) = super::plugin_kinds(common)?;
    for e in &plugin_errors {
        eprintln!("warning: {e}");
    }
    match cmd {
        GraphCmd::Validate { files } => {
            let mut failed = 0;
            for f in &files {
                match graph::load_file(f, &kinds) {
                    Ok(g) => println!("{}: ok (graph '{}', {} nodes, version {})", f.display(), g.name, g.nodes.len(), g.version),
                    Err(errors) => {
                        failed += 1;
                        for e in errors {
                            println!("{e}");
                        }
                    }
                }
            }
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        GraphCmd::Show { file, format } => match graph::load_file(&file, &kinds) {
            Ok(g) => {
                print!("{}", render(&g, format));
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                Ok(ExitCode::FAILURE)
            }
        },
    }
}
