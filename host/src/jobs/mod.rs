//! Durable jobs: the store that keeps submitted jobs, their leases, progress events,
//! per-node checkpoints and results (Postgres, or SQLite for the embedded default), and
//! the runner that executes leased jobs.

pub mod experiments;
pub mod runner;
pub mod store;

pub use runner::{JobSpec, Runner, Tokens};
pub use store::{Checkpoint, Event, Finish, JobRow, Store, StoreError, Submitted};
