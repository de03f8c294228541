//! The release files, built in memory the way `scripts/release-files.sh` builds them: the
//! sample app's CodeDeploy bundle per build (`appbuilds/bundle` + the binary + `build.env`)
//! and the load test bundle (`appbuilds/loadtest`).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use zip::write::SimpleFileOptions;

pub struct Bundles {
    bundle_dir: std::path::PathBuf,
    binary: Vec<u8>,
    pub tests: Vec<u8>,
}

fn add_tree(
    zip: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>,
    root: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            add_tree(zip, root, &path)?;
            continue;
        }
        let name = path
            .strip_prefix(root)?
            .to_string_lossy()
            .replace('\\', "/");
        let mode = if name.ends_with(".sh") { 0o755 } else { 0o644 };
        zip.start_file(name, SimpleFileOptions::default().unix_permissions(mode))?;
        zip.write_all(&std::fs::read(&path)?)?;
    }
    Ok(())
}

/// The bundle of `dir`'s files plus `extra`, which are stored uncompressed: the sample app's
/// binary is 22 MB in a debug build, and deflating it with the zip crate unoptimised (the
/// dev profile) took about 5 s per release, between one build and the next. A stored entry
/// is as valid a CodeDeploy bundle, and moto holds it in memory either way.
fn zip_with(dir: &Path, extra: &[(&str, &[u8], u32)]) -> anyhow::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    add_tree(&mut zip, dir, dir)?;
    for (name, content, mode) in extra {
        zip.start_file(
            *name,
            SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(*mode),
        )?;
        zip.write_all(content)?;
    }
    Ok(zip.finish()?.into_inner())
}

impl Bundles {
    pub fn new(workspace: &Path, sample_app: &Path) -> anyhow::Result<Self> {
        let binary = std::fs::read(sample_app)
            .with_context(|| format!("cannot read the sample app {}", sample_app.display()))?;
        let tests = zip_with(&workspace.join("appbuilds/loadtest"), &[])?;
        Ok(Bundles {
            bundle_dir: workspace.join("appbuilds/bundle"),
            binary,
            tests,
        })
    }

    /// `app_build<N>.zip`.
    pub fn app(&self, build: u32) -> anyhow::Result<Vec<u8>> {
        let env = format!("BUILD_NUMBER={build}\n");
        zip_with(
            &self.bundle_dir,
            &[
                ("sample-app", &self.binary, 0o755),
                ("build.env", env.as_bytes(), 0o644),
            ],
        )
    }
}
