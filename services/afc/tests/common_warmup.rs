//! Temporary warm-up file.
