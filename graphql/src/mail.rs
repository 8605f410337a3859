//! Email rendering: the message catalogs (one JSON file per locale, each entry a MiniJinja
//! template for a subject and a summary) and the text and HTML layouts around them. The HTML
//! layout escapes everything it is given; nothing here reads a database or sends anything.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::notification::NotificationClass;
use crate::domain::user::Locale;

const CATALOGS: [(Locale, &str); 2] = [
    (Locale::En, include_str!("../templates/messages.en.json")),
    (
        Locale::ZhCn,
        include_str!("../templates/messages.zh-CN.json"),
    ),
];
const LAYOUT_KEYS: [&str; 7] = [
    "greeting",
    "action_required",
    "open_link",
    "reason",
    "manage_preferences",
    "unsubscribe",
    "signature",
];
/// The message kind of the daily digest.
pub const DIGEST_KIND: &str = "digest.daily";

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("no message {kind:?} in the {locale} catalog")]
    UnknownKind { kind: String, locale: &'static str },
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("catalog: {0}")]
    Catalog(String),
}

/// What a message says, for its templates. Fields that do not apply stay empty.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub project: ProjectFacts,
    pub object: ObjectFacts,
    pub actor: Person,
    pub recipient: Person,
    pub decision_subject: Option<String>,
    /// An outcome code (APPROVE, GO, ...); empty when a ballot deadlocked.
    pub outcome: Option<String>,
    pub health: Option<String>,
    pub severity: Option<String>,
    pub due_date: Option<String>,
    pub days: Option<i64>,
    pub hours: Option<i64>,
    pub forced: Option<bool>,
    pub count: Option<usize>,
    /// Why, when the change came with a reason (a project put on hold or cancelled), or what
    /// a change request's assessment asks its requester.
    pub reason: Option<String>,
    /// The project's open defects by severity, for the daily report while UAT runs.
    pub open_defects: Option<OpenDefectFacts>,
}

/// Open defects counted by severity; `ungraded` are those not triaged yet.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct OpenDefectFacts {
    pub critical: u32,
    pub major: u32,
    pub minor: u32,
    pub trivial: u32,
    pub ungraded: u32,
    pub total: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectFacts {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectFacts {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Person {
    pub name: String,
}

/// The links a message carries.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// The object the message is about.
    pub object: Option<String>,
    pub preferences: String,
    /// One-click unsubscribe from the message's class; none for messages that cannot be
    /// turned off.
    pub unsubscribe: Option<String>,
}

/// A link to the recipient's delivery preferences for one class of messages, named in their
/// language: a digest carries one for each class its lines fall under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreferenceLink {
    pub label: String,
    pub url: String,
}

/// A line of a digest: a message held for the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestLine {
    pub subject: String,
    pub summary: String,
    pub link: String,
}

/// The lines of a summary that say something, as the layouts set them one per line.
fn lines_of(summary: &str) -> Vec<&str> {
    summary
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// A digest line as the layouts read it.
#[derive(Serialize)]
struct ItemView<'a> {
    subject: &'a str,
    summary_lines: Vec<&'a str>,
    link: &'a str,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    /// The subject and summary alone, as a digest line shows them.
    pub summary: String,
    pub text: String,
    pub html: String,
}

#[derive(Deserialize)]
struct Entry {
    subject: String,
    summary: String,
}

struct Templates {
    env: Environment<'static>,
    /// Each locale's layout pieces in [`LAYOUT_KEYS`] order: every email has them all.
    layouts: Vec<(Locale, Vec<LayoutPiece>)>,
    /// Each locale's names of the notification classes, in [`NotificationClass::ALL`] order.
    class_labels: Vec<(Locale, Vec<String>)>,
}

/// A piece of a locale's layout.
enum LayoutPiece {
    /// The text of a template that names no fact, rendered once: it reads the same in every
    /// email, and most of the layout's pieces are such. (A piece that included another
    /// template would hide that template's facts; the catalogs' pieces include none.)
    Fixed(String),
    /// The name of a template that names facts, rendered for each email.
    Template(String),
}

static TEMPLATES: LazyLock<Result<Templates, String>> =
    LazyLock::new(|| Templates::load().map_err(|e| e.to_string()));

impl Templates {
    fn load() -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.add_template("mail.txt", include_str!("../templates/mail.txt"))?;
        env.add_template("mail.html", include_str!("../templates/mail.html"))?;
        let mut class_labels = Vec::with_capacity(CATALOGS.len());
        for (locale, source) in CATALOGS {
            let catalog: BTreeMap<String, serde_json::Value> = serde_json::from_str(source)
                .map_err(|e| RenderError::Catalog(format!("{}: {e}", locale.as_str())))?;
            for (kind, entry) in catalog {
                if kind == "_classes" {
                    let mut labels: BTreeMap<String, String> = serde_json::from_value(entry)
                        .map_err(|e| RenderError::Catalog(format!("_classes: {e}")))?;
                    let in_order = NotificationClass::ALL
                        .into_iter()
                        .map(|class| {
                            labels.remove(class.as_str()).ok_or_else(|| {
                                RenderError::Catalog(format!(
                                    "{}: _classes has no {class}",
                                    locale.as_str()
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    class_labels.push((locale, in_order));
                } else if kind == "_layout" {
                    let layout: BTreeMap<String, String> = serde_json::from_value(entry)
                        .map_err(|e| RenderError::Catalog(format!("_layout: {e}")))?;
                    for (key, source) in layout {
                        env.add_template_owned(name(locale, "_layout", &key), source)?;
                    }
                } else {
                    let entry: Entry = serde_json::from_value(entry)
                        .map_err(|e| RenderError::Catalog(format!("{kind}: {e}")))?;
                    env.add_template_owned(name(locale, &kind, "subject"), entry.subject)?;
                    env.add_template_owned(name(locale, &kind, "summary"), entry.summary)?;
                }
            }
        }
        let layouts = CATALOGS
            .iter()
            .map(|(locale, _)| {
                let pieces = LAYOUT_KEYS
                    .iter()
                    .map(|key| LayoutPiece::of(&env, name(*locale, "_layout", key)))
                    .collect::<Result<_, _>>()?;
                Ok((*locale, pieces))
            })
            .collect::<Result<_, RenderError>>()?;
        if class_labels.len() != CATALOGS.len() {
            return Err(RenderError::Catalog(
                "every catalog needs its _classes".to_owned(),
            ));
        }
        Ok(Self {
            env,
            layouts,
            class_labels,
        })
    }

    /// The name of `class` in `locale`.
    fn class_label(&self, locale: Locale, class: NotificationClass) -> Option<&str> {
        let (_, labels) = self
            .class_labels
            .iter()
            .find(|(named, _)| *named == locale)?;
        let position = NotificationClass::ALL.iter().position(|c| *c == class)?;
        labels.get(position).map(String::as_str)
    }

    /// The `part` of message `kind` in `locale`, rendered with `facts`.
    fn piece(
        &self,
        locale: Locale,
        kind: &str,
        part: &str,
        facts: &Value,
    ) -> Result<String, RenderError> {
        self.render_named(&name(locale, kind, part), locale, kind, facts)
    }

    /// The layout's pieces in `locale`, rendered with `facts`, keyed as in [`LAYOUT_KEYS`].
    fn layout(
        &self,
        locale: Locale,
        facts: &Value,
    ) -> Result<BTreeMap<&'static str, Cow<'_, str>>, RenderError> {
        let pieces = self
            .layouts
            .iter()
            .find(|(named, _)| *named == locale)
            .map(|(_, pieces)| pieces)
            .ok_or(RenderError::UnknownKind {
                kind: "_layout".to_owned(),
                locale: locale.as_str(),
            })?;
        LAYOUT_KEYS
            .iter()
            .zip(pieces)
            .map(|(key, piece)| {
                let text = match piece {
                    LayoutPiece::Fixed(text) => Cow::Borrowed(text.as_str()),
                    LayoutPiece::Template(name) => {
                        Cow::Owned(self.render_named(name, locale, "_layout", facts)?)
                    }
                };
                Ok((*key, text))
            })
            .collect()
    }

    fn render_named(
        &self,
        name: &str,
        locale: Locale,
        kind: &str,
        facts: &Value,
    ) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|_| RenderError::UnknownKind {
                kind: kind.to_owned(),
                locale: locale.as_str(),
            })?;
        Ok(template.render(facts)?.trim().to_owned())
    }
}

impl LayoutPiece {
    /// The piece of the layout template `name` in `env`.
    fn of(env: &Environment<'static>, name: String) -> Result<Self, RenderError> {
        let template = env.get_template(&name)?;
        Ok(if template.undeclared_variables(false).is_empty() {
            Self::Fixed(template.render(())?.trim().to_owned())
        } else {
            Self::Template(name)
        })
    }
}

fn name(locale: Locale, kind: &str, part: &str) -> String {
    format!("{}/{kind}/{part}", locale.as_str())
}

fn templates() -> Result<&'static Templates, RenderError> {
    TEMPLATES
        .as_ref()
        .map_err(|e| RenderError::Catalog(e.clone()))
}

/// Whether the catalogs have a message of this kind (in every locale).
pub fn knows(kind: &str) -> bool {
    templates().is_ok_and(|t| {
        CATALOGS
            .iter()
            .all(|(locale, _)| t.env.get_template(&name(*locale, kind, "subject")).is_ok())
    })
}

/// Renders one message of `kind` in `locale`.
pub fn render(
    locale: Locale,
    kind: &str,
    facts: &Facts,
    action_required: bool,
    links: &Links,
) -> Result<Rendered, RenderError> {
    render_with_items(locale, kind, facts, action_required, links, &[], &[])
}

/// Renders a digest of `lines` in `locale`.
///
/// `preferences` holds the link to the recipient's preferences for each class of message the
/// lines fall under: each is named in the footer, so that the class a line came from is the
/// one its reader changes.
pub fn render_digest(
    locale: Locale,
    recipient: &Person,
    lines: &[DigestLine],
    preferences: &[(NotificationClass, String)],
) -> Result<Rendered, RenderError> {
    let templates = templates()?;
    let preference_links = preferences
        .iter()
        .map(|(class, url)| {
            let label = templates.class_label(locale, *class).ok_or_else(|| {
                RenderError::Catalog(format!("{}: no name for {class}", locale.as_str()))
            })?;
            Ok(PreferenceLink {
                label: label.to_owned(),
                url: url.clone(),
            })
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    let facts = Facts {
        recipient: recipient.clone(),
        count: Some(lines.len()),
        ..Facts::default()
    };
    let links = Links {
        object: None,
        preferences: preferences
            .first()
            .map(|(_, url)| url.clone())
            .unwrap_or_default(),
        unsubscribe: None,
    };
    render_with_items(
        locale,
        DIGEST_KIND,
        &facts,
        false,
        &links,
        lines,
        &preference_links,
    )
}

fn render_with_items(
    locale: Locale,
    kind: &str,
    facts: &Facts,
    action_required: bool,
    links: &Links,
    items: &[DigestLine],
    preference_links: &[PreferenceLink],
) -> Result<Rendered, RenderError> {
    let templates = templates()?;
    let values = Value::from(Serde(facts));
    let subject = templates.piece(locale, kind, "subject", &values)?;
    let summary = templates.piece(locale, kind, "summary", &values)?;
    let layout = templates.layout(locale, &values)?;
    let is_digest = kind == DIGEST_KIND;
    let summary_lines: Vec<String> = lines_of(&summary).into_iter().map(str::to_owned).collect();
    // A held message's summary may run over several lines (the open-defects report): each
    // is its own line of the digest, indented under its subject.
    let items: Vec<ItemView<'_>> = items
        .iter()
        .map(|item| ItemView {
            subject: &item.subject,
            summary_lines: lines_of(&item.summary),
            link: &item.link,
        })
        .collect();
    let ctx = context! {
        lang => locale.as_str(),
        subject => &subject,
        summary => &summary,
        summary_lines => summary_lines,
        items => Value::from(Serde(&items)),
        link => &links.object,
        preferences_url => &links.preferences,
        // A digest: a link for each class of message it holds, by name.
        preference_links => (!preference_links.is_empty())
            .then(|| Value::from(Serde(preference_links))),
        unsubscribe_url => &links.unsubscribe,
        greeting => &layout["greeting"],
        action_required => action_required.then(|| &layout["action_required"]),
        open_link => &layout["open_link"],
        // A digest spans projects: the per-project reason would mislead.
        reason => (!is_digest).then(|| &layout["reason"]),
        manage_preferences => &layout["manage_preferences"],
        unsubscribe => &layout["unsubscribe"],
        signature => &layout["signature"],
    };
    let text = templates.env.get_template("mail.txt")?.render(&ctx)?;
    let html = templates.env.get_template("mail.html")?.render(&ctx)?;
    Ok(Rendered {
        subject,
        summary,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::DecisionSubject;
    use crate::domain::event::DomainEvent;
    use crate::domain::notification::route;

    fn facts() -> Facts {
        Facts {
            project: ProjectFacts {
                code: "CRM".into(),
                name: "CRM rollout".into(),
            },
            object: ObjectFacts {
                code: "CR-007".into(),
                title: "Add <script>alert(1)</script> & more".into(),
            },
            actor: Person { name: "Ada".into() },
            recipient: Person { name: "Lin".into() },
            decision_subject: Some("CHANGE_REQUEST".into()),
            ..Facts::default()
        }
    }

    fn links() -> Links {
        Links {
            object: Some("https://steerco.example/objects/Q1I6MQ".into()),
            preferences: "https://steerco.example/preferences".into(),
            unsubscribe: Some("https://steerco.example/unsubscribe?token=t".into()),
        }
    }

    #[test]
    fn both_catalogs_load_with_the_same_messages() {
        let catalog = |source: &str| {
            serde_json::from_str::<BTreeMap<String, serde_json::Value>>(source)
                .unwrap()
                .into_keys()
                .collect::<Vec<_>>()
        };
        assert_eq!(catalog(CATALOGS[0].1), catalog(CATALOGS[1].1));
        assert!(templates().is_ok());
    }

    #[test]
    fn every_routed_event_has_a_message_in_every_locale() {
        let id = uuid::Uuid::nil();
        let samples = [
            DomainEvent::DecisionOpened {
                decision_id: id,
                subject: DecisionSubject::GoLive,
            },
            DomainEvent::ScopeReviewOpened { version_id: id },
            DomainEvent::MilestoneDueSoon { milestone_id: id },
            DomainEvent::VotePending { decision_id: id },
        ];
        for event in samples {
            let kind = route(&event).unwrap().kind;
            assert!(knows(kind), "{kind}");
        }
        for locale in [Locale::En, Locale::ZhCn] {
            for kind in KINDS {
                render(locale, kind, &facts(), false, &links()).unwrap();
            }
        }
    }

    /// Every kind the routing table names (kept in step by the unit test below).
    const KINDS: [&str; 46] = [
        "change_request.submitted",
        "change_request.info_requested",
        "change_request.info_provided",
        "change_request.awaiting_decision",
        "change_request.approved",
        "change_request.rejected",
        "change_request.deferred",
        "change_request.implementation_started",
        "change_request.implemented",
        "change_request.closed",
        "decision.opened",
        "decision.vote_cast",
        "decision.closed",
        "scope.review_opened",
        "scope.rejected",
        "scope.baselined",
        "phase.gate_requested",
        "phase.gate_decided",
        "defect.critical_logged",
        "defect.escalated",
        "defect.assigned",
        "defect.ready_for_retest",
        "defect.reopened",
        "defect.open_report",
        "go_live.approved_go",
        "go_live.no_go",
        "go_live.rescheduled",
        "go_live.live",
        "go_live.rolled_back",
        "go_live.closed",
        "go_live.rollback_started",
        "hypercare.metric_breached",
        "milestone.achieved",
        "milestone.health_changed",
        "milestone.overdue",
        "milestone.missed",
        "reminder.milestone_due",
        "reminder.vote_pending",
        "project.on_hold",
        "project.resumed",
        "project.cancelled",
        "project.initiated",
        "project.execution_started",
        "project.closed",
        "test_cycle.started",
        "test_cycle.signed_off",
    ];

    #[test]
    fn the_routing_table_names_only_kinds_the_catalog_knows() {
        let source = include_str!("domain/notification.rs");
        for kind in source
            .split("Route::to(\n")
            .skip(1)
            .chain(source.split("Route::to(").skip(1))
            .filter_map(|rest| rest.trim_start().strip_prefix('"'))
            .filter_map(|rest| rest.split('"').next())
            .filter(|kind| *kind != "test" && !kind.is_empty())
        {
            assert!(KINDS.contains(&kind), "{kind} is routed but not listed");
            assert!(knows(kind), "{kind} has no message");
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let mail = render(Locale::En, "decision.opened", &facts(), true, &links()).unwrap();
        assert!(mail.subject.contains("CR-007 Add <script>"));
        assert!(mail.text.contains("<script>alert(1)</script>"));
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(mail.text.contains("https://steerco.example/objects/Q1I6MQ"));
        assert!(
            mail.text
                .contains("https://steerco.example/unsubscribe?token=t")
        );
        assert!(mail.text.starts_with("Hello Lin,"));
    }

    #[test]
    fn the_layout_pieces_that_name_no_fact_are_rendered_once_and_read_the_same() {
        let templates = templates().unwrap();
        let values = Value::from(Serde(facts()));
        assert_eq!(templates.layouts.len(), CATALOGS.len());
        for (locale, pieces) in &templates.layouts {
            assert_eq!(pieces.len(), LAYOUT_KEYS.len());
            for (key, piece) in LAYOUT_KEYS.iter().zip(pieces) {
                let name = name(*locale, "_layout", key);
                let names_facts = ["greeting", "reason"].contains(key);
                match piece {
                    LayoutPiece::Template(_) => assert!(names_facts, "{name}"),
                    LayoutPiece::Fixed(text) => {
                        assert!(!names_facts, "{name}");
                        let rendered = templates
                            .render_named(&name, *locale, "_layout", &values)
                            .unwrap();
                        assert_eq!(text, &rendered, "{name}");
                    }
                }
            }
        }
        let mail = render(Locale::En, "decision.opened", &facts(), true, &links()).unwrap();
        for fixed in [
            "Action required: please respond in Steerco.",
            "Open in Steerco: https://steerco.example/objects/Q1I6MQ",
            "\u{2014} Steerco",
            "Manage notification preferences: https://steerco.example/preferences",
            "Unsubscribe from emails of this kind: https://steerco.example/unsubscribe?token=t",
        ] {
            assert!(mail.text.contains(fixed), "{fixed:?} in {}", mail.text);
        }
        assert!(mail.text.contains("a member of project CRM CRM rollout."));
        assert!(
            mail.html
                .contains("<strong>Action required: please respond in Steerco.</strong>")
        );
    }

    #[test]
    fn chinese_recipients_read_chinese() {
        let mail = render(Locale::ZhCn, "decision.opened", &facts(), true, &links()).unwrap();
        assert!(mail.subject.starts_with("[CRM]"));
        assert!(
            mail.subject
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        );
        assert!(mail.html.contains("lang=\"zh-CN\""));
    }

    #[test]
    fn a_digest_lists_its_lines() {
        let lines = vec![
            DigestLine {
                subject: "[CRM] Scope v2 baselined".into(),
                summary: "All signed.".into(),
                link: "https://steerco.example/objects/a".into(),
            },
            DigestLine {
                subject: "[CRM] Gate decided".into(),
                summary: "GO.".into(),
                link: "https://steerco.example/objects/b".into(),
            },
            DigestLine {
                subject: "[CRM] UAT open defects: 3".into(),
                summary: "Where they stand:\nCritical: 1\nMajor: 2".into(),
                link: "https://steerco.example/objects/c".into(),
            },
        ];
        let preferences = [
            (
                NotificationClass::Scope,
                "https://steerco.example/p?token=scope".to_owned(),
            ),
            (
                NotificationClass::PhaseGate,
                "https://steerco.example/p?token=gate".to_owned(),
            ),
        ];
        let lin = Person { name: "Lin".into() };
        let mail = render_digest(Locale::En, &lin, &lines, &preferences).unwrap();
        assert!(mail.subject.contains('3'));
        assert!(mail.text.contains("[CRM] Scope v2 baselined"));
        // A summary of several lines keeps each under its subject.
        assert!(
            mail.text.contains(
                "* [CRM] UAT open defects: 3\n  Where they stand:\n  Critical: 1\n  Major: 2\n  https://"
            ),
            "{}",
            mail.text
        );
        assert!(
            mail.html
                .contains("Where they stand:<br>Critical: 1<br>Major: 2</li>"),
            "{}",
            mail.html
        );
        // MiniJinja escapes `/` in HTML too, harmlessly for an href.
        assert!(mail.html.contains("objects&#x2f;b"), "{}", mail.html);
        // Each class the lines fall under has its preferences link, by name.
        assert!(
            mail.text.contains(
                "Manage notification preferences:\n  Scope statement: https://steerco.example/p?token=scope\n  \
                 Phase gates: https://steerco.example/p?token=gate"
            ),
            "{}",
            mail.text
        );
        assert!(mail.html.contains(">Phase gates</a>"), "{}", mail.html);
        // A digest spans projects: no line says which one the recipient is a member of.
        assert!(!mail.text.contains("None"), "{}", mail.text);
        assert!(!mail.html.contains("None"), "{}", mail.html);
        let chinese = render_digest(Locale::ZhCn, &lin, &lines, &preferences).unwrap();
        assert!(chinese.text.contains("范围说明书: "), "{}", chinese.text);
        // A digest of one class names it too.
        let one = render_digest(Locale::En, &lin, &lines[..1], &preferences[..1]).unwrap();
        assert!(
            one.text.contains(
                "--\nManage notification preferences:\n  Scope statement: https://steerco.example/p?token=scope"
            ),
            "{}",
            one.text
        );
    }

    #[test]
    fn every_catalog_names_every_notification_class() {
        let templates = templates().unwrap();
        for (locale, _) in CATALOGS {
            for class in NotificationClass::ALL {
                let label = templates.class_label(locale, class);
                assert!(label.is_some_and(|l| !l.is_empty()), "{locale:?} {class}");
            }
        }
    }
}
