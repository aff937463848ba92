//! What V8 is in this binary: its postmortem metadata, the per-version tables for what the
//! metadata lacks, and the layouts resolved from both (each value with where it came from).

pub mod arch;
pub mod enum_decode;
pub mod fields;
pub mod kinds;
pub mod layout;
pub mod metadata;
pub mod tables;
pub mod types;
