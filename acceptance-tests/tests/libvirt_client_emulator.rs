//! The provider's libvirt client against mock-cloud's KVM host, for the procedures the
//! real libvirtd's test driver cannot show (Secure Execution domain capabilities, volume
//! upload and download streams, consoles, DHCP leases, interface addresses, keepalive),
//! with `virsh` as the judge of what our streams wrote.

mod libvirt_support;

use std::time::Duration;

use acceptance_tests::harness::signed_contract;
use acceptance_tests::mock_cloud::libvirt::host::SEED_IMAGE;
use acceptance_tests::mock_cloud::libvirt::LibvirtHost;
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use hyperprotect::libvirt::{AddressSource, Client, ConnectOptions, DomainState};
use libvirt_support::{cidata_iso, guest_xml, libvirt_tools_available, vol_download};

/// Waits (up to 5 s) for the domain to power off.
async fn wait_until_shut_off(client: &Client, dom: &hyperprotect::libvirt::Domain) {
    let mut state = DomainState::Running;
    for _ in 0..100 {
        state = client.domain_get_state(dom).await.unwrap().0;
        if state == DomainState::Shutoff {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, DomainState::Shutoff);
}

async fn emulator() -> LibvirtHost {
    LibvirtHost::start("127.0.0.1:0".parse().unwrap(), false, None, None)
        .await
        .expect("start the KVM host")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_lifecycle_with_streams_over_our_client() {
    let kvm = emulator().await;
    let client = Client::connect(&kvm.uri(), ConnectOptions::default())
        .await
        .unwrap();

    let caps = client
        .domain_capabilities(None, Some("s390x"), Some("s390-ccw-virtio"), Some("kvm"))
        .await
        .unwrap();
    assert!(caps.contains("<s390-pv supported='yes'/>"), "{caps}");
    assert!(client.capabilities().await.unwrap().contains("s390x"));

    // Volumes: clone the image, upload a cidata disk, create the console log.
    let pool = client.storage_pool_lookup_by_name("default").await.unwrap();
    client.storage_pool_refresh(&pool).await.unwrap();
    let image = client
        .storage_vol_lookup_by_name(&pool, SEED_IMAGE)
        .await
        .unwrap();
    let boot = client
        .storage_vol_create_xml_from(
            &pool,
            "<volume><name>guest-a-boot.qcow2</name><target><format type='qcow2'/></target></volume>",
            &image,
        )
        .await
        .unwrap();
    assert_eq!(
        client.storage_vol_get_info(&boot).await.unwrap().capacity,
        client.storage_vol_get_info(&image).await.unwrap().capacity
    );
    let cidata: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let iso = client
        .storage_vol_create_xml(
            &pool,
            "<volume><name>guest-a-cidata.iso</name><capacity unit='bytes'>600000</capacity><target><format type='raw'/></target></volume>",
        )
        .await
        .unwrap();
    let sent = client
        .storage_vol_upload(&iso, 0, 0)
        .await
        .unwrap()
        .upload_from(&cidata[..])
        .await
        .unwrap();
    assert_eq!(sent, 600_000);
    let mut back = Vec::new();
    client
        .storage_vol_download(&iso, 0, 0)
        .await
        .unwrap()
        .download_to(&mut back)
        .await
        .unwrap();
    assert_eq!(back, cidata);
    let log = client
        .storage_vol_create_xml(
            &pool,
            "<volume><name>guest-a-console.log</name><capacity unit='bytes'>0</capacity></volume>",
        )
        .await
        .unwrap();

    // Define, start, inspect.
    let dom = client
        .domain_define_xml(&guest_xml(
            "guest-a",
            2048,
            &["guest-a-boot.qcow2", "guest-a-cidata.iso"],
            Some("52:54:00:aa:bb:01"),
        ))
        .await
        .unwrap();
    assert_eq!(dom.id, -1);
    assert_eq!(
        client.domain_lookup_by_uuid(&dom.uuid).await.unwrap().name,
        "guest-a"
    );
    let running = client.domain_create(&dom).await.unwrap();
    assert!(running.id > 0);
    assert_eq!(
        client.domain_get_state(&dom).await.unwrap().0,
        DomainState::Running
    );
    let info = client.domain_get_info(&dom).await.unwrap();
    assert_eq!((info.max_memory_kib, info.vcpus), (2048 * 1024, 2));
    let xml = client.domain_get_xml_desc(&dom, 0).await.unwrap();
    assert!(xml.contains("<launchSecurity type='s390-pv'/>"), "{xml}");

    // Addresses from the network's DHCP leases, both ways.
    let net = client.network_lookup_by_name("default").await.unwrap();
    let leases = client
        .network_get_dhcp_leases(&net, Some("52:54:00:aa:bb:01"))
        .await
        .unwrap();
    assert_eq!(leases.len(), 1);
    assert!(leases[0].ip_address.starts_with("192.168.122."));
    assert_eq!(leases[0].hostname.as_deref(), Some("guest-a"));
    let ifaces = client
        .domain_interface_addresses(&dom, AddressSource::Lease)
        .await
        .unwrap();
    assert_eq!(ifaces[0].hwaddr.as_deref(), Some("52:54:00:aa:bb:01"));
    assert_eq!(ifaces[0].addresses[0].address, leases[0].ip_address);

    // The console: what we type comes back (the guest's terminal echoes it).
    let mut console = client.domain_open_console(&dom, None, 0).await.unwrap();
    console.send(b"ping\r").await.unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("ping\r\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), console.recv())
            .await
            .expect("console output")
            .unwrap()
            .expect("console still open");
        seen.extend(chunk);
    }
    console.finish().await.unwrap();

    // The console log volume, read back over a download stream.
    let mut text = Vec::new();
    client
        .storage_vol_download(&log, 0, 0)
        .await
        .unwrap()
        .download_to(&mut text)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&text).contains("guest guest-a started"));

    // Graceful shutdown, then start again and destroy; undefine; delete volumes.
    client.domain_shutdown(&dom).await.unwrap();
    wait_until_shut_off(&client, &dom).await;
    client.domain_create(&dom).await.unwrap();
    client.domain_destroy(&dom).await.unwrap();
    client.domain_undefine(&dom, 0).await.unwrap();
    assert!(client
        .find_domain_by_name("guest-a")
        .await
        .unwrap()
        .is_none());
    for v in [&boot, &iso, &log] {
        client.storage_vol_delete(v).await.unwrap();
    }
    assert!(client
        .find_storage_vol(&pool, "guest-a-cidata.iso")
        .await
        .unwrap()
        .is_none());
    let err = client.storage_vol_delete(&iso).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_our_client_uploads_virsh_downloads() {
    if !libvirt_tools_available() {
        return;
    }
    let kvm = emulator().await;
    let client = Client::connect(&kvm.uri(), ConnectOptions::default())
        .await
        .unwrap();
    let pool = client.storage_pool_lookup_by_name("default").await.unwrap();
    let vol = client
        .storage_vol_create_xml(
            &pool,
            "<volume><name>judge.iso</name><capacity unit='bytes'>300000</capacity></volume>",
        )
        .await
        .unwrap();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut up = client.storage_vol_upload(&vol, 0, 0).await.unwrap();
    up.send(&payload).await.unwrap();
    up.finish().await.unwrap();
    let uri = kvm.uri();
    let got = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("judge.iso");
        vol_download(&uri, "judge.iso", &f);
        std::fs::read(f).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(got, payload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_keeps_an_idle_connection_and_errors_name_the_object() {
    let kvm = emulator().await;
    let client = Client::connect(
        &kvm.uri(),
        ConnectOptions {
            keepalive_interval: Some(Duration::from_millis(100)),
            keepalive_count: 2,
            ..ConnectOptions::default()
        },
    )
    .await
    .unwrap();
    // Idle for many keepalive intervals: the host answers our PINGs, so we stay connected.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(client.is_open());
    let err = client.domain_lookup_by_name("nobody").await.unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("nobody"), "{err}");
    assert!(client.find_network("nonet").await.unwrap().is_none());
    assert!(client.find_storage_pool("nopool").await.unwrap().is_none());
    let err = client
        .domain_define_xml("<domain type='kvm'><name>x</name></domain>")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("memory"), "{err}");
}

const ENV: &str = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\n";

/// Uploads `iso` as NAME-cidata.iso next to a clone of the image and a console log,
/// defines and starts NAME, and returns the console log's text once `until` appears in
/// it (or after 10 s).
async fn boot_guest(
    client: &Client,
    name: &str,
    iso: &[u8],
    until: &str,
) -> (hyperprotect::libvirt::Domain, String) {
    let pool = client.storage_pool_lookup_by_name("default").await.unwrap();
    let image = client
        .storage_vol_lookup_by_name(&pool, SEED_IMAGE)
        .await
        .unwrap();
    let boot = format!("{name}-boot.qcow2");
    let cidata = format!("{name}-cidata.iso");
    client
        .storage_vol_create_xml_from(
            &pool,
            &format!("<volume><name>{boot}</name></volume>"),
            &image,
        )
        .await
        .unwrap();
    let vol = client
        .storage_vol_create_xml(
            &pool,
            &format!(
                "<volume><name>{cidata}</name><capacity unit='bytes'>{}</capacity></volume>",
                iso.len()
            ),
        )
        .await
        .unwrap();
    client
        .storage_vol_upload(&vol, 0, 0)
        .await
        .unwrap()
        .upload_from(iso)
        .await
        .unwrap();
    let log = client
        .storage_vol_create_xml(
            &pool,
            &format!("<volume><name>{name}-console.log</name><capacity unit='bytes'>0</capacity></volume>"),
        )
        .await
        .unwrap();
    let dom = client
        .domain_define_xml(&guest_xml(name, 2048, &[&boot, &cidata], None))
        .await
        .unwrap();
    client.domain_create(&dom).await.unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        let mut bytes = Vec::new();
        client
            .storage_vol_download(&log, 0, 0)
            .await
            .unwrap()
            .download_to(&mut bytes)
            .await
            .unwrap();
        text = String::from_utf8_lossy(&bytes).into_owned();
        if text.contains(until) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (dom, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_boots_its_contract_from_the_cidata_disk() {
    if !libvirt_tools_available() {
        return;
    }
    let pki = Pki::generate_in_memory(&PkiOptions {
        ca_bits: RsaBits::Rsa2048,
        encryption_bits: RsaBits::Rsa2048,
        attestation_bits: RsaBits::Rsa2048,
    })
    .unwrap();
    let contract = signed_contract(&pki.encryption_cert, ENV);
    let kvm = LibvirtHost::start("127.0.0.1:0".parse().unwrap(), false, None, Some(pki))
        .await
        .unwrap();
    let client = Client::connect(&kvm.uri(), ConnectOptions::default())
        .await
        .unwrap();

    // An accepted contract: the guest confirms its start on the console log.
    let (dom, log) = boot_guest(&client, "good", &cidata_iso(&contract), "HPL10001I").await;
    assert!(log.contains("HPL10001I"), "{log}");
    assert!(!log.contains("HPL11001E"), "{log}");
    assert_eq!(
        client.domain_get_state(&dom).await.unwrap().0,
        DomainState::Running
    );

    // A rejected contract: the HPL…E line, then the guest powers off.
    let (dom, log) = boot_guest(
        &client,
        "bad",
        &cidata_iso("workload: not-encrypted\n"),
        "HPL11001E",
    )
    .await;
    assert!(log.contains("HPL11001E INVALID_CONTRACT"), "{log}");
    assert!(!log.contains("HPL10001I"), "{log}");
    wait_until_shut_off(&client, &dom).await;
}
