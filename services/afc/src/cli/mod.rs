//! Staff commands: `afc case …` (intake's client) and `afc province …` (hub administration).

pub mod case;
pub mod province;
