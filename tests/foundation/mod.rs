//! The foundation: sandbox, graph validation, live reload, CLI.

mod batching;
mod cli;
mod graph_validation;
mod reload;
mod sandbox;
