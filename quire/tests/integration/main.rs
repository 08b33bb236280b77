//! One integration-test binary (one link of typst instead of many). Each test starts the real
//! application on port 0 against a fresh database: a temporary SQLite data directory for the
//! embedded default, or a new PostgreSQL database and a random Redis namespace for production.
//! Tests wait on job state, never on fixed sleeps.

mod auth;
mod caching;
mod cancel;
mod cdn;
mod cli;
mod client;
mod cost;
mod credentials;
mod dashboard;
mod email_limits;
mod events;
mod fairness;
mod faults;
mod finished_jobs;
mod hardening;
mod helpers;
mod lifecycle;
mod limits;
mod long_lived;
mod mail;
mod metrics;
mod openapi;
mod operators;
mod outage;
mod overload;
mod pdf;
mod processes;
mod receiver;
mod redis_ha;
mod registry;
mod reports;
mod sandbox;
mod schedules;
mod security;
mod signing;
mod standards;
mod storage;
mod templates;
mod traces;
mod validation;
mod waiting;
mod webhooks;
mod workflows;
