//! kiln in a browser, from `cargo test`: the browser op suite (`tests/browser.rs` of kiln, built
//! for wasm32) under `wasm-bindgen-test-runner`, then the demo page end to end (`e2e.py`):
//! headless Chromium on its SwiftShader WebGPU adapter runs the built-in model, and its prompt
//! logits and greedy tokens must match this process' native run of the same seeded model.
//!
//! They need the wasm32 target, a `wasm-bindgen` CLI of the version Cargo.lock pins, Chromium
//! and chromedriver (`.ci/run` installs them). Where one is missing both tests say so and pass,
//! unless `KILN_REQUIRE_BROWSER=1` (as CI sets), which makes that a failure. They build into a
//! target directory of their own (a cargo inside `cargo test` may not take the outer one's
//! lock).
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The wasm-bindgen version Cargo.lock pins (the CLI must match it).
fn locked_wasm_bindgen() -> String {
    let lock = std::fs::read_to_string(Path::new(WORKSPACE).join("Cargo.lock")).unwrap();
    let at = lock
        .find("name = \"wasm-bindgen\"\nversion = \"")
        .expect("wasm-bindgen in Cargo.lock");
    let rest = &lock[at + "name = \"wasm-bindgen\"\nversion = \"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Why the browser tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    let sysroot = output("rustc", &["--print", "sysroot"])?;
    if !Path::new(sysroot.trim())
        .join("lib/rustlib/wasm32-unknown-unknown")
        .exists()
    {
        return Some("no wasm32 target (rustup target add wasm32-unknown-unknown)".into());
    }
    let want = locked_wasm_bindgen();
    match output("wasm-bindgen", &["--version"]) {
        Some(v) if v.split_whitespace().nth(1) == Some(want.as_str()) => {}
        other => {
            return Some(format!(
                "wasm-bindgen {want} is not installed (found {other:?}; cargo install wasm-bindgen-cli --version {want})"
            ))
        }
    }
    for (tool, path) in [("chromium", chrome()), ("chromedriver", chromedriver())] {
        if output(&path, &["--version"]).is_none() {
            return Some(format!(
                "no {tool} at {path} (apt-get install chromium chromium-driver)"
            ));
        }
    }
    None
}

fn chrome() -> String {
    std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// True when the tests should run; otherwise prints why not (and fails under
/// `KILN_REQUIRE_BROWSER=1`).
fn can_run(test: &str) -> bool {
    let Some(why) = missing() else { return true };
    assert!(
        std::env::var("KILN_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "{test}: KILN_REQUIRE_BROWSER=1 but {why}"
    );
    eprintln!("{test}: skipped: {why}");
    false
}

/// The nested cargo's target directory.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// Runs `cargo args` for wasm32 in the nested target directory, failing with its output.
fn cargo_wasm(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.args(args)
        .args(["--target", "wasm32-unknown-unknown"])
        .current_dir(WORKSPACE)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CHROMEDRIVER", chromedriver())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "900");
    run(c, &format!("cargo {args:?}"));
}

/// Runs `c`, failing with its output; shows the output (with `--nocapture`) when it passes.
fn run(mut c: Command, what: &str) {
    let o = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what} failed:\n{text}");
    eprintln!("{text}");
}

#[test]
fn op_suite_in_chromium() {
    if !can_run("op_suite_in_chromium") {
        return;
    }
    cargo_wasm(&["test", "-p", "kiln", "--test", "browser"]);
}

#[test]
fn demo_page_matches_the_native_run() {
    if !can_run("demo_page_matches_the_native_run") {
        return;
    }
    cargo_wasm(&["build", "-p", "kiln-web", "--lib"]);
    let page = target_dir().join("page");
    if page.exists() {
        std::fs::remove_dir_all(&page).unwrap();
    }
    std::fs::create_dir_all(&page).unwrap();
    for f in ["index.html", "main.js"] {
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(f), page.join(f)).unwrap();
    }
    let wasm = target_dir().join("wasm32-unknown-unknown/debug/kiln_web.wasm");
    let mut bindgen = Command::new("wasm-bindgen");
    bindgen
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(page.join("pkg"))
        .arg(&wasm);
    run(bindgen, "wasm-bindgen");

    // The native runs of the same models and request: the built-in one twice, as the page
    // runs it (the second is timed warm), and a model file in other formats, which the test
    // picks in the page's file input.
    let device = kiln::Device::default_device().expect("the native device");
    device.set_autotune(kiln::Autotune::Off);
    let req = kiln_web::Request {
        max_tokens: 8,
        ..Default::default()
    };
    let native_run = |demo: &kiln_web::Demo, name: &str| {
        let out = pollster::block_on(demo.run(&req, &mut |_, _| {})).unwrap();
        let path = target_dir().join(name);
        std::fs::write(&path, serde_json::to_string(&out).unwrap()).unwrap();
        path
    };
    let builtin = kiln_web::Demo::builtin(&device, 0, &mut |_, _| {}).unwrap();
    native_run(&builtin, "native.json");
    let native_builtin = native_run(&builtin, "native.json");
    let spec = kiln::llm::RandomSpec {
        seed: 7,
        attn_format: kiln::BlockFormat::Q4_0,
        head_format: kiln::BlockFormat::Q6K,
        ..Default::default()
    };
    let gguf = target_dir().join("picked.gguf");
    spec.write(&gguf).unwrap();
    let picked =
        kiln_web::Demo::from_gguf(&device, std::fs::read(&gguf).unwrap(), &mut |_, _| {}).unwrap();
    let native_picked = native_run(&picked, "native-picked.json");

    // Screenshots and the page's outcomes are kept where CI collects artifacts.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("artifacts/web");
    let mut e2e = Command::new("python3");
    e2e.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e.py"))
        .args([&page, &artifacts, &native_builtin, &gguf, &native_picked])
        .env("CHROMEDRIVER", chromedriver())
        .env("CHROME", chrome());
    run(e2e, "the page test (e2e.py)");
}
