//! The scenarios. Each configures its lab, starts real `quire` processes, injects its fault
//! while work flows, waits until the jobs are final, and checks the table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context as _, bail};
use shared::db::NewJob;
use shared::domain::{JobId, QueueName, Timestamp};
use shared::jobs::{Probe, ProbeOutcome};
use tokio::time::Instant;

use super::check::{self, JobRow, rows, verify_certificates, wait_terminal};
use super::lab::Lab;
use super::load::{Load, Submitter, Tally, tally};
use super::{Options, Outcome, Scenario, Services};

pub async fn run(
    scenario: Scenario,
    lab: &mut Lab,
    services: &mut Services,
    options: &Options,
) -> anyhow::Result<Outcome> {
    match scenario {
        Scenario::KillWorkers => kill_workers(lab, options).await,
        Scenario::StaleWorker => stale_worker(lab, options).await,
        Scenario::RedisRestart => redis_restart(lab, services, options).await,
        Scenario::PostgresStop => postgres_stop(lab, services, options).await,
        Scenario::TwoSchedulers => two_schedulers(lab, options).await,
        Scenario::Sigterm => sigterm(lab, options).await,
        Scenario::HandlerFailures => handler_failures(lab, options).await,
        Scenario::WorkflowKill => workflow_kill(lab, services, options).await,
    }
}

/// Settings every certificate scenario shares: short leases and a rescue every second, so a
/// lost attempt or message is found within seconds, not minutes.
fn fast_rescue(lab: &mut Lab, lease_secs: u64, stale_after_secs: u64) {
    lab.set("QUIRE_RESCUE__LEASE_SECS", lease_secs);
    lab.set("QUIRE_RESCUE__INTERVAL_MS", 1000);
    lab.set("QUIRE_RESCUE__STALE_AFTER_SECS", stale_after_secs);
    lab.set("QUIRE_SHUTDOWN_GRACE_SECS", 5);
}

/// Migrates, makes a key, starts the API and a scheduler; the key.
async fn api_and_scheduler(lab: &mut Lab) -> anyhow::Result<String> {
    lab.migrate().await?;
    let key = lab.create_key("faults").await?;
    lab.spawn_ready("api").await?;
    lab.spawn_ready("scheduler").await?;
    Ok(key)
}

/// What the outage scenarios share: the API, a scheduler and two workers rendering two at a
/// time, with a fast rescue; the key.
async fn two_workers(lab: &mut Lab) -> anyhow::Result<String> {
    fast_rescue(lab, 5, 3);
    lab.set("QUIRE_QUEUES__CERTIFICATES__CONCURRENCY", 2);
    let key = api_and_scheduler(lab).await?;
    lab.spawn_ready("worker").await?;
    lab.spawn_ready("worker").await?;
    Ok(key)
}

/// During an outage the API answers 202 or 503, and every 503 says when to retry.
fn expect_clean_answers(outcome: &mut Outcome, t: &Tally) {
    outcome.expect(
        t.unavailable_without_retry_after == 0,
        format!(
            "{} 503s without Retry-After",
            t.unavailable_without_retry_after
        ),
    );
    outcome.expect(
        t.other.is_empty(),
        format!("answers other than 202/503: {:?}", count(&t.other)),
    );
}

/// Jobs of `kind` that process `i` holds running.
async fn held_by(lab: &Lab, i: usize, kind: &str) -> anyhow::Result<Vec<JobRow>> {
    rows(
        lab.pool(),
        &format!(
            "kind = '{kind}' AND status = 'running' AND worker LIKE '{}'",
            lab.worker_pattern(i)
        ),
    )
    .await
}

fn ran_on(row: &JobRow, lab: &Lab, i: usize) -> bool {
    row.worker
        .as_deref()
        .is_some_and(|w| w.contains(&format!("-{}-", lab.procs[i].pid)))
}

// 1 ---------------------------------------------------------------------------------------

async fn kill_workers(lab: &mut Lab, options: &Options) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::KillWorkers);
    fast_rescue(lab, 5, 5);
    lab.set("QUIRE_QUEUES__CERTIFICATES__CONCURRENCY", 2);
    let key = api_and_scheduler(lab).await?;
    let mut workers = Vec::new();
    for _ in 0..options.kill_workers {
        workers.push(lab.spawn_ready("worker").await?);
    }
    let mut load = Load::start(
        Submitter::new(&lab.api_url()?, &key)?,
        Some(options.kill_jobs),
        8,
        Duration::ZERO,
    );
    let started = Instant::now();
    let (mut kills, mut interrupted) = (0usize, 0usize);
    let mut said = Instant::now();
    loop {
        tokio::time::sleep(options.kill_every).await;
        let open = check::status_counts(lab.pool(), "kind = 'certificate'").await?;
        let pending: i64 = open
            .iter()
            .filter(|(s, _)| !matches!(s.as_str(), "succeeded" | "dead" | "cancelled"))
            .map(|(_, n)| n)
            .sum();
        if load.poll_done() && pending == 0 {
            break;
        }
        if started.elapsed() > options.finish_within {
            bail!(
                "jobs not finished after {:?}: {open:?}",
                options.finish_within
            );
        }
        let slot = rand::random_range(0..workers.len());
        let victim = workers[slot];
        lab.kill(victim).await?;
        kills += 1;
        // The attempts it died holding: their leases must expire and the rescuer retry them.
        interrupted += held_by(lab, victim, "certificate").await?.len();
        workers[slot] = lab.spawn("worker").await?;
        if said.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  [kill-workers] {:>4.0}s {kills} kills, {} accepted, {open:?}",
                lab.elapsed().as_secs_f64(),
                load.accepted()
            );
            said = Instant::now();
        }
    }
    let elapsed = started.elapsed();
    let sent = load.finish().await;
    let t = tally(&sent);
    lab.stop_all(Duration::from_secs(15)).await;
    let v = verify_certificates(lab, &t.accepted, t.other.len()).await?;
    outcome.add_verdict(&v);
    outcome.signals = kills;
    outcome.signals_what = format!("{kills} SIGKILL");
    outcome.expect(
        t.accepted.len() == options.kill_jobs,
        format!(
            "only {} of {} submissions accepted ({} 503, other: {:?})",
            t.accepted.len(),
            options.kill_jobs,
            t.unavailable,
            t.other
        ),
    );
    outcome.note(format!(
        "{kills} workers killed (one every {:?}, each replaced at once; {} started in all); {interrupted} attempts were running on a worker when it was killed; {} jobs ran more than one attempt; all {} final after {:.0} s; the workers' logs hold a success line for {} of them (a second line for one job would count as a duplicate)",
        options.kill_every,
        lab.procs.iter().filter(|p| p.role == "worker").count(),
        v.retried,
        t.accepted.len(),
        elapsed.as_secs_f64(),
        v.logged_successes
    ));
    Ok(outcome)
}

// 2 ---------------------------------------------------------------------------------------

async fn stale_worker(lab: &mut Lab, options: &Options) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::StaleWorker);
    fast_rescue(lab, 5, 5);
    lab.set("QUIRE_QUEUES__CERTIFICATES__CONCURRENCY", 4);
    let key = api_and_scheduler(lab).await?;
    let a = lab.spawn_ready("worker").await?;
    let mut load = Load::start(
        Submitter::new(&lab.api_url()?, &key)?,
        Some(options.stale_jobs),
        8,
        Duration::ZERO,
    );
    // Stop A while it holds attempts. Certificates render in milliseconds, so look for a
    // moment when it holds several, stop it, and read what it holds once the statements it
    // had already sent have landed.
    let mut signals = 0;
    let mut held = Vec::new();
    for _ in 0..20 {
        let deadline = Instant::now() + Duration::from_secs(5);
        while held_by(lab, a, "certificate").await?.len() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lab.signal(a, "STOP").await?;
        signals += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        held = held_by(lab, a, "certificate").await?;
        if !held.is_empty() {
            break;
        }
        lab.signal(a, "CONT").await?;
        signals += 1;
    }
    anyhow::ensure!(!held.is_empty(), "never caught worker A holding a job");
    let stopped_at = Instant::now();
    let held_ids: Vec<String> = held.iter().map(|r| r.id.clone()).collect();
    let b = lab.spawn_ready("worker").await?;
    // B takes them over once their leases expire and the rescuer retries them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let taken_over = loop {
        let now = check::rows_by_id(lab.pool(), &held_ids).await?;
        if now.values().all(|r| r.status == "succeeded") {
            break now;
        }
        if Instant::now() > deadline {
            bail!("held jobs not taken over within 60 s: {now:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let takeover = stopped_at.elapsed();
    for r in taken_over.values() {
        outcome.expect(
            ran_on(r, lab, b) && r.attempt >= 2,
            format!(
                "{} was not re-run by worker B: attempt {}, worker {:?}",
                r.id, r.attempt, r.worker
            ),
        );
    }
    // Let the stale worker go on: every attempt it held now tries to record its result.
    lab.signal(a, "CONT").await?;
    signals += 1;
    let wanted: HashSet<&str> = held_ids.iter().map(String::as_str).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Its late outcome per held job: a success or a failure rejected by the token, or one
    // that never reached the table (its first queries after the pause can time out waiting
    // for a pooled connection: the pool's 3 s acquire timeout ran while it was stopped).
    let rejected = loop {
        let rejected: HashMap<String, String> = check::log_events_of(&lab.procs[a].log)
            .into_iter()
            .filter_map(|e| {
                let message = e["message"].as_str()?;
                let id = e["span"]["job_id"].as_str()?;
                let late = match message {
                    m if m.starts_with("lease lost before completion") => "success",
                    m if m.starts_with("lease lost before the failure") => "failure",
                    m if m.starts_with("could not record the outcome") => "unrecorded",
                    _ => return None,
                };
                wanted
                    .contains(id)
                    .then(|| (id.to_owned(), late.to_owned()))
            })
            .collect();
        if rejected.len() == held_ids.len() || Instant::now() > deadline {
            break rejected;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let late = |what: &str| rejected.values().filter(|l| *l == what).count();
    let (late_successes, late_failures) = (late("success"), late("failure"));
    let sent = load.finish().await;
    let t = tally(&sent);
    wait_terminal(
        lab,
        "kind = 'certificate'",
        t.accepted.len(),
        options.finish_within,
    )
    .await?;
    lab.stop_all(Duration::from_secs(15)).await;
    // The rows still hold B's attempts, byte for byte: A's late results did not land.
    let after = check::rows_by_id(lab.pool(), &held_ids).await?;
    let mut stale_files = 0;
    for (id, before) in &taken_over {
        let now = &after[id];
        outcome.expect(
            now.attempt == before.attempt
                && now.result == before.result
                && now.worker == before.worker,
            format!("{id} changed after the stale worker resumed: {before:?} -> {now:?}"),
        );
        let stale_attempt = held.iter().find(|h| &h.id == id).map_or(1, |h| h.attempt);
        if lab
            .data_dir
            .join(format!("outputs/{}/{id}-{stale_attempt}.pdf", now.owner_id))
            .exists()
        {
            stale_files += 1;
        }
        if let Err(e) = check::check_file(&lab.data_dir, now) {
            outcome
                .failures
                .push(format!("{id}: the new attempt's file: {e:#}"));
        }
    }
    outcome.expect(
        rejected.len() == held_ids.len(),
        format!(
            "the stale worker logged a late outcome for {} of the {} jobs it held",
            rejected.len(),
            held_ids.len()
        ),
    );
    let v = verify_certificates(lab, &t.accepted, t.other.len()).await?;
    outcome.add_verdict(&v);
    outcome.signals = signals;
    outcome.signals_what = format!("SIGSTOP/SIGCONT ({signals} signals)");
    outcome.note(format!(
        "worker A stopped holding {} certificate attempts; worker B finished all of them {:.1} s later (lease 5 s); on SIGCONT A's {} late outcomes were all kept out of the table ({late_successes} successes and {late_failures} failures rejected by the fencing token, {} not written: its pool timed out after the pause); {stale_files} stale attempts had written their own file, which no row points to; every held row still holds B's attempt, file and sha256",
        held_ids.len(),
        takeover.as_secs_f64(),
        rejected.len(),
        late("unrecorded"),
    ));
    Ok(outcome)
}

// 3 ---------------------------------------------------------------------------------------

async fn redis_restart(
    lab: &mut Lab,
    services: &mut Services,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::RedisRestart);
    let key = two_workers(lab).await?;
    let mut load = Load::start(
        Submitter::new(&lab.api_url()?, &key)?,
        Some(options.redis_jobs),
        4,
        Duration::from_millis(5),
    );
    // Mid-run: enough accepted that a backlog waits in Redis when it goes.
    let deadline = Instant::now() + Duration::from_secs(120);
    while load.accepted() < options.redis_jobs / 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = check::status_counts(lab.pool(), "kind = 'certificate'").await?;
    let backlog = counts.get("queued").copied().unwrap_or(0);
    let redis = services.redis.as_mut().context("no private Redis")?;
    redis.shutdown().await?;
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart().await?;
    let down_for = down.elapsed();
    let sent = load.finish().await;
    let t = tally(&sent);
    let drained = wait_terminal(
        lab,
        "kind = 'certificate'",
        t.accepted.len(),
        options.finish_within,
    )
    .await?;
    lab.stop_all(Duration::from_secs(15)).await;
    let v = verify_certificates(lab, &t.accepted, t.other.len()).await?;
    outcome.add_verdict(&v);
    outcome.signals = 1;
    outcome.signals_what = "1 restart (data lost)".into();
    expect_clean_answers(&mut outcome, &t);
    outcome.note(format!(
        "Redis shut down (nosave) with {backlog} jobs queued in it and back empty {:.1} s later; {} submissions answered 503 (all with Retry-After), {} accepted; every accepted job succeeded, the last {:.0} s after the load ended",
        down_for.as_secs_f64(),
        t.unavailable,
        t.accepted.len(),
        drained.as_secs_f64()
    ));
    Ok(outcome)
}

// 4 ---------------------------------------------------------------------------------------

async fn postgres_stop(
    lab: &mut Lab,
    services: &mut Services,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::PostgresStop);
    let key = two_workers(lab).await?;
    let load = Load::start(
        Submitter::new(&lab.api_url()?, &key)?,
        None,
        4,
        Duration::from_millis(20),
    );
    let load_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pg = services
        .postgres
        .as_mut()
        .context("no private PostgreSQL")?;
    let down_at = load_start.elapsed();
    pg.stop_server().await?;
    let stopped_at = load_start.elapsed();
    tokio::time::sleep(options.postgres_down).await;
    pg.start_server().await?;
    let up_at = load_start.elapsed();
    // Submissions keep going a while after it is back.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let sent = load.stop().await;
    let t = tally(&sent);
    // Answers to requests sent while it was down.
    let during: Vec<_> = sent
        .iter()
        .filter(|s| s.sent > stopped_at && s.answered < up_at)
        .collect();
    let accepted_during = during
        .iter()
        .filter(|s| matches!(s.answer, super::load::Answer::Accepted(_)))
        .count();
    let unavailable_during = during
        .iter()
        .filter(|s| matches!(s.answer, super::load::Answer::Unavailable { .. }))
        .count();
    let drained = wait_terminal(
        lab,
        "kind = 'certificate'",
        t.accepted.len(),
        options.finish_within,
    )
    .await?;
    lab.stop_all(Duration::from_secs(15)).await;
    let v = verify_certificates(lab, &t.accepted, t.other.len()).await?;
    outcome.add_verdict(&v);
    outcome.signals = 1;
    outcome.signals_what = format!("stopped {} s", options.postgres_down.as_secs());
    outcome.expect(
        unavailable_during > 0,
        "no submission answered 503 while PostgreSQL was down",
    );
    outcome.expect(
        accepted_during == 0,
        format!("{accepted_during} submissions accepted while PostgreSQL was down"),
    );
    expect_clean_answers(&mut outcome, &t);
    outcome.note(format!(
        "PostgreSQL stopped (fast shutdown) {:.1} s into the load, for {:.1} s; {} submissions in all: {} accepted (202), {} answered 503 with Retry-After ({unavailable_during} of them sent and answered while it was down), {} other; every accepted job succeeded, the last {:.0} s after the load ended",
        down_at.as_secs_f64(),
        (up_at - stopped_at).as_secs_f64(),
        sent.len(),
        t.accepted.len(),
        t.unavailable,
        t.other.len(),
        drained.as_secs_f64()
    ));
    Ok(outcome)
}

fn count(items: &[String]) -> BTreeMap<&str, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.as_str()).or_default() += 1;
    }
    out
}

// 5 ---------------------------------------------------------------------------------------

async fn two_schedulers(lab: &mut Lab, options: &Options) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::TwoSchedulers);
    // A schedule of its own beside the built-in ones, every second, allowed to overlap so
    // no tick is skipped for a previous run still going (`_` in the name stands for `-`).
    let schedule = "every-second";
    lab.set("QUIRE_SCHEDULES__EVERY_SECOND__TASK", "db-maintenance");
    lab.set("QUIRE_SCHEDULES__EVERY_SECOND__CRON", "* * * * * *");
    lab.set("QUIRE_SCHEDULES__EVERY_SECOND__OVERLAP", "true");
    lab.migrate().await?;
    lab.spawn_ready("worker").await?;
    let s1 = lab.spawn_ready("scheduler").await?;
    let s2 = lab.spawn_ready("scheduler").await?;
    let from = Timestamp::now().millis();
    let started = Instant::now();
    while started.elapsed() < options.scheduler_run {
        let left = options.scheduler_run.saturating_sub(started.elapsed());
        tokio::time::sleep(Duration::from_secs(15).min(left)).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE owner_id = 'system' AND idempotency_key LIKE 'schedule:%'",
        )
        .fetch_one(lab.pool())
        .await?;
        eprintln!(
            "  [two-schedulers] {:>4.0}s {n} tick jobs",
            started.elapsed().as_secs_f64()
        );
    }
    let until = Timestamp::now().millis();
    lab.signal(s1, "TERM").await?;
    lab.signal(s2, "TERM").await?;
    lab.stop_all(Duration::from_secs(15)).await;
    let ticks = rows(
        lab.pool(),
        "owner_id = 'system' AND idempotency_key LIKE 'schedule:%'",
    )
    .await?;
    // Jobs per key, per schedule.
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for r in &ticks {
        *per_key
            .entry(r.idempotency_key.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let mut names: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for key in per_key.keys() {
        let mut parts = key.rsplitn(2, ':');
        let tick: i64 = parts.next().unwrap_or_default().parse().unwrap_or(-1);
        let name = parts
            .next()
            .unwrap_or_default()
            .trim_start_matches("schedule:");
        names.entry(name.to_owned()).or_default().push(tick);
    }
    let dup_keys: Vec<String> = per_key
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| format!("{k}: {n} jobs"))
        .collect();
    let name = names
        .keys()
        .find(|n| n.as_str() == schedule)
        .cloned()
        .with_context(|| format!("no tick of schedule {schedule}: {names:?}"))?;
    let mut seen = names[&name].clone();
    seen.sort_unstable();
    // Two jobs in one second are two jobs for one tick, whatever their keys say.
    let mut per_second: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &seen {
        *per_second.entry(t.div_euclid(1000)).or_default() += 1;
    }
    let crowded: Vec<String> = per_second
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, n)| format!("{n} jobs in second {s}"))
        .collect();
    // Every tick from the first whole second after both ran to the last one before they stopped.
    let first = from.div_euclid(1000) * 1000 + 2000;
    let last = until.div_euclid(1000) * 1000 - 1000;
    let seen_set: HashSet<i64> = seen.iter().copied().collect();
    let missing: Vec<i64> = (first..=last)
        .step_by(1000)
        .filter(|t| !seen_set.contains(t))
        .collect();
    let expected = ((last - first) / 1000 + 1).max(0) as usize;
    outcome.jobs = seen.len();
    outcome.lost = missing.len();
    outcome.duplicates = dup_keys.len() + crowded.len();
    outcome.signals_what = "2 schedulers".into();
    let statuses = check::status_counts(
        lab.pool(),
        &format!("owner_id = 'system' AND idempotency_key LIKE 'schedule:{name}:%'"),
    )
    .await?;
    outcome.max_attempt = ticks.iter().map(|r| r.attempt).max().unwrap_or(0);
    outcome.allowed = ticks.iter().map(|r| r.max_attempts).max().unwrap_or(0);
    outcome.expect(
        dup_keys.is_empty(),
        format!("ticks with several jobs: {dup_keys:?}"),
    );
    outcome.expect(
        crowded.is_empty(),
        format!("seconds with several ticks: {crowded:?}"),
    );
    outcome.expect(
        missing.is_empty(),
        format!(
            "{} ticks missing: {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        ),
    );
    outcome.note(format!(
        "schedule `{name}` (QUIRE_SCHEDULES__EVERY_SECOND__*: task db-maintenance, cron `* * * * * *`, overlap) beside the built-in ones, two `quire scheduler` processes for {:.0} s: {expected} ticks expected while both ran, {} jobs for them in the table (one per tick key), {} missing; its tick jobs by status: {statuses:?}; {} tick jobs of all schedules in the table, {} keys with more than one job",
        options.scheduler_run.as_secs_f64(),
        seen.iter().filter(|t| (first..=last).contains(*t)).count(),
        missing.len(),
        ticks.len(),
        dup_keys.len()
    ));
    Ok(outcome)
}

// 6 ---------------------------------------------------------------------------------------

/// Inserts and pushes a probe job owned by `faults`; its id.
async fn insert_probe(
    lab: &Lab,
    queue: &shared::queue::Queue,
    sleep_ms: u64,
    outcome: ProbeOutcome,
    max_attempts: u32,
) -> anyhow::Result<JobId> {
    let job = NewJob::probe("faults", Probe { sleep_ms, outcome }, max_attempts);
    lab.db().insert_job(&job).await?;
    queue.push(QueueName::Maintenance, job.id, None).await?;
    Ok(job.id)
}

async fn sigterm(lab: &mut Lab, options: &Options) -> anyhow::Result<Outcome> {
    const GRACE_SECS: u64 = 6;
    let mut outcome = Outcome::new(Scenario::Sigterm);
    lab.set("QUIRE_SHUTDOWN_GRACE_SECS", GRACE_SECS);
    lab.set("QUIRE_QUEUES__MAINTENANCE__CONCURRENCY", 4);
    // The default lease: a hand-over that waited for it would take a minute.
    lab.set("QUIRE_RESCUE__LEASE_SECS", 60);
    lab.migrate().await?;
    let a = lab.spawn_ready("worker").await?;
    let queue = lab.queue().await?;
    let mut short = Vec::new();
    let mut long = Vec::new();
    for _ in 0..2 {
        short.push(insert_probe(lab, &queue, 4_000, ProbeOutcome::Succeed, 3).await?);
        long.push(insert_probe(lab, &queue, 15_000, ProbeOutcome::Succeed, 3).await?);
    }
    let all: Vec<String> = short.iter().chain(&long).map(JobId::to_string).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held_by(lab, a, "maintenance").await?.len() < all.len() {
        anyhow::ensure!(Instant::now() < deadline, "worker A never ran the 4 probes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // B starts only now, so A holds every probe when it is told to stop.
    let b = lab.spawn_ready("worker").await?;
    let term_at = Timestamp::now().millis();
    let term = Instant::now();
    lab.signal(a, "TERM").await?;
    let status = tokio::time::timeout(
        Duration::from_secs(GRACE_SECS + 20),
        lab.procs[a].child.wait(),
    )
    .await
    .context("worker A did not exit after SIGTERM")??;
    let exited_after = term.elapsed();
    wait_terminal(
        lab,
        &format!(
            "id IN ({})",
            all.iter()
                .map(|id| format!("'{id}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        all.len(),
        options.finish_within,
    )
    .await?;
    lab.stop_all(Duration::from_secs(15)).await;
    let rows = check::rows_by_id(lab.pool(), &all).await?;
    let mut handover_ms = Vec::new();
    for id in &short {
        let r = &rows[&id.to_string()];
        outcome.expect(
            r.status == "succeeded" && r.attempt == 1 && ran_on(r, lab, a),
            format!(
                "short probe {id} did not finish on A: {} attempt {} worker {:?}",
                r.status, r.attempt, r.worker
            ),
        );
    }
    for id in &long {
        let r = &rows[&id.to_string()];
        outcome.expect(
            r.status == "succeeded" && r.attempt == 1 && ran_on(r, lab, b),
            format!(
                "long probe {id} was not handed to B with its attempt uncounted: {} attempt {} worker {:?}",
                r.status, r.attempt, r.worker
            ),
        );
        if let Some(started) = r.started_at {
            handover_ms.push(started - term_at);
        }
    }
    let slowest = handover_ms.iter().copied().max().unwrap_or(i64::MAX);
    outcome.expect(
        slowest <= (GRACE_SECS as i64 + 5) * 1000,
        format!("long probes restarted on B {slowest} ms after SIGTERM (grace {GRACE_SECS} s)"),
    );
    outcome.expect(status.success(), format!("worker A exited with {status}"));
    outcome.expect(
        exited_after < Duration::from_secs(GRACE_SECS + 5),
        format!("worker A took {exited_after:?} to exit (grace {GRACE_SECS} s)"),
    );
    let released = check::log_events_of(&lab.procs[a].log)
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("grace period over"))
        })
        .and_then(|e| e["released"].as_u64())
        .unwrap_or(0);
    outcome.jobs = all.len();
    outcome.lost = rows.values().filter(|r| r.status != "succeeded").count();
    outcome.signals = 1;
    outcome.signals_what = "1 SIGTERM".into();
    outcome.max_attempt = rows.values().map(|r| r.attempt).max().unwrap_or(0);
    outcome.allowed = 3;
    outcome.note(format!(
        "grace {GRACE_SECS} s; worker A held 2 probes of 4 s and 2 of 15 s: the short ones finished on A, A released {released} and exited ({status}) {:.1} s after SIGTERM; worker B started the long ones {:?} ms after SIGTERM (lease 60 s), attempt still 1",
        exited_after.as_secs_f64(),
        handover_ms
    ));
    Ok(outcome)
}

// 7 ---------------------------------------------------------------------------------------

async fn handler_failures(lab: &mut Lab, options: &Options) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::HandlerFailures);
    lab.set("QUIRE_QUEUES__MAINTENANCE__TIMEOUT_SECS", 1);
    lab.set("QUIRE_QUEUES__MAINTENANCE__CONCURRENCY", 4);
    lab.set("QUIRE_RETRY__BASE_MS", 100);
    lab.set("QUIRE_RETRY__MAX_SECS", 1);
    // The poison pill's attempts are lost with their worker: the rescuer finds them.
    fast_rescue(lab, 5, 5);
    lab.migrate().await?;
    lab.spawn_ready("scheduler").await?;
    let mut worker = lab.spawn_ready("worker").await?;
    let queue = lab.queue().await?;
    // (what, probe, max attempts, expected status, attempts, error code)
    let cases = [
        (
            "panic",
            0,
            ProbeOutcome::Panic,
            3,
            "dead",
            3,
            Some("panicked"),
        ),
        (
            "permanent failure",
            0,
            ProbeOutcome::FailPermanent,
            3,
            "dead",
            1,
            Some("probe_failed"),
        ),
        (
            "retryable failure",
            0,
            ProbeOutcome::FailRetryable,
            3,
            "dead",
            3,
            Some("probe_failed"),
        ),
        (
            "timeout (30 s job, 1 s limit)",
            30_000,
            ProbeOutcome::Succeed,
            2,
            "dead",
            2,
            Some("timeout"),
        ),
        (
            "success",
            100,
            ProbeOutcome::Succeed,
            3,
            "succeeded",
            1,
            None,
        ),
    ];
    let mut ids = Vec::new();
    for (_, sleep_ms, probe, max, ..) in &cases {
        ids.push(
            insert_probe(lab, &queue, *sleep_ms, *probe, *max)
                .await?
                .to_string(),
        );
    }
    let filter = format!(
        "id IN ({})",
        ids.iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    wait_terminal(lab, &filter, ids.len(), options.finish_within).await?;

    // Then alone, so no other job shares its worker's fate: a poison pill that aborts the
    // worker process at every attempt. Each death is replaced, as a supervisor would; the
    // rescuer counts each lost attempt, and the job ends `dead` after its attempts.
    let pill = insert_probe(lab, &queue, 0, ProbeOutcome::AbortProcess, 2)
        .await?
        .to_string();
    let mut aborted = 0;
    let started = Instant::now();
    loop {
        let row = check::rows_by_id(lab.pool(), std::slice::from_ref(&pill)).await?;
        if row
            .values()
            .any(|r| matches!(r.status.as_str(), "dead" | "succeeded"))
        {
            break;
        }
        if lab.procs[worker].child.try_wait()?.is_some() {
            lab.procs[worker].ended_on_purpose = true;
            aborted += 1;
            worker = lab.spawn("worker").await?;
        }
        anyhow::ensure!(
            started.elapsed() < options.finish_within,
            "the poison pill never ended: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lab.stop_all(Duration::from_secs(15)).await;
    let pill_row = check::rows_by_id(lab.pool(), std::slice::from_ref(&pill)).await?[&pill].clone();
    let pill_ok = pill_row.status == "dead"
        && pill_row.attempt == 2
        && pill_row.error_code.as_deref() == Some("lease_expired")
        && aborted == 2;
    outcome.expect(
        pill_ok,
        format!(
            "poison pill: {} after {} attempts ({:?}) and {aborted} worker deaths, expected dead after 2 (lease_expired) and 2 deaths",
            pill_row.status, pill_row.attempt, pill_row.error_code
        ),
    );
    if !pill_ok {
        outcome.lost += 1;
    }

    let rows = check::rows_by_id(lab.pool(), &ids).await?;
    let mut seen = Vec::new();
    for ((what, _, _, _, status, attempts, code), id) in cases.iter().zip(&ids) {
        let r = &rows[id];
        let ok = r.status == *status && r.attempt == *attempts && r.error_code.as_deref() == *code;
        outcome.expect(
            ok,
            format!(
                "{what}: {} after {} attempts ({:?}), expected {status} after {attempts} ({code:?})",
                r.status, r.attempt, r.error_code
            ),
        );
        if !ok {
            outcome.lost += 1;
        }
        seen.push(format!(
            "{what} → {} after {} attempt(s){}",
            r.status,
            r.attempt,
            r.error_code
                .as_deref()
                .map(|c| format!(", error `{c}`"))
                .unwrap_or_default()
        ));
        outcome.max_attempt = outcome.max_attempt.max(r.attempt);
        outcome.allowed = outcome.allowed.max(r.max_attempts);
    }
    seen.push(format!(
        "poison pill (aborts its worker) → {} after {} attempt(s), error `{}`, {aborted} worker processes aborted and replaced",
        pill_row.status,
        pill_row.attempt,
        pill_row.error_code.as_deref().unwrap_or("none")
    ));
    outcome.max_attempt = outcome.max_attempt.max(pill_row.attempt);
    outcome.jobs = ids.len() + 1;
    outcome.signals = aborted;
    outcome.signals_what = format!("{aborted} worker aborts");
    outcome.note(seen.join("; "));
    Ok(outcome)
}

// 8 ---------------------------------------------------------------------------------------

/// Rows of each batch step of the workflow-kill graph, and how many batch steps.
const WORKFLOW_GROUPS: usize = 8;
const WORKFLOW_ROWS: usize = 62;

/// The workflow-kill graph: four layers. Layer 1, groups: WORKFLOW_GROUPS batch steps and the
/// head of a chain; layer 2, a merge of each group (a chord each) and the chain's second
/// link; layer 3, the chain's third link; layer 4, one merge of every group's merge and the
/// chain's end. 508 jobs.
fn workflow_kill_graph() -> serde_json::Value {
    let cert = |name: String| serde_json::json!({"recipient_name": name, "course_name": "Faults"});
    let mut steps = Vec::new();
    for g in 0..WORKFLOW_GROUPS {
        let rows: Vec<serde_json::Value> = (0..WORKFLOW_ROWS)
            .map(|r| serde_json::json!({"recipient_name": format!("Group {g} row {r}"), "course_name": "Faults"}))
            .collect();
        steps.push(serde_json::json!({"name": format!("group-{g}"), "kind": "batch", "batch": {"rows": rows}}));
        steps.push(serde_json::json!({"name": format!("merge-{g}"), "kind": "merge", "after": [format!("group-{g}")]}));
    }
    steps.push(serde_json::json!({"name": "chain-1", "kind": "certificate", "certificate": cert("Chain one".into())}));
    steps.push(serde_json::json!({"name": "chain-2", "kind": "certificate", "after": ["chain-1"], "certificate": cert("Chain two".into())}));
    steps.push(serde_json::json!({"name": "chain-3", "kind": "certificate", "after": ["chain-2"], "certificate": cert("Chain three".into())}));
    let mut last: Vec<String> = (0..WORKFLOW_GROUPS).map(|g| format!("merge-{g}")).collect();
    last.push("chain-3".into());
    steps.push(serde_json::json!({"name": "book", "kind": "merge", "after": last}));
    serde_json::json!({"name": "workflow-kill", "steps": steps})
}

async fn workflow_kill(
    lab: &mut Lab,
    services: &mut Services,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::new(Scenario::WorkflowKill);
    fast_rescue(lab, 5, 3);
    lab.set("QUIRE_QUEUES__CERTIFICATES__CONCURRENCY", 2);
    let key = api_and_scheduler(lab).await?;
    let mut workers = Vec::new();
    for _ in 0..options.kill_workers {
        workers.push(lab.spawn_ready("worker").await?);
    }
    let client = reqwest::Client::new();
    let api = lab.api_url()?;
    let submitted: serde_json::Value = client
        .post(format!("{api}/v1/workflows"))
        .bearer_auth(&key)
        .json(&workflow_kill_graph())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = submitted["id"]
        .as_str()
        .context("no workflow id")?
        .to_owned();
    let total = submitted["total"].as_u64().unwrap_or_default() as usize;
    let started = Instant::now();
    let (mut kills, mut flushed) = (0usize, false);
    let mut said = Instant::now();
    let finished = loop {
        tokio::time::sleep(options.kill_every).await;
        let w: serde_json::Value = client
            .get(format!("{api}/v1/workflows/{id}"))
            .bearer_auth(&key)
            .send()
            .await?
            .json()
            .await?;
        if w["status"] != "running" {
            break w;
        }
        if started.elapsed() > options.finish_within {
            bail!(
                "workflow not finished after {:?}: {}",
                options.finish_within,
                w["finished"]
            );
        }
        // Once, with work queued in it: every message gone.
        if !flushed && started.elapsed() > Duration::from_secs(5) {
            let redis = services.redis.as_ref().context("no private Redis")?;
            let client = redis::Client::open(redis.url())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
            flushed = true;
        }
        let slot = rand::random_range(0..workers.len());
        lab.kill(workers[slot]).await?;
        kills += 1;
        workers[slot] = lab.spawn("worker").await?;
        if said.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  [workflow-kill] {:>4.0}s {kills} kills, {}/{total} jobs ended",
                lab.elapsed().as_secs_f64(),
                w["finished"]
            );
            said = Instant::now();
        }
    };
    let elapsed = started.elapsed();
    // The event pump numbers the last events before the order is checked.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_outbox")
            .fetch_one(lab.pool())
            .await?;
        if left == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lab.stop_all(Duration::from_secs(15)).await;
    outcome.expect(
        finished["status"] == "completed",
        format!("the workflow ended {}", finished["status"]),
    );
    let steps = rows(lab.pool(), &format!("workflow_id = '{id}'")).await?;
    outcome.jobs = steps.len();
    outcome.expect(
        steps.len() == total && total >= 500,
        format!("{} step jobs, {total} promised", steps.len()),
    );
    let lost: Vec<String> = steps
        .iter()
        .filter(|r| r.status != "succeeded")
        .map(|r| format!("{}: {} ({:?})", r.id, r.status, r.error_code))
        .collect();
    outcome.lost = lost.len();
    outcome.expect(lost.is_empty(), format!("steps not succeeded: {lost:?}"));
    let logged = check::completions_in_logs(lab);
    let twice: Vec<String> = steps
        .iter()
        .filter_map(|r| {
            logged
                .get(&r.id)
                .filter(|n| **n > 1)
                .map(|n| format!("{}: {n}", r.id))
        })
        .collect();
    outcome.duplicates = twice.len();
    outcome.expect(
        twice.is_empty(),
        format!("successes recorded twice: {twice:?}"),
    );
    for r in &steps {
        outcome.max_attempt = outcome.max_attempt.max(r.attempt);
        outcome.allowed = outcome.allowed.max(r.max_attempts);
    }
    let data_dir = lab.data_dir.clone();
    let succeeded: Vec<JobRow> = steps
        .iter()
        .filter(|r| r.status == "succeeded")
        .cloned()
        .collect();
    let (checked, bad) =
        tokio::task::spawn_blocking(move || check::check_files(&data_dir, &succeeded)).await?;
    outcome.files = checked;
    outcome.expect(bad.is_empty(), format!("bad files: {bad:?}"));
    // From the event log: no step's first attempt began before each of its parents ended.
    let early: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM workflow_edges e \
         JOIN (SELECT job_id, MIN(seq) AS first_run FROM events \
               WHERE workflow_id = $1 AND type = 'job.running' GROUP BY job_id) c \
           ON c.job_id = e.child_id \
         JOIN (SELECT job_id, MAX(seq) AS ended FROM events \
               WHERE workflow_id = $1 AND type = 'job.succeeded' GROUP BY job_id) p \
           ON p.job_id = e.parent_id \
         WHERE c.first_run < p.ended",
    )
    .bind(&id)
    .fetch_one(lab.pool())
    .await?;
    outcome.expect(
        early == 0,
        format!("{early} steps started before a parent ended"),
    );
    let unchecked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM workflow_edges e WHERE e.child_id IN \
           (SELECT job_id FROM workflow_steps WHERE workflow_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM events WHERE job_id = e.child_id AND type = 'job.running')",
    )
    .bind(&id)
    .fetch_one(lab.pool())
    .await?;
    outcome.expect(
        unchecked == 0,
        format!("{unchecked} edges whose child has no running event"),
    );
    let completed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE workflow_id = $1 AND type = 'workflow.completed'",
    )
    .bind(&id)
    .fetch_one(lab.pool())
    .await?;
    outcome.expect(
        completed == 1,
        format!("{completed} workflow.completed events"),
    );
    outcome.signals = kills + 1;
    outcome.signals_what = format!("{kills} SIGKILL, 1 FLUSHALL");
    outcome.note(format!(
        "{total} jobs in 4 layers ({WORKFLOW_GROUPS} batch steps of {WORKFLOW_ROWS} rows, a merge of each, a 3-certificate chain, a merge of them all); {kills} workers killed (one every {:?}) and Redis flushed once; completed after {:.0} s; every step succeeded once with the file it records, none started before its parents ended (event log)",
        options.kill_every,
        elapsed.as_secs_f64()
    ));
    Ok(outcome)
}
