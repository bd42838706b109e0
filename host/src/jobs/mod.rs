//! Durable jobs: the store that keeps submitted jobs, their leases, progress events,
//! per-node checkpoints and results (Postgres, or SQLite for the embedded default).

pub mod store;

pub use store::{Checkpoint, Event, Finish, JobRow, Store, StoreError, Submitted};
