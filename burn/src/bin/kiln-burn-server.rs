//! `kiln-burn-server [--port N] [--host ADDR]`: serve kiln to Burn programs over `burn-remote`
//! (WebSocket). Binds 127.0.0.1:3000 unless told otherwise; `--port 0` picks a free port. The
//! first line on stdout names the address clients dial.

use kiln_burn::server::KilnServer;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

const USAGE: &str = "usage: kiln-burn-server [--port N] [--host ADDR]

Serves kiln to Burn programs built with Burn's `remote-websocket` feature:
  Device::remote_options(&RemoteHost::websocket(\"ws://127.0.0.1:3000\")).init()

  --port N     TCP port (default 3000; 0 picks a free one)
  --host ADDR  address to bind (default 127.0.0.1; 0.0.0.0 serves every interface,
               unencrypted and unauthenticated: only on a trusted network)

The adapter is picked as by kiln's KILN_* settings (README.md).";

fn parse(args: &[String]) -> Result<SocketAddr, String> {
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port: u16 = 3000;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .ok_or_else(|| format!("{flag} needs a value"))
                .cloned()
        };
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                port = v.parse().map_err(|e| format!("--port {v}: {e}"))?;
            }
            "--host" => {
                let v = value()?;
                host = v.parse().map_err(|e| format!("--host {v}: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(SocketAddr::new(host, port))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let addr = match parse(&args) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("kiln-burn-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match KilnServer::bind(addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("kiln-burn-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "kiln-burn-server: serving kiln ({}) on {}",
        server.adapter(),
        server.url()
    );
    if let Err(e) = std::io::stdout().flush() {
        eprintln!("kiln-burn-server: stdout: {e}");
    }
    match server.serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln-burn-server: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn loopback_and_port_3000_unless_told() {
        assert_eq!(parse(&[]).unwrap().to_string(), "127.0.0.1:3000");
        let a = parse(&args(&["--port", "0", "--host", "::1"])).unwrap();
        assert_eq!(a.to_string(), "[::1]:0");
    }

    #[test]
    fn bad_arguments_are_named() {
        assert!(parse(&args(&["--port", "70000"]))
            .unwrap_err()
            .contains("--port 70000"));
        assert!(parse(&args(&["--host", "gpu"]))
            .unwrap_err()
            .contains("--host gpu"));
        assert!(parse(&args(&["--port"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&args(&["--verbose"]))
            .unwrap_err()
            .contains("--verbose"));
    }
}
