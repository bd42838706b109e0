//! `planmap serve` as users run it: real processes, real HTTP, real Postgres, SQLite
//! and Redis.

mod ab;
mod api;
mod python_client;
mod replicas;
pub mod server;
