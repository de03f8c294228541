//! Standard output that a closed reader ends quietly. `unbreakable schema | head -1` closes
//! the pipe after one line; `println!` would then panic ("failed printing to stdout: Broken
//! pipe", exit 101) and replace the verdict's exit code in a CI script. Here a closed stdout
//! stops the printing, and the command ends with its verdict's code.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout cannot be written: nothing more is tried.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `args` (and a newline when `newline`) to stdout, unless it was closed.
pub fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    if let Err(e) = written {
        CLOSED.store(true, Ordering::Relaxed);
        // A reader that stopped reading is not an error of ours; anything else (a full disk)
        // is said once, on stderr.
        if e.kind() != ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to stdout: {e}");
        }
    }
}
