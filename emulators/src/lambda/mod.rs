//! Running the real function binaries: a Lambda Runtime API emulator, the child process that
//! polls it, the release build of `functions/`, and API Gateway event builders.

pub mod apigw;
pub mod binaries;
pub mod emulator;
pub mod process;

pub use binaries::function_binary;
pub use emulator::{Invocation, RuntimeEmulator};
pub use process::FunctionProcess;
