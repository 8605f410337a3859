//! The pages that links in emails open: a notification-preferences page per signed link (its
//! POST is also the RFC 8058 one-click unsubscribe), and a landing page per object.

use poem::http::StatusCode;
use poem::web::{Data, Html, Path};
use poem::{Body, IntoResponse, Request, Response, handler};
use steerco_graphql::domain::notification::{Delivery, NotificationClass};
use steerco_graphql::schema::id::decode_any;
use steerco_graphql::service::audit::Origin;
use steerco_graphql::service::{AppState, outbox};

/// The signed token in a link's query string.
fn token_of(request: &Request) -> Option<&str> {
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto\">\
         <h1>{title}</h1>{body}</body></html>"
    ))
    .with_status(status)
    .into_response()
}

fn bad_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This link is not valid",
        "<p>The link is damaged or was not issued by this Steerco. Open a recent email and use its link.</p>",
    )
}

fn words(class: NotificationClass) -> &'static str {
    match class {
        NotificationClass::ChangeRequest => "change requests",
        NotificationClass::Decision => "steering committee ballots",
        NotificationClass::Scope => "scope statements",
        NotificationClass::PhaseGate => "phase gates",
        NotificationClass::Defect => "UAT defects",
        NotificationClass::GoLive => "go-live and hypercare",
        NotificationClass::Milestone => "milestones",
    }
}

/// Shows the preference a signed link names, with a choice of the others. A GET never changes
/// anything, so that mail scanners that follow links cannot unsubscribe anyone.
#[handler]
pub async fn preferences_page(request: &Request, state: Data<&AppState>) -> Response {
    let Some((user_id, class)) = token_of(request).and_then(|t| state.mail.verify_link_token(t))
    else {
        return bad_link();
    };
    let current = match outbox::preferences_of(&state.db, user_id).await {
        Ok(prefs) => prefs
            .into_iter()
            .find(|(c, _)| *c == class)
            .map_or(Delivery::Immediate, |(_, d)| d),
        Err(error) => {
            tracing::error!(%error, "reading preferences");
            return page(StatusCode::INTERNAL_SERVER_ERROR, "Try again later", "");
        }
    };
    let query = request.uri().query().unwrap_or_default();
    let buttons: String = Delivery::ALL
        .into_iter()
        .filter(|d| *d != current)
        .map(|d| {
            format!(
                "<form method=\"post\" action=\"?{query}\"><input type=\"hidden\" name=\"delivery\" value=\"{code}\">\
                 <button type=\"submit\">{label}</button></form>",
                code = d.as_str(),
                label = match d {
                    Delivery::Immediate => "Email me each one",
                    Delivery::DailyDigest => "Send one digest a day",
                    Delivery::Off => "Stop these emails",
                }
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "Email preferences",
        &format!(
            "<p>Emails about <strong>{}</strong> reach you as: <strong>{}</strong>.</p>{buttons}\
             <p>Emails that ask you to act (vote, sign, fix, retest) and urgent news always come.</p>",
            words(class),
            current.as_str()
        ),
    )
}

/// Changes the preference a signed link names: `delivery=…` from the page's buttons, or
/// `List-Unsubscribe=One-Click` from a mail client (which turns the class off).
#[handler]
pub async fn preferences_update(request: &Request, body: Body, state: Data<&AppState>) -> Response {
    let Some((user_id, class)) = token_of(request).and_then(|t| state.mail.verify_link_token(t))
    else {
        return bad_link();
    };
    let Ok(form) = body.into_string().await else {
        return bad_link();
    };
    let chosen = form.split('&').find_map(|pair| match pair.split_once('=') {
        Some(("delivery", code)) => code.parse::<Delivery>().ok(),
        Some(("List-Unsubscribe", "One-Click")) => Some(Delivery::Off),
        _ => None,
    });
    let Some(delivery) = chosen else {
        return page(
            StatusCode::BAD_REQUEST,
            "Choose a delivery",
            "<p>Nothing was changed.</p>",
        );
    };
    let origin = Origin {
        actor_id: Some(user_id),
        actor_name: None,
        request_id: None,
    };
    match outbox::set_preferences(&state, origin, user_id, &[(class, delivery)]).await {
        Ok(_) => page(
            StatusCode::OK,
            "Saved",
            &format!(
                "<p>Emails about <strong>{}</strong> now reach you as: <strong>{}</strong>.</p>",
                words(class),
                delivery.as_str()
            ),
        ),
        Err(error) => {
            tracing::error!(%error, "saving preferences");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Try again later", "")
        }
    }
}

/// Where an email's object link lands: the object's global id and how to fetch it.
#[handler]
pub async fn object_page(Path(id): Path<String>) -> Response {
    let Some((kind, _)) = decode_any(&id) else {
        return page(StatusCode::NOT_FOUND, "Not found", "");
    };
    // `id` decoded as one of ours, so it holds base64url characters only: safe in HTML.
    page(
        StatusCode::OK,
        kind.name(),
        &format!(
            "<p>Fetch it from the API (signed in) with:</p>\
             <pre>query {{ node(id: \"{id}\") {{ id ... on {name} {{ __typename }} }} }}</pre>\
             <p><a href=\"/graphql\">Open the API</a></p>",
            name = kind.name()
        ),
    )
}
