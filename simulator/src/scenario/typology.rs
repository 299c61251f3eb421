//! The typologies of mule networks a gang may use, their names in scenario files, and the
//! level widths each accepts.

use super::Span;
use crate::limits;

/// How a gang's mule network moves money. See docs/scenarios.md for diagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Typology {
    /// A layered stack that widens: each mule splits what it receives among its children on
    /// the next level (every account has one parent).
    FanOut,
    /// Layers that narrow to one collector: each mule forwards everything to one account on
    /// the next level, which gathers from several.
    FanIn,
    /// One account splits to many, which gather again into one collector.
    ScatterGather,
    /// Many front accounts gather into one hub, which splits to many exits.
    GatherScatter,
    /// Money goes round a ring of accounts through payment-platform orders, back to the
    /// account it entered, which then splits it to exit accounts.
    Cycle,
}

impl Typology {
    /// Every typology.
    pub const ALL: [Typology; 5] =
        [Typology::FanOut, Typology::FanIn, Typology::ScatterGather, Typology::GatherScatter, Typology::Cycle];

    /// What a scenario file accepts.
    pub const EXPECTED: &'static str = "one of fan_out, fan_in, scatter_gather, gather_scatter, cycle";

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Typology::FanOut => "fan_out",
            Typology::FanIn => "fan_in",
            Typology::ScatterGather => "scatter_gather",
            Typology::GatherScatter => "gather_scatter",
            Typology::Cycle => "cycle",
        }
    }

    /// The typology of that name.
    pub fn parse(name: &str) -> Option<Self> {
        Typology::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The widths used when a gang gives none.
    pub fn default_widths(self) -> Vec<Span<u32>> {
        let one = Span::exactly(1);
        match self {
            Typology::FanOut => vec![one, Span { min: 2, max: 4 }, Span { min: 3, max: 8 }],
            Typology::FanIn => vec![Span { min: 4, max: 8 }, one],
            Typology::ScatterGather => vec![one, Span { min: 3, max: 6 }, one],
            Typology::GatherScatter => vec![Span { min: 3, max: 6 }, one, Span { min: 3, max: 6 }],
            Typology::Cycle => vec![Span { min: 3, max: 5 }, Span { min: 1, max: 3 }],
        }
    }

    /// Checks that `widths` has this typology's shape; `Err` says what is expected.
    pub(super) fn check_shape(self, widths: &[Span<u32>]) -> Result<(), &'static str> {
        let one = |s: &Span<u32>| s.min == 1 && s.max == 1;
        let ok = match self {
            Typology::FanOut => !widths.is_empty(),
            Typology::FanIn => widths.len() >= 2 && widths.last().is_some_and(one),
            Typology::ScatterGather => widths.len() >= 3 && one(&widths[0]) && widths.last().is_some_and(one),
            Typology::GatherScatter => widths.len() >= 3 && widths[1..widths.len() - 1].iter().any(one),
            Typology::Cycle => widths.len() == 2 && widths[0].min >= 2 && widths[0].max <= limits::MAX_CYCLE_ACCOUNTS,
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Typology::FanOut => "1 or more levels",
            Typology::FanIn => "2 or more levels, the last one exactly 1 (the collector)",
            Typology::ScatterGather => "3 or more levels, the first and the last exactly 1",
            Typology::GatherScatter => "3 or more levels, one inner level exactly 1 (the hub)",
            Typology::Cycle => "[ring, exits]: a ring of 2 to 14 accounts and 1 or more exit accounts",
        })
    }
}

impl std::fmt::Display for Typology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
