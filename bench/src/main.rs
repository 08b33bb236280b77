use clap::Parser as _;

fn main() -> std::process::ExitCode {
    bench::main(bench::Args::parse())
}
