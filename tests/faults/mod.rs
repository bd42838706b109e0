//! The fault suite: each way the service was once broken on purpose, reproduced, and
//! the fix asserted — a database outage longer than the lease with two replicas
//! (`outage`), hostile repository URLs (`urls`), a burst of large submissions
//! (`memory`), hundreds of event streams (`streams`), a Redis killed under load
//! (`redis`), a shutdown with a job and a stream in hand (`shutdown`).

mod memory;
mod outage;
mod redis;
mod shutdown;
mod streams;
mod urls;
