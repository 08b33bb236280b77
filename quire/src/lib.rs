//! The `quire` command: one binary for every role. `quire run` is API + worker + scheduler in
//! one process (the embedded default); `quire api|worker|scheduler` run one role each.

pub mod app;
mod cli;
mod client;

pub use app::{App, Roles};
pub use cli::main;
