//! Objects as a JavaScript developer knows them: reading fields, strings, properties and
//! elements; V8's constructor names; the census; source positions.

pub mod callsite;
pub mod census;
pub mod errorstack;
pub mod naming;
pub mod position;
pub mod reader;
