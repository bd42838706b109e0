//! `planmap serve` as users run it: real processes, real HTTP, real Postgres, SQLite
//! and Redis.

mod ab;
mod api;
mod replicas;
pub mod server;
