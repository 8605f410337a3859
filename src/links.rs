//! The pages that links in emails open: a notification-preferences page per signed link (its
//! POST is also the RFC 8058 one-click unsubscribe), and a landing page per object.

use poem::http::{StatusCode, header};
use poem::web::{Data, Html, Path};
use poem::{Body, IntoResponse, Request, Response, handler};
use steerco_graphql::domain::notification::{Delivery, NotificationClass};
use steerco_graphql::schema::id::decode_any;
use steerco_graphql::service::audit::Origin;
use steerco_graphql::service::{AppState, outbox};

use crate::server::{UnreadBody, read_body};

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
        NotificationClass::Defect => "UAT defects and test cycles",
        NotificationClass::GoLive => "go-live and hypercare",
        NotificationClass::Milestone => "milestones",
        NotificationClass::Project => {
            "the project's own lifecycle (initiated, in execution, on hold, resumed, cancelled, closed)"
        }
    }
}

/// Largest form the preferences page takes: its buttons send a few bytes, a mail client's
/// one-click unsubscribe a few hundred.
const FORM_LIMIT: usize = 16 * 1024;

/// The delivery a posted form asks for: `delivery=…` from the page's buttons, or
/// `List-Unsubscribe=One-Click` from a mail client (RFC 8058), which sends it url-encoded or,
/// as the RFC prefers, as `multipart/form-data`.
fn chosen_delivery(content_type: &str, form: &[u8]) -> Option<Delivery> {
    let form = std::str::from_utf8(form).ok()?;
    if let Some(boundary) = multipart_boundary(content_type) {
        return multipart_fields(form, boundary)
            .into_iter()
            .find_map(|(name, value)| delivery_field(name, value));
    }
    form.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        delivery_field(name, value)
    })
}

fn delivery_field(name: &str, value: &str) -> Option<Delivery> {
    match (name, value) {
        ("delivery", code) => code.parse().ok(),
        ("List-Unsubscribe", "One-Click") => Some(Delivery::Off),
        _ => None,
    }
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<&str> {
    let (kind, parameters) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parameter(parameters, "boundary").filter(|boundary| !boundary.is_empty())
}

/// The value of the parameter `name` among `;`-separated parameters, unquoted.
fn parameter<'a>(parameters: &'a str, name: &str) -> Option<&'a str> {
    parameters.split(';').find_map(|parameter| {
        let (key, value) = parameter.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"'))
    })
}

/// The fields of a multipart form: each part's name, from its `Content-Disposition`, and its
/// value, trimmed.
fn multipart_fields<'a>(form: &'a str, boundary: &str) -> Vec<(&'a str, &'a str)> {
    form.split(format!("--{boundary}").as_str())
        .filter_map(|part| {
            let (headers, value) = part.split_once("\r\n\r\n")?;
            let name = headers.lines().find_map(|line| {
                let (header, value) = line.split_once(':')?;
                header
                    .trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| parameter(value, "name"))?
            })?;
            Some((name, value.trim()))
        })
        .collect()
}

/// Shows the preference a signed link names, with a choice of the others. A GET never changes
/// anything, so that mail scanners that follow links cannot unsubscribe anyone.
#[handler]
pub async fn preferences_page(request: &Request, state: Data<&AppState>) -> Response {
    let Some(token) = token_of(request) else {
        return bad_link();
    };
    let Some((user_id, class)) = state.mail.verify_link_token(token) else {
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
    let buttons: String = Delivery::ALL
        .into_iter()
        .filter(|d| *d != current)
        .map(|d| {
            // The verified token alone, not the query as it came, whose other parameters
            // would be written into the page as they arrived.
            format!(
                "<form method=\"post\" action=\"?token={token}\"><input type=\"hidden\" name=\"delivery\" value=\"{code}\">\
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

/// How long a client has to send a request's body (`serve --read-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct ReadTimeout(pub std::time::Duration);

/// Changes the preference a signed link names: `delivery=…` from the page's buttons, or
/// `List-Unsubscribe=One-Click` from a mail client (which turns the class off).
#[handler]
pub async fn preferences_update(
    request: &Request,
    body: Body,
    state: Data<&AppState>,
    read_timeout: Data<&ReadTimeout>,
) -> Response {
    let Some((user_id, class)) = token_of(request).and_then(|t| state.mail.verify_link_token(t))
    else {
        return bad_link();
    };
    let form = match read_body(body, FORM_LIMIT, read_timeout.0.0).await {
        Ok(form) => form,
        Err(UnreadBody::TooSlow) => {
            return page(
                StatusCode::REQUEST_TIMEOUT,
                "Too slow",
                "<p>The form did not arrive in time. Nothing was changed.</p>",
            );
        }
        Err(UnreadBody::TooLarge) => {
            return page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "<p>Nothing was changed.</p>",
            );
        }
        Err(UnreadBody::Broken) => return bad_link(),
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let Some(delivery) = chosen_delivery(content_type, &form) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    const URLENCODED: &str = "application/x-www-form-urlencoded";

    #[test]
    fn the_page_buttons_and_a_url_encoded_one_click_choose_a_delivery() {
        let chosen = |form: &str| chosen_delivery(URLENCODED, form.as_bytes());
        assert_eq!(chosen("delivery=DAILY_DIGEST"), Some(Delivery::DailyDigest));
        assert_eq!(chosen("List-Unsubscribe=One-Click"), Some(Delivery::Off));
        assert_eq!(chosen("other=1&delivery=OFF"), Some(Delivery::Off));
        assert_eq!(chosen("delivery=SOMETIMES"), None);
        assert_eq!(chosen(""), None);
        assert_eq!(chosen_delivery(URLENCODED, &[0xff, 0xfe]), None);
    }

    #[test]
    fn a_multipart_one_click_turns_the_class_off() {
        let form = "--xyz\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n\
                    One-Click\r\n--xyz--\r\n";
        assert_eq!(
            chosen_delivery("multipart/form-data; boundary=xyz", form.as_bytes()),
            Some(Delivery::Off)
        );
        assert_eq!(
            chosen_delivery("Multipart/Form-Data; boundary=\"xyz\"", form.as_bytes()),
            Some(Delivery::Off)
        );
        let file = "--b\r\ncontent-disposition: form-data; filename=\"a\"; name=\"delivery\"\r\n\
                    Content-Type: text/plain\r\n\r\nIMMEDIATE\r\n--b--\r\n";
        assert_eq!(
            chosen_delivery("multipart/form-data; boundary=b", file.as_bytes()),
            Some(Delivery::Immediate)
        );
        let other = "--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n\
                     Later\r\n--b--\r\n";
        assert_eq!(
            chosen_delivery("multipart/form-data; boundary=b", other.as_bytes()),
            None
        );
        assert_eq!(
            chosen_delivery("multipart/form-data", form.as_bytes()),
            None
        );
    }
}
