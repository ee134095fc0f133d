//! Generates the demo's orders service (`proto/orders.proto`) with the vendored `protoc`.

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let protoc = match protoc_bin_vendored::protoc_bin_path() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("error: no vendored protoc for this platform: {e}");
            std::process::exit(1);
        }
    };
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    if let Err(e) = tonic_prost_build::configure().compile_with_config(
        config,
        &["proto/orders.proto"],
        &["proto"],
    ) {
        eprintln!("error: cannot compile proto/orders.proto: {e}");
        std::process::exit(1);
    }
}
