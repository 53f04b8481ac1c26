//! The provider binary as Terraform sees it: launched with go-plugin's environment, it must
//! print a valid handshake, accept only Terraform's AutoMTLS client, serve gRPC, and exit
//! promptly and cleanly on Shutdown or SIGTERM, but not on SIGINT.

mod runtime_support;

use std::time::{Duration, Instant};

use hyperprotect::runtime::proto::plugin::{
    grpc_broker_client::GrpcBrokerClient, grpc_controller_client::GrpcControllerClient,
    grpc_stdio_client::GrpcStdioClient, ConnInfo, Empty,
};
use hyperprotect::runtime::proto::tfplugin6::{
    configure_provider, get_provider_schema, provider_client::ProviderClient, DynamicValue,
};
use openssl::nid::Nid;
use runtime_support::{
    plaintext_channel, terraform_tls_context, tls_channel, tls_connect, ClientIdentity, Plugin,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

async fn health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// Calls Shutdown and returns how long the process took to exit after it.
async fn shutdown_and_wait(plugin: &mut Plugin, channel: Channel) -> Duration {
    let started = Instant::now();
    // Like Terraform, tolerate the call itself racing with the exit.
    drop(GrpcControllerClient::new(channel).shutdown(Empty {}).await);
    let status = plugin
        .wait_exit_async(Duration::from_secs(3))
        .await
        .expect("process exits after Shutdown");
    assert!(status.success(), "exit status {status:?}");
    let took = started.elapsed();
    eprintln!("process exited {took:?} after Shutdown was called");
    took
}

#[tokio::test]
async fn mutual_tls_serves_grpc_and_shuts_down_like_go_plugin() {
    let client = ClientIdentity::go_plugin();
    let mut plugin = Plugin::terraform(Some(&client), &[]);
    let handshake = plugin.handshake();

    assert_eq!(handshake.core, "1");
    assert_eq!(handshake.app, "6");
    assert_eq!(handshake.network, "unix");
    assert_eq!(handshake.protocol, "grpc");
    assert!(!handshake.cert_base64.contains('='), "no base64 padding");
    assert!(
        handshake.cert_base64.len() > 50,
        "Terraform ignores short certificates"
    );
    let server_cert = handshake.server_cert();
    let sans: Vec<String> = server_cert
        .subject_alt_names()
        .expect("SAN")
        .iter()
        .filter_map(|n| n.dnsname().map(str::to_owned))
        .collect();
    assert_eq!(sans, ["localhost"]);
    assert_eq!(
        server_cert.public_key().expect("key").id(),
        openssl::pkey::Id::EC
    );
    let socket = plugin.socket_path(&handshake);
    assert!(socket.starts_with(plugin.tmp.path()), "socket under TMPDIR");
    assert!(socket.exists());

    let channel = tls_channel(&handshake, &client).await;
    assert_eq!(
        health(channel.clone()).await.expect("health"),
        ServingStatus::Serving
    );

    let schema = ProviderClient::new(channel.clone())
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .expect("provider schema")
        .into_inner();
    assert!(schema.provider.is_some(), "{schema:?}");
    assert!(schema.diagnostics.is_empty(), "{schema:?}");

    // A 5 MiB request passes tonic's 4 MiB default only because the limit was raised: it
    // reaches the handler, which answers its undecodable config with a diagnostic.
    let big = ProviderClient::new(channel.clone())
        .max_encoding_message_size(64 << 20)
        .configure_provider(configure_provider::Request {
            terraform_version: "1.0.3".into(),
            config: Some(DynamicValue {
                msgpack: vec![0xc0; 5 << 20],
                json: Vec::new(),
            }),
            client_capabilities: None,
        })
        .await
        .expect("configure answers with diagnostics, not a transport error")
        .into_inner();
    assert!(
        big.diagnostics
            .iter()
            .any(|d| d.summary == "Invalid value from Terraform"),
        "{big:?}"
    );

    let mut stdio = GrpcStdioClient::new(channel.clone())
        .stream_stdio(())
        .await
        .expect("stdio stream opens")
        .into_inner();
    let idle = tokio::time::timeout(Duration::from_millis(100), stdio.message()).await;
    assert!(idle.is_err(), "stdio stays open and quiet: {idle:?}");
    let _broker = GrpcBrokerClient::new(channel.clone())
        .start_stream(tokio_stream::iter(Vec::<ConnInfo>::new()))
        .await
        .expect("broker stream accepted");

    let took = shutdown_and_wait(&mut plugin, channel).await;
    assert!(
        took < Duration::from_secs(1),
        "exited {took:?} after Shutdown"
    );
    assert!(!socket.exists(), "socket removed");
    assert!(
        !socket.parent().expect("dir").exists(),
        "socket directory removed"
    );
    assert!(
        plugin.stdout.try_recv().is_err(),
        "nothing on stdout after the handshake"
    );
}

#[tokio::test]
async fn a_different_client_certificate_is_refused_and_serving_continues() {
    let client = ClientIdentity::go_plugin();
    let mut plugin = Plugin::terraform(Some(&client), &[("TF_LOG", "WARN")]);
    let handshake = plugin.handshake();
    let server_cert = handshake.server_cert();

    // A stranger's certificate, and a leaf that chains to the pinned certificate (which is a
    // CA) but is not it: both must be turned away.
    let stranger = ClientIdentity::go_plugin();
    let subordinate = ClientIdentity::issued_by(&client);
    for intruder in [&stranger, &subordinate] {
        let mut builder =
            openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::tls_client()).expect("ctx");
        builder.set_certificate(&intruder.cert).expect("cert");
        builder.set_private_key(&intruder.key).expect("key");
        builder
            .add_extra_chain_cert(client.cert.clone())
            .expect("chain");
        builder.set_alpn_protos(b"\x02h2").expect("alpn");
        let ctx = builder.build();
        assert!(
            refused(&handshake, &ctx).await,
            "intruder got an HTTP/2 answer"
        );
    }
    // The genuine certificate with the same raw client does get an answer, so the checks above
    // measure the certificate, not the client code.
    assert!(!refused(&handshake, &terraform_tls_context(&client, &server_cert)).await);

    // No client certificate at all is refused too.
    let mut anonymous =
        openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::tls_client()).expect("ctx");
    anonymous.set_alpn_protos(b"\x02h2").expect("alpn");
    assert!(refused(&handshake, &anonymous.build()).await);

    // The server is still up for the real client.
    let channel = tls_channel(&handshake, &client).await;
    assert_eq!(
        health(channel.clone()).await.expect("health"),
        ServingStatus::Serving
    );
    assert!(plugin.child.try_wait().expect("try_wait").is_none());
    shutdown_and_wait(&mut plugin, channel).await;
    let stderr = plugin.stderr.text();
    assert!(
        stderr.contains("TLS handshake with a client failed"),
        "refusal is logged: {stderr}"
    );
    assert!(!stderr.contains("PRIVATE KEY"), "no key material in logs");
}

/// Whether the server refuses a raw TLS client: with TLS 1.3 the server judges the client
/// certificate after the client has finished its side, so a refusal shows up at connect or as
/// an alert/close on first use instead of the server's HTTP/2 SETTINGS frame.
async fn refused(handshake: &runtime_support::Handshake, ctx: &openssl::ssl::SslContext) -> bool {
    let Ok(mut stream) = tls_connect(handshake, ctx).await else {
        return true;
    };
    drop(stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await);
    let mut buf = [0u8; 64];
    !matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

#[test]
fn without_the_cookie_it_explains_itself_and_exits_1() {
    let output = std::process::Command::new(runtime_support::BINARY)
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("This binary is a plugin"), "{stderr}");
    assert!(stderr.contains("--debug"), "{stderr}");
}

#[test]
fn protocol_5_only_is_a_clear_error() {
    let output = std::process::Command::new(runtime_support::BINARY)
        .env_clear()
        .env("TF_PLUGIN_MAGIC_COOKIE", runtime_support::COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PLUGIN_PROTOCOL_VERSIONS is \"5\""),
        "{stderr}"
    );
    assert!(stderr.contains("protocol 6"), "{stderr}");
}

#[test]
fn help_prints_usage() {
    let output = std::process::Command::new(runtime_support::BINARY)
        .arg("--help")
        .env_clear()
        .output()
        .expect("run");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("--debug") && stdout.contains("Usage"),
        "{stdout}"
    );
}

#[tokio::test]
async fn tls_disabled_serves_plaintext_grpc() {
    let mut plugin = Plugin::terraform(None, &[("TF_DISABLE_PLUGIN_TLS", "1")]);
    let line = plugin.read_line(Duration::from_secs(20));
    assert!(line.ends_with("|grpc|\n"), "{line:?}");
    let handshake = runtime_support::Handshake::parse(&line);
    let channel = plaintext_channel(&handshake.network, &handshake.address).await;
    assert_eq!(
        health(channel.clone()).await.expect("health"),
        ServingStatus::Serving
    );
    let took = shutdown_and_wait(&mut plugin, channel).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn debug_mode_prints_reattach_config_and_stops_on_ctrl_c() {
    let mut plugin = Plugin::spawn(&["--debug"], &[]);
    let first = plugin.read_line(Duration::from_secs(20));
    assert!(
        first.starts_with("Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:"),
        "{first:?}"
    );
    let json = loop {
        let line = plugin.read_line(Duration::from_secs(5));
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            break rest.strip_suffix('\'').expect("closing quote").to_owned();
        }
    };
    let config: serde_json::Value = serde_json::from_str(&json).expect("reattach JSON");
    let entry = &config["registry.terraform.io/hyperprotect/hyperprotect"];
    assert_eq!(entry["Test"], true);
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["Pid"], plugin.pid());
    assert_eq!(entry["Addr"]["Network"], "unix");
    let address = entry["Addr"]["String"]
        .as_str()
        .expect("address")
        .to_owned();

    let channel = plaintext_channel("unix", &address).await;
    assert_eq!(
        health(channel).await.expect("health"),
        ServingStatus::Serving
    );

    plugin.signal("INT");
    let status = plugin
        .wait_exit_async(Duration::from_secs(2))
        .await
        .expect("Ctrl-C stops debug mode");
    assert!(status.success(), "{status:?}");
    assert!(!std::path::Path::new(&address).exists(), "socket removed");
}

#[tokio::test]
async fn sigint_is_ignored_sigterm_stops_and_logs_are_hclog_json() {
    let client = ClientIdentity::go_plugin();
    let mut plugin = Plugin::terraform(Some(&client), &[("TF_LOG", "DEBUG")]);
    let handshake = plugin.handshake();
    let channel = tls_channel(&handshake, &client).await;
    assert_eq!(
        health(channel.clone()).await.expect("health"),
        ServingStatus::Serving
    );

    plugin.signal("INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        plugin.child.try_wait().expect("try_wait").is_none(),
        "SIGINT must not kill a managed provider"
    );
    assert_eq!(
        health(channel).await.expect("still serving"),
        ServingStatus::Serving
    );

    plugin.signal("TERM");
    let status = plugin
        .wait_exit_async(Duration::from_secs(1))
        .await
        .expect("SIGTERM stops the provider within 1 s");
    assert!(status.success(), "{status:?}");
    assert!(!plugin.socket_path(&handshake).exists());

    // stderr is closed once the process is gone; give the reader thread a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stderr = plugin.stderr.text();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        for key in ["@level", "@message", "@module", "@timestamp"] {
            assert!(line[key].is_string(), "{key} missing in {line}");
        }
        let level = line["@level"].as_str().unwrap_or_default();
        assert!(
            ["debug", "info", "warn", "error"].contains(&level),
            "{line}"
        );
        assert!(line["@module"]
            .as_str()
            .unwrap_or_default()
            .starts_with("provider"));
    }
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["@message"].as_str())
        .collect();
    assert!(
        messages.contains(&"received interrupt, ignoring"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"plugin server listening"),
        "{messages:?}"
    );
    let stamp = lines[0]["@timestamp"].as_str().unwrap_or_default();
    assert_eq!(stamp.len(), 27, "RFC 3339 with microseconds: {stamp}");
}

#[test]
fn client_certificate_matches_go_plugin_shape() {
    // Guards the test fixture itself: if it drifted from go-plugin's, the mTLS tests above
    // would prove less than they claim.
    let client = ClientIdentity::go_plugin();
    let key = client.cert.public_key().expect("key").ec_key().expect("ec");
    assert_eq!(key.group().curve_name(), Some(Nid::SECP521R1));
    assert_eq!(
        client.cert.signature_algorithm().object().nid(),
        Nid::ECDSA_WITH_SHA512
    );
    let text = String::from_utf8(client.cert.to_text().expect("text")).expect("utf8");
    assert!(
        text.contains("Subject: O=HashiCorp, CN=localhost"),
        "{text}"
    );
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("DNS:localhost"), "{text}");
}

/// The real thing: Terraform launches the binary through `dev_overrides` with its own
/// go-plugin client (Go TLS, P-521 client certificate), speaks protocol 6, and ends the
/// process with Shutdown. The provider's answers do not matter here, only that transport,
/// logging and exit worked, so it holds whatever resources the provider serves.
/// Runs when `TF_ACC_TERRAFORM_PATH` names a Terraform binary (the test command sets it).
#[test]
fn terraform_launches_talks_to_and_stops_the_provider() {
    let Ok(terraform) = std::env::var("TF_ACC_TERRAFORM_PATH") else {
        eprintln!("skipped: set TF_ACC_TERRAFORM_PATH to a terraform binary to run this test");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let binary_dir = std::path::Path::new(runtime_support::BINARY)
        .parent()
        .expect("binary directory");
    std::fs::write(
        dir.path().join("cli.tfrc"),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"hyperprotect/hyperprotect\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            binary_dir.display()
        ),
    )
    .expect("cli config");
    std::fs::write(
        dir.path().join("main.tf"),
        "terraform {\n  required_providers {\n    hyperprotect = { source = \"hyperprotect/hyperprotect\" }\n  }\n}\n",
    )
    .expect("main.tf");
    let output = std::process::Command::new(terraform)
        .args(["validate", "-no-color"])
        .current_dir(dir.path())
        .env("TF_CLI_CONFIG_FILE", dir.path().join("cli.tfrc"))
        .env("TF_LOG", "TRACE")
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("TF_LOG_PROVIDER")
        .env_remove("TF_LOG_PATH")
        .output()
        .expect("run terraform");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("configuring client automatic mTLS"),
        "AutoMTLS on"
    );
    assert!(
        log.contains("using plugin: version=6"),
        "protocol 6 negotiated"
    );
    // Our hclog line, parsed by Terraform and re-logged under the provider's name.
    assert!(
        log.contains("provider.terraform-provider-hyperprotect: plugin server listening"),
        "provider log lines are parsed as hclog JSON"
    );
    assert!(
        log.contains("GRPCProvider.v6: GetProviderSchema"),
        "an RPC was made"
    );
    for failure in [
        "Unrecognized remote plugin message",
        "authentication handshake failed",
        "Incompatible API version",
        "plugin failed to exit gracefully",
    ] {
        assert!(!log.contains(failure), "Terraform reported {failure:?}");
    }
    assert!(
        log.contains("provider: plugin exited"),
        "provider exited after Shutdown"
    );
    // No h2/hyper frame-level noise in TF_LOG=TRACE output.
    assert!(
        !log.contains("@module=provider.h2."),
        "dependency traces are filtered"
    );
}
