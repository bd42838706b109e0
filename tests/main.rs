//! planmap's integration tests, in one binary (one link on a small machine) with a
//! module per area. Each test names the behaviour it proves.

mod cost;
mod deploy;
mod faults;
mod foundation;
mod jobs;
mod llm;
mod mapping;
mod plan;
mod repo;
mod service;
mod support;
