//! `planmap plugin inspect|list`.

use super::Common;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum PluginCmd {
    /// Show a component's world, contract version, exports, imports, size and digest.
    Inspect {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the plugins available to graphs (built-ins and the plugin folder).
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

fn print_info(i: &planmap_runtime::PluginInfo) {
    println!("name:     {}", i.name);
    println!("world:    {} (planmap:strategy@{})", i.kind, i.package_version);
    println!("digest:   {}", i.digest);
    println!("size:     {} bytes", i.size);
    println!("source:   {}", i.source);
    println!("load:     {:.1} ms ({})", i.load_ms, if i.cached { "compile cache" } else { "compiled" });
    println!("exports:  {}", i.exports.join(", "));
    println!("imports:");
    for imp in &i.imports {
        println!("  {imp}");
    }
}

pub async fn run(cmd: PluginCmd, common: &Common) -> anyhow::Result<ExitCode> {
    let runtime = crate::config::runtime(common.compile_cache.clone(), common.no_compile_cache)?;
    match cmd {
        PluginCmd::Inspect { file, format } => {
            let info = runtime.inspect(&file)?;
            match format {
                Format::Text => print_info(&info),
                Format::Json => println!("{}", serde_json::to_string_pretty(&info)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCmd::List { format } => {
            let (sources, errors) = crate::plugins::discover(Some(&common.plugins));
            let mut infos = Vec::new();
            let mut failed = false;
            for s in sources {
                match runtime.load(&s.name, &s.bytes, &s.origin) {
                    Ok(p) => infos.push(p.info),
                    Err(e) => {
                        failed = true;
                        eprintln!("error: {}: {e}", s.origin);
                    }
                }
            }
            for e in errors {
                failed = true;
                eprintln!("error: {e}");
            }
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&infos)?),
                Format::Text => {
                    println!("{:<22} {:<10} {:<8} {:>9}  {:<21} source", "name", "kind", "version", "bytes", "digest");
                    for i in &infos {
                        println!("{:<22} {:<10} {:<8} {:>9}  {:<21} {}", i.name, i.kind, i.package_version, i.size, &i.digest[..19], i.source);
                    }
                }
            }
            Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
