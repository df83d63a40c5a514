//! Class summaries from stored results: the store keeps its promises, every format matches the shape its
//! consumers document, shards merge into the unsharded summary, and the HTML page works in a real browser.

mod browser; // the HTML page in headless Chromium, driven over CDP
mod csv; // CSV read back as a spreadsheet reads it
mod formats; // JUnit (XSD), Gradescope, PrairieLearn, TAP 14, class JSON
mod merge; // shards merged = the unsharded summary
mod regenerate; // makes fixtures/reports/class (ignored: run by hand)
mod store; // the on-disk results: round trips, atomic writes, damage reported
mod tap14; // a strict TAP 14 reader for the tests
mod util;
