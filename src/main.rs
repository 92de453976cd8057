use clap::Parser;

fn main() {
    // Behave like a Unix filter: `certdeck list | head` ends quietly.
    // SAFETY: called first thing in main, before any thread exists.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    // One crypto provider for the whole tree (DESIGN.md §8).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("CERTDECK_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = certdeck::cli::Cli::parse();
    std::process::exit(certdeck::cli::run(cli));
}
