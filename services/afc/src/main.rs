//! The afc binary (being built).
fn main() {}
