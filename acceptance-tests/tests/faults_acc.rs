//! Faults converge: 20 `hyperprotect_instance`s applied with Terraform against mock-cloud
//! (in this process, fresh data folder) answering 30 % of requests 429 with `Retry-After`,
//! 10 % 503, every request 200 ms late, and issuing tokens that expire every 20 s. The
//! apply converges, the next plans are empty, destroy leaves no instance, and the provider
//! stays under a stated number of VPC calls per instance (counted by mock-cloud, faulted
//! calls included).
//!
//! Named `faults_*`, not `test_acc_*`: it is heavy, so `scripts/test.sh` runs it once (on
//! Terraform 1.0.3), not again on 1.15.5.

mod reliability;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use acceptance_tests::harness::{acceptance_enabled, Step, TestCase};
use acceptance_tests::mock_cloud::Delays;
use reliability::{provider, Cloud};
use serde_json::{json, Value};

const COUNT: usize = 20;
/// The most VPC calls per instance from the first plan to the end of the apply (POST,
/// waits, contract check, catalog look-ups, and every retry of a faulted call).
const MAX_APPLY_CALLS_PER_INSTANCE: f64 = 12.0;
/// The most VPC calls per instance over the whole test: plan, apply, the two empty plans
/// and the refresh the harness runs after it, and destroy with its wait.
const MAX_TOTAL_CALLS_PER_INSTANCE: f64 = 25.0;

/// Request counts by route, from `GET /_mock/requests`.
fn counts(cloud: &Cloud) -> BTreeMap<String, u64> {
    let (status, body) = cloud.admin(reqwest::Method::GET, "/requests", None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body["requests"].clone()).expect("counts")
}

fn vpc_calls(c: &BTreeMap<String, u64>) -> u64 {
    c.iter()
        .filter(|(route, _)| route.contains(" /v1/"))
        .map(|(_, n)| n)
        .sum()
}

fn iam_calls(c: &BTreeMap<String, u64>) -> u64 {
    c.get("POST /identity/token").copied().unwrap_or(0)
}

fn report(phase: &str, c: &BTreeMap<String, u64>, took: Duration) -> f64 {
    let per = vpc_calls(c) as f64 / COUNT as f64;
    eprintln!(
        "FAULTS {phase}: {} VPC calls ({per:.1} per instance), {} IAM token calls, {:.1} s; by route: {c:?}",
        vpc_calls(c),
        iam_calls(c),
        took.as_secs_f64()
    );
    per
}

#[test]
fn faults_twenty_instances_converge_through_429s_503s_latency_and_expiring_tokens() {
    let name = "faults_twenty_instances_converge_through_429s_503s_latency_and_expiring_tokens";
    if !acceptance_enabled(name) {
        return;
    }
    let ms = Duration::from_millis;
    let delays = Delays {
        pending: ms(300),
        boot: ms(1500),
        stop: ms(300),
        reboot: ms(300),
        delete: ms(500),
        reject_stop: ms(500),
    };
    let cloud = Rc::new(Cloud::in_process(delays, Duration::from_secs(20)));
    let contract = cloud.contract_file();
    let cfg = cloud.fleet_config("storm", COUNT, &contract);

    let started = Rc::new(RefCell::new(Instant::now()));
    let after_apply = Rc::new(RefCell::new(BTreeMap::new()));
    let (storm, t0) = (cloud.clone(), started.clone());
    let (seen, t1, applied) = (cloud.clone(), started.clone(), after_apply.clone());
    let (after, t2) = (cloud.clone(), started.clone());
    TestCase {
        name,
        providers: provider(),
        env: cloud.env(),
        steps: vec![Step::config("apply 20 instances in the storm", cfg)
            .pre_config(move |_| {
                let (status, body) = storm.admin(
                    reqwest::Method::PUT,
                    "/faults",
                    Some(json!({
                        "latency_ms": 200,
                        "rate_429": 0.3,
                        "retry_after_secs": 1,
                        "rate_5xx": 0.1,
                        "status_5xx": 503,
                    })),
                );
                assert_eq!(status, 200, "{body}");
                assert_eq!(
                    storm.admin(reqwest::Method::DELETE, "/requests", None).0,
                    204
                );
                *t0.borrow_mut() = Instant::now();
            })
            .check(move |s| {
                let c = counts(&seen);
                report("plan + apply", &c, t1.borrow().elapsed());
                *applied.borrow_mut() = c;
                let listed: Vec<&Value> = s
                    .resources()
                    .into_iter()
                    .filter(|r| r["type"] == "hyperprotect_instance")
                    .filter_map(|r| r.get("values"))
                    .collect();
                if listed.len() != COUNT {
                    return Err(format!("{} instances in state", listed.len()));
                }
                for v in listed {
                    if v["status"] != "running" {
                        return Err(format!("{} is {}", v["name"], v["status"]));
                    }
                }
                Ok(())
            })],
        check_destroy: Some(Box::new(move |_| {
            let total = counts(&after);
            let took = t2.borrow().elapsed();
            // The storm is over; look with the test's own calls.
            assert_eq!(after.admin(reqwest::Method::DELETE, "/faults", None).0, 204);
            let left = after.instances();
            if !left.is_empty() {
                return Err(format!("mock-cloud still lists {left:?}"));
            }
            let apply = report("plan + apply", &after_apply.borrow(), Duration::ZERO);
            let whole = report("whole test (apply, empty plans, refresh, destroy)", &total, took);
            if apply > MAX_APPLY_CALLS_PER_INSTANCE {
                return Err(format!(
                    "{apply:.1} VPC calls per instance to apply (at most {MAX_APPLY_CALLS_PER_INSTANCE})"
                ));
            }
            if whole > MAX_TOTAL_CALLS_PER_INSTANCE {
                return Err(format!(
                    "{whole:.1} VPC calls per instance in all (at most {MAX_TOTAL_CALLS_PER_INSTANCE})"
                ));
            }
            Ok(())
        })),
    }
    .run();
}
