//! Kills lose nothing: SIGKILL mock-cloud, Terraform or the provider in the middle of an
//! apply of `hyperprotect_instance`s, then apply again. Every run ends with exactly the
//! configured servers, each in the state, and no silent duplicate: a server a killed run
//! created but never recorded is found by its name, and the next apply fails naming it
//! with the `terraform import` command that adopts it.
//!
//! Named `kills_*`, not `test_acc_*`: they are heavy, so `scripts/test.sh` runs them once
//! (on Terraform 1.0.3), not again on 1.15.5.

mod reliability;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use acceptance_tests::harness::{acceptance_enabled, Terraform, WorkDir};
use acceptance_tests::mock_cloud::Delays;
use reliability::{
    alive, children_named, provider, sigkill, state_ids, wait_until, Background, Cloud,
};

/// Boots long enough that a kill lands while creates wait.
fn slow_boot() -> Delays {
    let ms = Duration::from_millis;
    Delays {
        pending: ms(300),
        boot: ms(4000),
        stop: ms(300),
        reboot: ms(300),
        delete: ms(500),
        reject_stop: ms(500),
    }
}

fn apply(work: &WorkDir) -> acceptance_tests::harness::Run {
    work.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
}

/// The emulator lists exactly `prefix-0 … prefix-(count-1)`, each once and running, and
/// the state holds exactly their ids; the next plan is empty.
fn assert_converged(cloud: &Cloud, work: &WorkDir, prefix: &str, count: usize) {
    let listed = cloud.instances();
    let names: Vec<&str> = listed.iter().map(|(_, n, _)| n.as_str()).collect();
    let want: BTreeSet<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    let got: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(listed.len(), count, "servers: {listed:?}");
    assert_eq!(got, want, "servers: {listed:?}");
    assert!(
        listed.iter().all(|(_, _, s)| s == "running"),
        "not all running: {listed:?}"
    );
    let mut in_state = state_ids(work.path());
    in_state.sort();
    let mut in_cloud: Vec<String> = listed.iter().map(|(id, _, _)| id.clone()).collect();
    in_cloud.sort();
    assert_eq!(in_state, in_cloud, "state and cloud differ");
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "plan after convergence:\n{}", plan.output());
}

fn destroy(cloud: &Cloud, work: &WorkDir) {
    let run = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(run.code, 0, "destroy:\n{}", run.output());
    let left = cloud.instances();
    assert!(left.is_empty(), "mock-cloud still lists {left:?}");
}

/// One server a killed run left unrecorded, as the refused apply reports it.
#[derive(Debug)]
struct Orphan {
    name: String,
    address: String,
    id: String,
}

/// The "already exists" errors of an apply's output: the name and id from the provider's
/// message, the address from Terraform's `with …` line of the same diagnostic.
fn orphans_reported(output: &str) -> Vec<Orphan> {
    let re = regex::Regex::new(
        r"(?s)An instance named `([a-z0-9-]+)` already exists\s+with ([^\s,]+),.*?terraform import '<address>' (\S+)",
    )
    .unwrap();
    output
        .split("Error: ")
        .filter_map(|block| re.captures(block))
        .map(|c| Orphan {
            name: c[1].to_string(),
            address: c[2].to_string(),
            id: c[3].to_string(),
        })
        .collect()
}

/// After a kill: the next apply refuses to duplicate each unrecorded server (naming it and
/// the import command), the import adopts it, and the apply after that converges. Returns
/// how many orphans were reported.
fn converge_after_kill(cloud: &Cloud, work: &WorkDir, prefix: &str, count: usize) -> usize {
    let in_state_before: BTreeSet<String> = state_ids(work.path()).into_iter().collect();
    let unrecorded: Vec<(String, String, String)> = cloud
        .instances()
        .into_iter()
        .filter(|(id, _, _)| !in_state_before.contains(id))
        .collect();
    let run = apply(work);
    let orphans = orphans_reported(&run.output());
    if unrecorded.is_empty() {
        assert_eq!(run.code, 0, "apply after the kill:\n{}", run.output());
    } else {
        assert_ne!(
            run.code,
            0,
            "a duplicate was not refused:\n{}",
            run.output()
        );
        let mut reported: Vec<(String, String)> = orphans
            .iter()
            .map(|o| (o.id.clone(), o.name.clone()))
            .collect();
        reported.sort();
        let mut want: Vec<(String, String)> = unrecorded
            .iter()
            .map(|(id, name, _)| (id.clone(), name.clone()))
            .collect();
        want.sort();
        assert_eq!(reported, want, "orphans reported:\n{}", run.output());
        for o in &orphans {
            let index = o.name.rsplit('-').next().unwrap();
            assert_eq!(o.address, format!("hyperprotect_instance.fleet[{index}]"));
            let import =
                work.terraform(&["import", "-input=false", "-no-color", &o.address, &o.id]);
            assert_eq!(import.code, 0, "import {o:?}:\n{}", import.output());
        }
        let run = apply(work);
        assert_eq!(run.code, 0, "apply after the imports:\n{}", run.output());
    }
    assert_converged(cloud, work, prefix, count);
    orphans.len()
}

#[test]
fn kills_mock_cloud_sigkilled_and_restarted_mid_apply_of_ten() {
    let name = "kills_mock_cloud_sigkilled_and_restarted_mid_apply_of_ten";
    if !acceptance_enabled(name) {
        return;
    }
    let mut cloud = Cloud::child(slow_boot());
    let contract = cloud.contract_file();
    let cfg = cloud.fleet_config("survivor", 10, &contract);
    let terraform = Terraform::locate().expect("terraform");
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    work.write_config(&cfg);
    let started = Instant::now();
    // Four at a time, so the kill finds creates waiting and others not yet sent.
    let mut first = Background::apply(&work, &["-parallelism=4"]);
    wait_until("5 servers created", Duration::from_secs(90), || {
        cloud.instances().len() >= 5
    });
    let at = started.elapsed();
    cloud.kill();
    std::thread::sleep(Duration::from_secs(2));
    cloud.restart();
    let code = first.wait(Duration::from_secs(150));
    let first_took = started.elapsed();
    eprintln!(
        "KILLS mock-cloud: killed {:.1} s into the apply, down 2 s, restarted {} time(s); the killed apply exited {code:?} after {:.1} s:\n{}",
        at.as_secs_f64(),
        cloud.starts - 1,
        first_took.as_secs_f64(),
        first.output()
    );
    let rerun = Instant::now();
    let orphans = converge_after_kill(&cloud, &work, "survivor", 10);
    eprintln!(
        "KILLS mock-cloud: re-run converged to 10 in {:.1} s ({orphans} orphan(s) reported)",
        rerun.elapsed().as_secs_f64()
    );
    assert_eq!(
        orphans, 0,
        "a restart of the cloud must not orphan a server"
    );
    destroy(&cloud, &work);
}

/// Starts an apply of three, one at a time, waits until the second server exists (its
/// create is waiting for boot) and returns the apply with its worker and provider processes.
fn apply_until_second_create_waits(cloud: &Cloud, work: &WorkDir) -> (Background, u32, u32) {
    let mut run = Background::apply(work, &["-parallelism=1"]);
    let mut provider_pid = None;
    let mut worker = None;
    wait_until("the second create", Duration::from_secs(90), || {
        if let Some(code) = run.child.try_wait().expect("try_wait") {
            panic!("apply ended early ({code}):\n{}", run.output());
        }
        // Terraform runs as two processes (a panic-catching wrapper and the worker it
        // starts), and the worker starts a provider process per phase: the last is the
        // apply's.
        worker = children_named(run.pid(), "terraform").first().copied();
        provider_pid = worker
            .and_then(|w| {
                children_named(w, "terraform-provider-hyperprotect")
                    .into_iter()
                    .max()
            })
            .or(provider_pid);
        let n = cloud.instances().len();
        provider_pid.is_some() && n >= 2
    });
    (
        run,
        worker.expect("terraform worker"),
        provider_pid.expect("provider pid"),
    )
}

#[test]
fn kills_terraform_sigkilled_during_a_create_wait() {
    let name = "kills_terraform_sigkilled_during_a_create_wait";
    if !acceptance_enabled(name) {
        return;
    }
    let cloud = Cloud::in_process(slow_boot(), Duration::from_secs(3600));
    let contract = cloud.contract_file();
    let cfg = cloud.fleet_config("orphan", 3, &contract);
    let terraform = Terraform::locate().expect("terraform");
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    work.write_config(&cfg);
    let started = Instant::now();
    let (mut run, worker, provider_pid) = apply_until_second_create_waits(&cloud, &work);
    // Both Terraform processes; the provider is left running, as a kill of Terraform leaves it.
    sigkill(run.pid());
    sigkill(worker);
    let at = started.elapsed();
    let code = run.wait(Duration::from_secs(30));
    assert_eq!(code, None, "terraform was killed by a signal");
    wait_until(
        "the Terraform worker to die",
        Duration::from_secs(10),
        || !alive(worker),
    );
    // Orphaned, the provider notices that its parent is gone (it checks every second) and
    // stops instead of lingering.
    let orphaned = Instant::now();
    while alive(provider_pid) && orphaned.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let provider_lingered = orphaned.elapsed();
    let still_alive = alive(provider_pid);
    if still_alive {
        sigkill(provider_pid);
    }
    assert!(
        !still_alive && provider_lingered < Duration::from_secs(5),
        "the orphaned provider ran on for {provider_lingered:?} after Terraform died"
    );
    eprintln!(
        "KILLS terraform: killed {:.1} s into the apply; state then held {} of 3 ids; its provider exited {:.1} s later",
        at.as_secs_f64(),
        state_ids(work.path()).len(),
        provider_lingered.as_secs_f64()
    );
    let rerun = Instant::now();
    let orphans = converge_after_kill(&cloud, &work, "orphan", 3);
    eprintln!(
        "KILLS terraform: {orphans} orphan(s) reported and imported; converged in {:.1} s",
        rerun.elapsed().as_secs_f64()
    );
    assert_eq!(orphans, 1, "the server whose create was waiting");
    destroy(&cloud, &work);
}

#[test]
fn kills_provider_sigkilled_during_an_apply() {
    let name = "kills_provider_sigkilled_during_an_apply";
    if !acceptance_enabled(name) {
        return;
    }
    let cloud = Cloud::in_process(slow_boot(), Duration::from_secs(3600));
    let contract = cloud.contract_file();
    let cfg = cloud.fleet_config("crash", 3, &contract);
    let terraform = Terraform::locate().expect("terraform");
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    work.write_config(&cfg);
    let started = Instant::now();
    let (mut run, _, provider_pid) = apply_until_second_create_waits(&cloud, &work);
    sigkill(provider_pid);
    let code = run.wait(Duration::from_secs(60));
    let output = run.output();
    assert_ne!(code, Some(0), "the apply must fail:\n{output}");
    assert!(
        output.contains("Plugin did not respond") || output.contains("plugin crashed"),
        "Terraform reports the plugin crash:\n{output}"
    );
    eprintln!(
        "KILLS provider: killed {:.1} s into the apply; Terraform exited {code:?}; state then held {} of 3 ids",
        started.elapsed().as_secs_f64(),
        state_ids(work.path()).len(),
    );
    let rerun = Instant::now();
    let orphans = converge_after_kill(&cloud, &work, "crash", 3);
    eprintln!(
        "KILLS provider: {orphans} orphan(s) reported and imported; converged in {:.1} s",
        rerun.elapsed().as_secs_f64()
    );
    assert_eq!(orphans, 1, "the server whose create was waiting");
    destroy(&cloud, &work);
}
