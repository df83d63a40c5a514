//! `sockspec batch`, run as a teacher would on small classes made from the fixture submissions: results,
//! summaries, resuming, shards, manifests, and programs that misbehave. Each class grades a few quick
//! checks (`only` in its manifest), so the whole binary stays fast.

mod ci;
mod class;
mod interrupt;
mod manifest;
mod reliability;
mod util;
