//! Test support only: the harness that starts every emulator the function scenarios and the
//! worker benchmark need. The emulators themselves live in `emulators/`.

pub use unbreakable_local::ec2;
pub mod harness;
