fn main() -> std::process::ExitCode {
    quire::main()
}
