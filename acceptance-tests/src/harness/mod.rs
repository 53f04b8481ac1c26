//! Acceptance-test harness: runs the real Terraform CLI against providers built from this
//! tree, step by step, the way hashicorp/terraform-plugin-testing does.
//!
//! A [`TestCase`] is a list of [`Step`]s. A config step writes the configuration, plans
//! (optionally checking the saved plan), applies, checks the state, then requires the
//! non-refresh plan to be empty, refreshes and requires the plan to be empty again. An import
//! step imports into a fresh working directory and compares the imported state with the
//! previous step's. After the last step everything is destroyed and checked gone.
//!
//! Providers are installed through a `dev_overrides` CLI configuration, so Terraform launches
//! the built binaries itself, with go-plugin's handshake and mutual TLS, exactly as a user's
//! Terraform would.
//!
//! Gates and knobs (named like terraform-plugin-testing's):
//! - `TF_ACC`: unset → acceptance tests are skipped (with a message); set → they run.
//! - `TF_ACC_TERRAFORM_PATH`: the Terraform binary (the test command installs 1.0.3 and
//!   1.15.5 and runs the acceptance tests once with each). Tests that use a newer feature gate
//!   on [`terraform_version`] (e.g. [`TerraformVersion::supports_write_only`]) and check the
//!   older behaviour otherwise. The second run finds acceptance tests by name: call them
//!   `test_acc_*`.
//! - `TF_ACC_PERSIST_WORKING_DIR`: keep working directories for inspection.
//! - `TF_ACC_LOG`: pass `TF_LOG` through to Terraform (e.g. `DEBUG`).

pub mod cloud_api;
pub mod contracts;
mod state;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use cloud_api::CloudApi;
pub use contracts::{signed_contract, TEST_WORKLOAD};
pub use state::{PlanJson, StateJson};

/// A provider binary built from this tree and the source address Terraform knows it by.
#[derive(Clone, Debug)]
pub struct ProviderUnderTest {
    /// e.g. `hyperprotect/hyperprotect` (host `registry.terraform.io` is implied).
    pub source: String,
    pub binary: PathBuf,
}

impl ProviderUnderTest {
    pub fn new(source: &str, binary: impl Into<PathBuf>) -> Self {
        ProviderUnderTest {
            source: source.to_string(),
            binary: binary.into(),
        }
    }

    /// The workspace's `terraform-provider-hyperprotect` from the same build as the tests.
    pub fn hyperprotect() -> Self {
        ProviderUnderTest::new(
            "hyperprotect/hyperprotect",
            built_binary("terraform-provider-hyperprotect"),
        )
    }
}

/// A binary built by the same `cargo test` run, found beside the test executable's
/// `deps/` folder (cargo builds every binary of the workspace before running any test).
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile dir");
    dir.join(name)
}

type Check<T> = Box<dyn Fn(&T) -> Result<(), String>>;
type Hook = Box<dyn Fn(&Path)>;

/// How an import step finds the id to import.
pub enum ImportId {
    Literal(String),
    /// The value of this attribute of the imported resource in the previous step's state.
    FromState(&'static str),
}

pub struct Import {
    pub address: String,
    pub id: ImportId,
    /// Compare the imported attributes with the previous step's state.
    pub verify: bool,
    /// Attributes that cannot be imported (e.g. write-only inputs).
    pub verify_ignore: Vec<&'static str>,
}

/// One step of a test case.
pub struct Step {
    pub name: &'static str,
    pub config: String,
    /// The step must fail with an error matching this pattern (and is then done).
    pub expect_error: Option<regex::Regex>,
    /// Skip the empty-plan checks after apply (for steps that knowingly leave drift).
    pub expect_non_empty_plan: bool,
    /// Checks on the saved plan, before apply.
    pub plan_check: Option<Check<PlanJson>>,
    /// Checks on the state after apply.
    pub check: Option<Check<StateJson>>,
    /// Runs before the step with the working directory (e.g. to change the real object
    /// behind Terraform's back, or to rewrite the state file).
    pub pre_config: Option<Hook>,
    pub import: Option<Import>,
    /// Only plan (with refresh) and check the plan; never apply.
    pub plan_only: bool,
}

impl Step {
    pub fn config(name: &'static str, config: impl Into<String>) -> Step {
        Step {
            name,
            config: config.into(),
            expect_error: None,
            expect_non_empty_plan: false,
            plan_check: None,
            check: None,
            pre_config: None,
            import: None,
            plan_only: false,
        }
    }
    pub fn import(name: &'static str, config: impl Into<String>, import: Import) -> Step {
        Step {
            import: Some(import),
            ..Step::config(name, config)
        }
    }
    pub fn expect_error(mut self, pattern: &str) -> Step {
        self.expect_error = Some(regex::Regex::new(pattern).expect("valid expect_error regex"));
        self
    }
    /// The step must fail with an error whose summary matches `summary`, pointed at
    /// `attribute` (Terraform then quotes its configuration line, `N:   attribute = …`,
    /// between the summary and the detail), and whose detail matches `detail`.
    pub fn expect_error_at(self, attribute: &str, summary: &str, detail: &str) -> Step {
        let attribute = regex::escape(attribute);
        self.expect_error(&format!(r"(?s){summary}.*\d+:\s+{attribute}\s+=.*{detail}"))
    }
    pub fn check(mut self, f: impl Fn(&StateJson) -> Result<(), String> + 'static) -> Step {
        self.check = Some(Box::new(f));
        self
    }
    pub fn plan_check(mut self, f: impl Fn(&PlanJson) -> Result<(), String> + 'static) -> Step {
        self.plan_check = Some(Box::new(f));
        self
    }
    pub fn pre_config(mut self, f: impl Fn(&Path) + 'static) -> Step {
        self.pre_config = Some(Box::new(f));
        self
    }
    pub fn plan_only(mut self) -> Step {
        self.plan_only = true;
        self.expect_non_empty_plan = true;
        self
    }
    pub fn expect_non_empty_plan(mut self) -> Step {
        self.expect_non_empty_plan = true;
        self
    }
}

/// A sequence of steps against one set of providers, then destroy.
pub struct TestCase {
    pub name: &'static str,
    pub providers: Vec<ProviderUnderTest>,
    pub steps: Vec<Step>,
    /// Extra environment for Terraform and the providers it launches.
    pub env: Vec<(String, String)>,
    pub check_destroy: Option<Check<StateJson>>,
}

/// The Terraform CLI found for this run.
pub struct Terraform {
    pub binary: PathBuf,
}

impl Terraform {
    /// `TF_ACC_TERRAFORM_PATH`, or `None` with a reason.
    pub fn locate() -> Result<Terraform, String> {
        match std::env::var_os("TF_ACC_TERRAFORM_PATH") {
            Some(p) if Path::new(&p).is_file() => Ok(Terraform { binary: p.into() }),
            Some(p) => Err(format!("TF_ACC_TERRAFORM_PATH={p:?} is not a file")),
            None => Err(
                "TF_ACC_TERRAFORM_PATH is not set (the test command installs \
                 Terraform and sets it; see README)"
                    .into(),
            ),
        }
    }

    /// The first line of `terraform version`, e.g. `Terraform v1.15.5`.
    pub fn version(&self) -> String {
        Command::new(&self.binary)
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// The release number, or `None` when `terraform version` prints something unexpected.
    pub fn release(&self) -> Option<TerraformVersion> {
        TerraformVersion::parse(&self.version())
    }
}

/// A Terraform release number, for tests that gate on what that Terraform supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TerraformVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl TerraformVersion {
    /// Reads `Terraform v1.15.5` (or `1.15.5`, with an optional `-beta1` style suffix).
    pub fn parse(text: &str) -> Option<TerraformVersion> {
        let text = text.trim();
        let text = text.strip_prefix("Terraform ").unwrap_or(text);
        let text = text.strip_prefix('v').unwrap_or(text);
        let core = text.split(['-', '+', ' ']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        Some(TerraformVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        })
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
    /// Ephemeral resources (tfplugin6.7, Terraform 1.10).
    pub fn supports_ephemeral(&self) -> bool {
        self.at_least(1, 10)
    }
    /// Write-only attributes (tfplugin6.8, Terraform 1.11).
    pub fn supports_write_only(&self) -> bool {
        self.at_least(1, 11)
    }
    /// Resource identity and import by identity (tfplugin6.9, Terraform 1.12).
    pub fn supports_identity(&self) -> bool {
        self.at_least(1, 12)
    }
    /// List resources and `terraform query` (Terraform 1.14).
    pub fn supports_query(&self) -> bool {
        self.at_least(1, 14)
    }
}

impl std::fmt::Display for TerraformVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The release of the Terraform under test (`TF_ACC_TERRAFORM_PATH`), asked once per test
/// process; `None` when there is none (acceptance tests are then skipped or fail anyway).
pub fn terraform_version() -> Option<TerraformVersion> {
    static VERSION: std::sync::OnceLock<Option<TerraformVersion>> = std::sync::OnceLock::new();
    *VERSION.get_or_init(|| Terraform::locate().ok()?.release())
}

/// Copies the folder `from` (recursively) to `to`, e.g. an example into a working directory.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        let target = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copy");
        }
    }
}

/// True when acceptance tests should run; prints why not otherwise.
pub fn acceptance_enabled(test: &str) -> bool {
    if std::env::var_os("TF_ACC").is_some() {
        true
    } else {
        eprintln!("{test}: skipped, set TF_ACC=1 to run acceptance tests");
        false
    }
}

/// One Terraform invocation's result.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// This run, after asserting that it succeeded (`what` names it in the failure).
    pub fn expect_ok(self, what: &str) -> Run {
        assert_eq!(self.code, 0, "{what} failed:\n{}", self.output());
        self
    }
}

/// A working directory with a CLI configuration that points at the providers under test.
pub struct WorkDir {
    dir: tempfile::TempDir,
    terraform: PathBuf,
    env: Vec<(String, String)>,
}

impl WorkDir {
    pub fn new(
        terraform: &Terraform,
        providers: &[ProviderUnderTest],
        env: &[(String, String)],
    ) -> WorkDir {
        let mut overrides = String::new();
        for p in providers {
            let bin_dir = p.binary.parent().expect("provider binary dir");
            writeln!(
                overrides,
                "    \"registry.terraform.io/{}\" = \"{}\"",
                p.source,
                bin_dir.display()
            )
            .unwrap();
        }
        let cli_config = format!(
            "provider_installation {{\n  dev_overrides {{\n{overrides}  }}\n  direct {{}}\n}}\n"
        );
        WorkDir::with_cli_config(terraform, &cli_config, env)
    }

    /// A working directory whose Terraform runs with this CLI configuration (e.g. a
    /// `filesystem_mirror` installation instead of `dev_overrides`).
    pub fn with_cli_config(
        terraform: &Terraform,
        cli_config: &str,
        env: &[(String, String)],
    ) -> WorkDir {
        let dir = tempfile::Builder::new()
            .prefix("tfacc-")
            .tempdir()
            .expect("temp working dir");
        let rc = dir.path().join(".terraformrc");
        std::fs::write(&rc, cli_config).expect("write CLI config");
        let mut env = env.to_vec();
        env.push(("TF_CLI_CONFIG_FILE".into(), rc.display().to_string()));
        WorkDir {
            dir,
            terraform: terraform.binary.clone(),
            env,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.path().join("main.tf"), config).expect("write main.tf");
    }

    /// A `terraform <args>` command for this directory with automation-friendly settings,
    /// for tests that need to drive the process themselves (e.g. interrupt it).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(self.path())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("TF_DISABLE_PLUGIN_TLS");
        if let Ok(level) = std::env::var("TF_ACC_LOG") {
            cmd.env("TF_LOG", level);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `terraform <args>` here and waits for it.
    pub fn terraform(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        // Output goes to files, not pipes: if Terraform crashes, a provider process it
        // launched may outlive it holding inherited descriptors, and reading pipes to EOF
        // would then hang the test.
        let out_path = self.path().join(".tfacc-stdout");
        let err_path = self.path().join(".tfacc-stderr");
        let stdout = std::fs::File::create(&out_path).expect("stdout capture file");
        let stderr = std::fs::File::create(&err_path).expect("stderr capture file");
        let status = cmd
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .expect("run terraform");
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: read(&out_path),
            stderr: read(&err_path),
        }
    }

    /// Applies the saved plan `plan_file`, runs `between`, requires the next plan to be empty,
    /// then destroys everything (for tests that drive Terraform themselves).
    pub fn apply_then_empty_plan_then_destroy(&self, plan_file: &str, between: impl FnOnce()) {
        self.terraform(&[
            "apply",
            "-input=false",
            "-no-color",
            "-auto-approve",
            plan_file,
        ])
        .expect_ok("apply");
        between();
        let plan = self.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        assert_eq!(
            plan.code,
            0,
            "plan after apply not empty:\n{}",
            plan.output()
        );
        self.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
            .expect_ok("destroy");
    }

    /// `terraform show -json` of the current state.
    pub fn state(&self) -> Result<StateJson, String> {
        let run = self.terraform(&["show", "-json", "-no-color"]);
        if run.code != 0 {
            return Err(format!("terraform show failed:\n{}", run.output()));
        }
        StateJson::parse(&run.stdout)
    }

    fn keep(self) {
        let path = self.dir.keep();
        eprintln!("working directory kept at {}", path.display());
    }
}

impl TestCase {
    /// Runs the case; panics with a readable report on the first failed step. Skips (and
    /// says so) when acceptance tests are not enabled.
    pub fn run(self) {
        if !acceptance_enabled(self.name) {
            return;
        }
        let terraform = Terraform::locate().unwrap_or_else(|e| panic!("{}: {e}", self.name));
        for p in &self.providers {
            assert!(
                p.binary.is_file(),
                "{}: provider binary {} was not built",
                self.name,
                p.binary.display()
            );
        }
        let work = WorkDir::new(&terraform, &self.providers, &self.env);
        let result = self.run_steps(&terraform, &work);
        if let Ok(Some(config)) = &result {
            work.write_config(config);
        }
        let destroyed = self.destroy(&work);
        let persist = std::env::var_os("TF_ACC_PERSIST_WORKING_DIR").is_some();
        let failure = match (result, destroyed) {
            (Err(e), _) => Some(e),
            (Ok(_), Err(e)) => Some(e),
            (Ok(_), Ok(())) => None,
        };
        if persist || failure.is_some() {
            work.keep();
        }
        if let Some(e) = failure {
            panic!("{} ({}): {e}", self.name, terraform.version());
        }
    }

    /// Runs the steps; returns the last configuration that applied (destroy runs with it,
    /// since a final expect-error step leaves an invalid one in place).
    fn run_steps(&self, terraform: &Terraform, work: &WorkDir) -> Result<Option<String>, String> {
        let mut last_state: Option<StateJson> = None;
        let mut last_good_config = None;
        for (i, step) in self.steps.iter().enumerate() {
            let label = format!("step {} ({})", i + 1, step.name);
            if let Some(f) = &step.pre_config {
                f(work.path());
            }
            if let Some(import) = &step.import {
                self.import_step(terraform, step, import, last_state.as_ref())
                    .map_err(|e| format!("{label}: {e}"))?;
                continue;
            }
            work.write_config(&step.config);
            match run_config_step(work, step) {
                Ok(Some(state)) => {
                    last_state = Some(state);
                    last_good_config = Some(step.config.clone());
                }
                Ok(None) => {}
                Err(e) => return Err(format!("{label}: {e}")),
            }
        }
        Ok(last_good_config)
    }

    fn import_step(
        &self,
        terraform: &Terraform,
        step: &Step,
        import: &Import,
        previous: Option<&StateJson>,
    ) -> Result<(), String> {
        let id = match &import.id {
            ImportId::Literal(id) => id.clone(),
            ImportId::FromState(attr) => previous
                .and_then(|s| s.attr(&import.address, attr))
                .and_then(|v| v.as_str().map(str::to_string))
                .ok_or_else(|| {
                    format!("no {attr:?} of {} in the previous state", import.address)
                })?,
        };
        let fresh = WorkDir::new(terraform, &self.providers, &self.env);
        fresh.write_config(&step.config);
        let run = fresh.terraform(&["import", "-input=false", "-no-color", &import.address, &id]);
        if let Some(pattern) = &step.expect_error {
            return if run.code != 0 && pattern.is_match(&run.output()) {
                Ok(())
            } else {
                Err(format!(
                    "expected an import error matching {pattern}, got:\n{}",
                    run.output()
                ))
            };
        }
        if run.code != 0 {
            return Err(format!("terraform import failed:\n{}", run.output()));
        }
        let imported = fresh.state()?;
        if let Some(check) = &step.check {
            check(&imported)?;
        }
        if import.verify {
            let previous = previous.ok_or("ImportStateVerify needs a previous config step")?;
            let want = previous
                .resource(&import.address)
                .ok_or_else(|| format!("{} not in the previous state", import.address))?;
            let got = imported
                .resource(&import.address)
                .ok_or_else(|| format!("{} not in the imported state", import.address))?;
            state::compare_attributes(want, got, &import.verify_ignore)
                .map_err(|e| format!("ImportStateVerify attributes not equivalent: {e}"))?;
        }
        // The imported object is the same real object the main working dir manages: drop it
        // from this state instead of destroying it here.
        let run = fresh.terraform(&["state", "rm", "-no-color", &import.address]);
        if run.code != 0 {
            return Err(format!("terraform state rm failed:\n{}", run.output()));
        }
        Ok(())
    }

    fn destroy(&self, work: &WorkDir) -> Result<(), String> {
        if !work.path().join("terraform.tfstate").exists() {
            return Ok(());
        }
        let run = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        if run.code != 0 {
            return Err(format!("destroy failed:\n{}", run.output()));
        }
        let state = work.state()?;
        if !state.resources().is_empty() {
            return Err(format!(
                "resources left after destroy: {:?}",
                state.addresses()
            ));
        }
        if let Some(check) = &self.check_destroy {
            check(&state).map_err(|e| format!("CheckDestroy: {e}"))?;
        }
        Ok(())
    }
}

/// plan → (plan checks) → apply → (checks) → empty plan → refresh → empty plan.
/// Returns the state after apply, or `None` when the step expected (and got) an error.
fn run_config_step(work: &WorkDir, step: &Step) -> Result<Option<StateJson>, String> {
    let expect = |run: &Run, what: &str| -> Result<Option<()>, String> {
        match (&step.expect_error, run.code) {
            // The error may still come from a later command (apply after plan).
            (Some(_), 0) => Ok(None),
            (Some(p), _) if p.is_match(&run.output()) => Ok(Some(())),
            (Some(p), _) => Err(format!(
                "{what} failed, but not with an error matching {p}:\n{}",
                run.output()
            )),
            (None, 0) => Ok(None),
            (None, _) => Err(format!("{what} failed:\n{}", run.output())),
        }
    };

    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    if expect(&plan, "terraform plan")?.is_some() {
        return Ok(None);
    }
    if let Some(check) = &step.plan_check {
        let show = work.terraform(&["show", "-json", "-no-color", "tfplan"]);
        if show.code != 0 {
            return Err(format!("terraform show tfplan failed:\n{}", show.output()));
        }
        check(&PlanJson::parse(&show.stdout)?).map_err(|e| format!("plan check: {e}"))?;
    }
    if step.plan_only {
        return if step.expect_error.is_some() {
            Err(format!(
                "expected an error, but plan succeeded:\n{}",
                plan.output()
            ))
        } else {
            Ok(None)
        };
    }
    let apply = work.terraform(&[
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "tfplan",
    ]);
    if expect(&apply, "terraform apply")?.is_some() {
        return Ok(None);
    }
    if let Some(p) = &step.expect_error {
        return Err(format!(
            "expected an error matching {p}, but apply succeeded:\n{}",
            apply.output()
        ));
    }
    let state = work.state()?;
    if let Some(check) = &step.check {
        check(&state).map_err(|e| format!("check: {e}"))?;
    }
    if !step.expect_non_empty_plan {
        let plan = work.terraform(&[
            "plan",
            "-input=false",
            "-no-color",
            "-refresh=false",
            "-detailed-exitcode",
        ]);
        match plan.code {
            0 => {}
            2 => {
                return Err(format!(
                    "After applying this test step, the non-refresh plan was not empty:\n{}",
                    plan.stdout
                ))
            }
            _ => return Err(format!("non-refresh plan failed:\n{}", plan.output())),
        }
        let refresh = work.terraform(&["refresh", "-input=false", "-no-color"]);
        if refresh.code != 0 {
            return Err(format!("terraform refresh failed:\n{}", refresh.output()));
        }
        let plan = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        match plan.code {
            0 => {}
            2 => {
                return Err(format!(
                    "After applying this test step and refreshing, the plan was not empty:\n{}",
                    plan.stdout
                ))
            }
            _ => return Err(format!("refresh plan failed:\n{}", plan.output())),
        }
    }
    Ok(Some(state))
}
