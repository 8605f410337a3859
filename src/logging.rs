//! Which targets log at which level: the filter `RUST_LOG` names.
//!
//! The filter is one of targets and levels (tracing-subscriber's `Targets`), decided once per
//! log statement. A filter that may depend on spans (`EnvFilter`) is consulted each time a
//! span is entered or left, and sqlx enters the request's span at every poll of every
//! statement: 1.4 % of the server's CPU under the dashboard workload (see
//! docs/performance-history.md). So `RUST_LOG` takes targets and levels only; a span or field
//! filter is reported and ignored rather than read as a target name that matches nothing.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The filter a `RUST_LOG` value names, and the directives of it that were not understood.
#[derive(Debug)]
pub struct LogFilter {
    pub targets: Targets,
    /// Directives ignored, to be reported.
    pub ignored: Vec<String>,
}

/// Reads `spec`, comma-separated directives, each a level (for every target not named),
/// `target=level`, or a bare `target` (every level of it), as tracing-subscriber's filters
/// read them; spaces around a directive and empty directives are skipped. Everything logs at
/// `info` when `spec` is unset or no directive of it could be read.
pub fn log_filter(spec: Option<&str>) -> LogFilter {
    let mut targets = Targets::new();
    let mut ignored = Vec::new();
    let mut read_any = false;
    let directives = spec
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty());
    for directive in directives {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target.trim()), level.trim().parse().ok()),
            None => match directive.parse::<LevelFilter>() {
                Ok(level) => (None, Some(level)),
                Err(_) => (Some(directive), Some(LevelFilter::TRACE)),
            },
        };
        match (target, level) {
            (None, Some(level)) => targets = targets.with_default(level),
            (Some(target), Some(level)) if is_target(target) => {
                targets = targets.with_target(target, level);
            }
            _ => {
                ignored.push(directive.to_owned());
                continue;
            }
        }
        read_any = true;
    }
    if !read_any {
        targets = targets.with_default(LevelFilter::INFO);
    }
    LogFilter { targets, ignored }
}

/// A module path such as `steerco_graphql::service`; not a span filter (`[span]`, `{field}`).
fn is_target(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn enabled(filter: &LogFilter, target: &str) -> Vec<Level> {
        [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ]
        .into_iter()
        .filter(|level| filter.targets.would_enable(target, level))
        .collect()
    }

    const UP_TO_INFO: [Level; 3] = [Level::ERROR, Level::WARN, Level::INFO];
    const UP_TO_DEBUG: [Level; 4] = [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG];

    #[test]
    fn nothing_named_logs_everything_at_info() {
        for spec in [None, Some(""), Some("  "), Some(",")] {
            let filter = log_filter(spec);
            assert_eq!(enabled(&filter, "sqlx::query"), UP_TO_INFO, "{spec:?}");
            assert!(filter.ignored.is_empty());
        }
    }

    #[test]
    fn targets_take_their_level_and_a_bare_level_the_rest() {
        let filter = log_filter(Some("steerco=debug, info"));
        assert_eq!(enabled(&filter, "steerco"), UP_TO_DEBUG);
        assert_eq!(enabled(&filter, "steerco::server"), UP_TO_DEBUG);
        assert_eq!(enabled(&filter, "sqlx::query"), UP_TO_INFO);
        assert!(filter.ignored.is_empty());

        let filter = log_filter(Some("info,"));
        assert_eq!(enabled(&filter, "hyper"), UP_TO_INFO);
    }

    #[test]
    fn a_target_alone_logs_every_level_of_it_and_nothing_else() {
        let filter = log_filter(Some("steerco_graphql"));
        assert_eq!(enabled(&filter, "steerco_graphql::service").len(), 5);
        assert!(enabled(&filter, "steerco").is_empty());
    }

    #[test]
    fn span_filters_and_unknown_levels_are_reported_and_ignored() {
        let filter = log_filter(Some("steerco[request]=debug, sqlx=loud, warn"));
        assert_eq!(filter.ignored, ["steerco[request]=debug", "sqlx=loud"]);
        assert_eq!(enabled(&filter, "steerco"), [Level::ERROR, Level::WARN]);
        assert_eq!(enabled(&filter, "sqlx"), [Level::ERROR, Level::WARN]);

        let filter = log_filter(Some("steerco{id=7}"));
        assert_eq!(filter.ignored, ["steerco{id=7}"]);
        assert_eq!(enabled(&filter, "steerco"), UP_TO_INFO);
    }
}
