//! Load benchmark for mock-cloud (127.0.0.1 only): creates 200 instances concurrently, then
//! runs instance GETs from concurrent clients for a bounded time and prints requests/s and
//! latency percentiles; with the platform PKI available, also 50 concurrent Hyper Protect
//! creates. Server and client share the process (and the machine's cores).
//!
//! `cargo bench -p acceptance-tests --bench mock_load` ; tune with MOCK_LOAD_SECS (default 10),
//! MOCK_LOAD_CONCURRENCY (default 64), MOCK_LOAD_INSTANCES (default 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use acceptance_tests::mock_cloud::{Config, MockCloud, PkiMode};
use serde_json::{json, Value};

const VERSION: &str = "version=2025-07-01&generation=2";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(what: &str, count: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: {count} requests in {:.2} s = {:.0} req/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.90)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
}

async fn run() -> Result<(), String> {
    let secs = env_num("MOCK_LOAD_SECS", 10);
    let concurrency = env_num("MOCK_LOAD_CONCURRENCY", 64) as usize;
    let instances = env_num("MOCK_LOAD_INSTANCES", 200) as usize;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // With the platform PKI the Hyper Protect phase runs too; without it, it is skipped.
    let (cloud, have_pki) = match MockCloud::start(Config::new(dir.path())).await {
        Ok(c) => (c, true),
        Err(e) => {
            println!("no platform PKI ({e}): Hyper Protect phase skipped");
            let mut cfg = Config::new(dir.path());
            cfg.pki = PkiMode::Disabled;
            (
                MockCloud::start(cfg).await.map_err(|e| e.to_string())?,
                false,
            )
        }
    };
    let url = cloud.url().to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(instances))
        .build()
        .map_err(|e| e.to_string())?;

    let tok: Value = http
        .post(format!("{url}/identity/token"))
        .form(&[
            ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
            ("apikey", "bench"),
        ])
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = tok["access_token"].as_str().ok_or("no token")?.to_string();
    let get_json = |path: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            http.get(path)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json::<Value>()
                .await
                .map_err(|e| e.to_string())
        }
    };
    let images = get_json(format!(
        "{url}/v1/images?name=ibm-ubuntu-24-04-3-minimal-amd64-2&{VERSION}"
    ))
    .await?;
    let subnets = get_json(format!("{url}/v1/subnets?zone.name=us-south-2&{VERSION}")).await?;
    let proto = json!({
        "profile": {"name": "bx2-2x8"},
        "image": {"id": images["images"][0]["id"]},
        "zone": {"name": "us-south-2"},
        "primary_network_interface": {"subnet": {"id": subnets["subnets"][0]["id"]}},
    });

    // Phase 1: concurrent creates (each persisted before it is answered).
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..instances {
        let mut body = proto.clone();
        body["name"] = json!(format!("bench-{i}"));
        let (http, token, url) = (http.clone(), token.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = http
                .post(format!("{url}/v1/instances?{VERSION}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status().as_u16() != 201 {
                return Err(format!("create {i}: {}", r.status()));
            }
            let v: Value = r.json().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((
                t.elapsed(),
                v["id"].as_str().unwrap_or_default().to_string(),
            ))
        }));
    }
    let mut ids = Vec::new();
    let mut lat = Vec::new();
    for t in tasks {
        let (d, id) = t.await.map_err(|e| e.to_string())??;
        lat.push(d);
        ids.push(id);
    }
    report("create (concurrent)", instances, started.elapsed(), lat);
    let state_size = std::fs::metadata(dir.path().join("state.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("state.json: {state_size} bytes for {instances} instances");

    // Phase 2: GET /instances/{id} from `concurrency` clients for `secs` seconds.
    let ids = Arc::new(ids);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (http, token, url, ids) = (http.clone(), token.clone(), url.clone(), ids.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut n = w;
            while Instant::now() < deadline {
                let id = &ids[n % ids.len()];
                n += concurrency;
                let t = Instant::now();
                let ok = match http
                    .get(format!("{url}/v1/instances/{id}?{VERSION}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                lat.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    let n = lat.len();
    report(
        &format!("GET instance ({concurrency} concurrent clients)"),
        n,
        elapsed,
        lat,
    );
    println!("errors: {errors}");

    // Phase 3: Hyper Protect creates, each evaluating a contract with an attestation key.
    if have_pki {
        let hpcr = get_json(format!(
            "{url}/v1/images?name=ibm-hyper-protect-container-runtime-1-0-s390x-29&{VERSION}"
        ))
        .await?;
        let key = openssl::rsa::Rsa::generate(2048).map_err(|e| e.to_string())?;
        let pem = String::from_utf8(key.public_key_to_pem().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let contract = plaintext_contract(&pem);
        let n = 50;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..n {
            let mut body = proto.clone();
            body["name"] = json!(format!("hpcr-{i}"));
            body["profile"] = json!({"name": "bz2e-1x4"});
            body["image"] = json!({"id": hpcr["images"][0]["id"]});
            body["user_data"] = json!(contract);
            let (http, token, url) = (http.clone(), token.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let r = http
                    .post(format!("{url}/v1/instances?{VERSION}"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status().as_u16() != 201 {
                    return Err(format!("hpcr create {i}: {}", r.status()));
                }
                Ok::<_, String>(t.elapsed())
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.push(t.await.map_err(|e| e.to_string())??);
        }
        report(
            "Hyper Protect create (concurrent)",
            n,
            started.elapsed(),
            lat,
        );
    }
    cloud.shutdown().await.map_err(|e| e.to_string())?;
    if errors > 0 {
        return Err(format!("{errors} failed requests"));
    }
    Ok(())
}

/// A schema-valid plaintext contract (compose archive with one service, log-router logging)
/// asking for an attestation record encrypted to `pem`.
fn plaintext_contract(pem: &str) -> String {
    let mut c = String::from(
        "workload: |\n  type: workload\n  compose:\n    archive: H4sIAAAAAAAAA+3SwWrDMAyA4Zz7FCLnrrWTNIWc9h5lBycxS1gyDbsdzdsvzbGF7rDCNvi/i4wksBBqtXnz4anR8UOj30zjkDycmZVFscTZdTRZvk9ssc931mTlJW/zzNpEzONHuXWKRxdEkqB6vNf3Xf2fij589o2P1Uqk88Ogl4dIP7pXX0m7XMem1+3Q18GFaVuf4lTr+Tl2LtuVlfmh5bP5+Eb33lZySH3TabqWdBklfVn99noAAAAAAAAAAAAAAAAA4M/6AnpD/50AKAAA\n",
    );
    c.push_str("env: |\n  type: env\n  logging:\n    logRouter:\n      hostname: logs.example.com\n      iamApiKey: placeholder-not-a-key\n");
    c.push_str("attestationPublicKey: |\n");
    for line in pem.lines() {
        c.push_str("  ");
        c.push_str(line);
        c.push('\n');
    }
    c
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run()) {
        eprintln!("mock_load: {e}");
        std::process::exit(1);
    }
}
