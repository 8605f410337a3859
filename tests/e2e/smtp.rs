//! A real SMTP server on loopback TCP for end-to-end tests of outgoing mail.
//!
//! It owns the listening socket, one task per client session, and the mailbox of what was
//! accepted. Tests can script refusals at the end of DATA (`fail_next`), take the whole server
//! down and bring it back on the same port (`go_down` / `resume`), count the connections
//! clients opened (`connections`), and read accepted messages back decoded through mail-parser
//! (`ReceivedMail`).
//!
//! It speaks just enough plain SMTP (RFC 5321) for lettre and similar clients: no TLS, no AUTH,
//! and every address is accepted.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lettre::message::{Mailbox as LettreMailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as LettreMessage, Tokio1Executor};
use mail_parser::{
    Addr, Address, HeaderForm, HeaderName, HeaderValue, Message, MessageParser, PartType,
};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// The EHLO answer. STARTTLS and AUTH are deliberately absent: the server is plain text only,
/// and a client must not try to upgrade or log in. 8BITMIME and SMTPUTF8 are offered because
/// lettre refuses to send non-ASCII content or addresses to a server without them.
const EHLO_REPLY: &str = "250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8";

pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    serving: Mutex<Option<Serving>>,
}

/// What the sessions and the test share.
struct Shared {
    mailbox: Mutex<Mailbox>,
    /// Woken whenever a message is accepted, so `wait_for` needs no polling.
    accepted: Notify,
}

#[derive(Default)]
struct Mailbox {
    received: Vec<ReceivedMail>,
    /// Codes for the next DATA transactions to be refused with, oldest first.
    scripted_failures: VecDeque<u16>,
    /// Codes for the next MAIL FROM commands to be refused with, oldest first.
    scripted_sender_refusals: VecDeque<u16>,
    refused: usize,
    /// Client connections accepted so far.
    connections: usize,
}

/// The running accept loop. Sending on (or dropping) `stop` ends it.
struct Serving {
    stop: oneshot::Sender<()>,
    accept_loop: JoinHandle<()>,
}

impl SmtpServer {
    /// Binds 127.0.0.1:0 and serves in a spawned task.
    ///
    /// Dropping the server stops it, like `go_down`, once the runtime next polls the accept loop.
    pub async fn start() -> Self {
        let listener = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("the SMTP test server should bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("the SMTP test server's listener should have a local address");
        let shared = Arc::new(Shared {
            mailbox: Mutex::new(Mailbox::default()),
            accepted: Notify::new(),
        });
        let serving = serve(listener, Arc::clone(&shared));
        Self {
            addr,
            shared,
            serving: Mutex::new(Some(serving)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP, no TLS), suitable for lettre's
    /// `AsyncSmtpTransport::from_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The next `count` mail transactions are answered with `code` (e.g. 421 or 550) at the end
    /// of DATA, after the terminating ".", with a short text; those messages are NOT recorded.
    ///
    /// Calls queue up: `fail_next(1, 421)` then `fail_next(1, 550)` refuses the next transaction
    /// with 421 and the one after with 550. After a 421 the server closes the connection, as
    /// RFC 5321 says a 421 reply does.
    pub fn fail_next(&self, count: usize, code: u16) {
        self.shared
            .mailbox()
            .scripted_failures
            .extend(refusals(count, code));
    }

    /// The next `count` MAIL FROM commands are answered with `code`, as a server does to a
    /// sender it will not take (authentication required, relaying refused, a sending quota used
    /// up); those transactions go no further. Counted in `refused`.
    pub fn refuse_senders_next(&self, count: usize, code: u16) {
        self.shared
            .mailbox()
            .scripted_sender_refusals
            .extend(refusals(count, code));
    }

    /// Stops accepting: the listening socket is closed, so connections are refused, and the
    /// open sessions are dropped too. Does nothing when the server is already down.
    pub async fn go_down(&self) {
        let serving = self.serving_slot().take();
        if let Some(Serving { stop, accept_loop }) = serving {
            // The loop may have ended on its own only by panicking; that shows up below.
            let _ = stop.send(());
            accept_loop
                .await
                .expect("the SMTP test server's accept loop should stop cleanly");
        }
    }

    /// Binds the same port again and serves again. Does nothing when the server is up.
    pub async fn resume(&self) {
        let mut serving = self.serving_slot();
        if serving.is_none() {
            let listener = listen(self.addr).unwrap_or_else(|error| {
                panic!(
                    "the SMTP test server should bind {} again: {error}",
                    self.addr
                )
            });
            *serving = Some(serve(listener, Arc::clone(&self.shared)));
        }
    }

    /// Every message accepted so far (250 after DATA), in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.mailbox().received.clone()
    }

    /// How many messages were accepted so far, without copying them.
    pub fn received_count(&self) -> usize {
        self.shared.mailbox().received.len()
    }

    /// Waits until at least `count` messages were accepted, or panics after `timeout` with how
    /// many arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so an acceptance between the look and the wait still
            // wakes us.
            let accepted = self.shared.accepted.notified();
            tokio::pin!(accepted);
            accepted.as_mut().enable();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, accepted).await.is_err() {
                let received = self.received();
                if received.len() >= count {
                    return received;
                }
                let subjects: Vec<String> = received.iter().map(ReceivedMail::subject).collect();
                panic!(
                    "expected at least {count} mail(s) within {timeout:?}, but {} arrived \
                     (subjects: {subjects:?}) and {} were refused by script",
                    received.len(),
                    self.refused()
                );
            }
        }
    }

    /// How many client connections the server accepted so far, across `go_down` / `resume`.
    pub fn connections(&self) -> usize {
        self.shared.mailbox().connections
    }

    /// How many DATA transactions were refused with a scripted code so far.
    pub fn refused(&self) -> usize {
        self.shared.mailbox().refused
    }

    fn serving_slot(&self) -> MutexGuard<'_, Option<Serving>> {
        self.serving
            .lock()
            .expect("the SMTP test server's serving state was poisoned by a panic")
    }
}

impl Shared {
    fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox
            .lock()
            .expect("the SMTP test server's mailbox was poisoned by a panic")
    }

    /// The next scripted refusal of a sender, if any.
    fn refuse_sender(&self) -> Option<u16> {
        let mut mailbox = self.mailbox();
        let code = mailbox.scripted_sender_refusals.pop_front()?;
        mailbox.refused += 1;
        Some(code)
    }

    /// Ends a DATA transaction: refuses it with the next scripted code, if any, or records it.
    fn complete(&self, transaction: Transaction, raw: String) -> Completion {
        let mut mailbox = self.mailbox();
        if let Some(code) = mailbox.scripted_failures.pop_front() {
            mailbox.refused += 1;
            return Completion::Refused(code);
        }
        mailbox.received.push(ReceivedMail {
            mail_from: transaction.mail_from.unwrap_or_default(),
            rcpt_to: transaction.rcpt_to,
            raw,
        });
        let number = mailbox.received.len();
        drop(mailbox);
        self.accepted.notify_waiters();
        Completion::Accepted(number)
    }
}

enum Completion {
    Accepted(usize),
    Refused(u16),
}

/// A listening socket with SO_REUSEADDR, so that `resume` can bind the port again while the
/// sessions `go_down` closed still sit in TIME_WAIT.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

fn serve(listener: TcpListener, shared: Arc<Shared>) -> Serving {
    let (stop, stopped) = oneshot::channel();
    let accept_loop = tokio::spawn(accept_loop(listener, shared, stopped));
    Serving { stop, accept_loop }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    // The sessions live in this set so that stopping the loop can end them all and wait for
    // their sockets to be closed before `go_down` returns.
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            // A stop request and a dropped `SmtpServer` both end serving.
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.mailbox().connections += 1;
                    // Replies are small writes: without this, Nagle's algorithm meets the
                    // client's delayed ACKs and every message waits ~40 ms.
                    let _ = stream.set_nodelay(true);
                    sessions.spawn(session(stream, Arc::clone(&shared)));
                }
                // Such errors (e.g. out of file descriptors) are transient; a short pause keeps
                // the loop from spinning while they last.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reaps finished sessions so that a long test does not pile them up.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    sessions.shutdown().await;
}

/// The envelope of the mail transaction in progress.
#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    // An I/O error means the client went away; the client sees that on its side.
    let _ = converse(stream, &shared).await;
}

async fn converse(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let (reader, writer) = stream.into_split();
    let mut reader = LineReader::new(reader);
    let mut transaction = Transaction::default();
    reply(&writer, "220 localhost Steerco test SMTP server ready").await?;
    loop {
        let Some(line) = reader.next_line().await? else {
            return Ok(());
        };
        let command = String::from_utf8_lossy(without_line_ending(&line)).into_owned();
        let (verb, argument) = command
            .trim()
            .split_once(' ')
            .unwrap_or((command.trim(), ""));
        match verb.to_ascii_uppercase().as_str() {
            // A new greeting starts over, as RFC 5321 says.
            "EHLO" => {
                transaction = Transaction::default();
                reply(&writer, EHLO_REPLY).await?;
            }
            "HELO" => {
                transaction = Transaction::default();
                reply(&writer, "250 localhost").await?;
            }
            "MAIL" => {
                let answer = match path_argument(argument, "FROM:") {
                    None => "501 Syntax: MAIL FROM:<address>".to_owned(),
                    Some(_) if transaction.mail_from.is_some() => {
                        "503 Nested MAIL command".to_owned()
                    }
                    Some(address) => match shared.refuse_sender() {
                        Some(code) => scripted_refusal(code),
                        None => {
                            transaction.mail_from = Some(address);
                            "250 OK".to_owned()
                        }
                    },
                };
                reply(&writer, &answer).await?;
            }
            "RCPT" => {
                let answer = match path_argument(argument, "TO:") {
                    None => "501 Syntax: RCPT TO:<address>",
                    Some(address) if address.is_empty() => "501 Empty recipient address",
                    Some(_) if transaction.mail_from.is_none() => "503 Need MAIL before RCPT",
                    Some(address) => {
                        transaction.rcpt_to.push(address);
                        "250 OK"
                    }
                };
                reply(&writer, answer).await?;
            }
            "DATA" => {
                if transaction.rcpt_to.is_empty() {
                    reply(&writer, "503 Need RCPT before DATA").await?;
                    continue;
                }
                reply(&writer, "354 End data with <CR><LF>.<CR><LF>").await?;
                // A client that leaves in the middle of DATA has sent nothing.
                let Some(raw) = read_data(&mut reader).await? else {
                    return Ok(());
                };
                match shared.complete(std::mem::take(&mut transaction), raw) {
                    Completion::Accepted(number) => {
                        reply(&writer, &format!("250 OK queued as {number}")).await?;
                    }
                    Completion::Refused(code) => {
                        reply(&writer, &scripted_refusal(code)).await?;
                        if code == 421 {
                            return Ok(());
                        }
                    }
                }
            }
            "RSET" => {
                transaction = Transaction::default();
                reply(&writer, "250 OK").await?;
            }
            "NOOP" => reply(&writer, "250 OK").await?,
            "QUIT" => {
                reply(&writer, "221 localhost closing connection").await?;
                return Ok(());
            }
            "" => reply(&writer, "500 Empty command").await?,
            _ => reply(&writer, "502 Command not implemented").await?,
        }
    }
}

/// Reads the message after a 354 up to the line that is exactly ".", undoing the sender's dot
/// stuffing. `None` when the connection closed first.
async fn read_data(reader: &mut LineReader) -> io::Result<Option<String>> {
    let mut message = Vec::new();
    loop {
        let Some(line) = reader.next_line().await? else {
            return Ok(None);
        };
        if without_line_ending(&line) == b"." {
            return Ok(Some(String::from_utf8_lossy(&message).into_owned()));
        }
        // RFC 5321 4.5.2: the sender doubled every leading dot, so the first one goes.
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        message.extend_from_slice(unstuffed);
    }
}

/// The address of `FROM:<address> PARAMETERS` (or `TO:`), without the angle brackets.
/// Parameters such as `BODY=8BITMIME` or `SMTPUTF8` are ignored.
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let prefix = argument.get(..keyword.len())?;
    if !prefix.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = argument[keyword.len()..].trim_start();
    let address = match path.strip_prefix('<') {
        Some(bracketed) => bracketed.split_once('>')?.0,
        // Some clients leave the brackets out; accept that rather than be strict.
        None => path.split_whitespace().next()?,
    };
    Some(address.to_owned())
}

fn without_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `count` scripted refusals with `code`.
fn refusals(count: usize, code: u16) -> impl Iterator<Item = u16> {
    // Only 4xx/5xx are failures; anything else would not parse as a refusal in the client.
    assert!(
        (400..=599).contains(&code),
        "a scripted refusal needs a 4xx or 5xx reply code, got {code}"
    );
    std::iter::repeat_n(code, count)
}

fn scripted_refusal(code: u16) -> String {
    match code {
        421 => {
            "421 localhost Service not available, closing transmission channel (scripted)".into()
        }
        400..=499 => format!("{code} Temporary failure (scripted), try again later"),
        _ => format!("{code} Permanent failure (scripted), message rejected"),
    }
}

/// `lines` may hold several CRLF-separated lines (a multi-line reply); the last CRLF is added.
async fn reply(writer: &OwnedWriteHalf, lines: &str) -> io::Result<()> {
    write_all(writer, format!("{lines}\r\n").as_bytes()).await
}

// Line reading and writing by hand on the readiness API, because tokio's `io-util` feature
// (`BufReader`, `AsyncWriteExt`) is not one this crate asks for.

/// Splits what a socket delivers into LF-terminated lines.
struct LineReader {
    socket: OwnedReadHalf,
    pending: Vec<u8>,
}

impl LineReader {
    fn new(socket: OwnedReadHalf) -> Self {
        Self {
            socket,
            pending: Vec::new(),
        }
    }

    /// The next line with its line ending; `None` once the peer has closed. An unterminated
    /// last line is dropped, since a client that leaves mid-line has not finished saying it.
    async fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
                return Ok(Some(self.pending.drain(..=end).collect()));
            }
            self.socket.readable().await?;
            let mut chunk = [0; 4096];
            match self.socket.try_read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(read) => self.pending.extend_from_slice(&chunk[..read]),
                // Readiness can be spurious.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    }
}

async fn write_all(socket: &OwnedWriteHalf, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        socket.writable().await?;
        match socket.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            // Readiness can be spurious.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The MAIL FROM address without <>.
    pub mail_from: String,
    /// The RCPT TO addresses without <>, in order.
    pub rcpt_to: Vec<String>,
    /// The message as received, dot-unstuffed, without the final ".".
    pub raw: String,
}

impl ReceivedMail {
    /// The decoded (RFC 2047) value of the last header called `name` (any case).
    /// Address headers read `Name <address>, ...`, dates in RFC 822 form.
    pub fn header(&self, name: &str) -> Option<String> {
        let message = self.parsed();
        let value = match message.header(name)? {
            HeaderValue::Address(address) => render_address(address),
            HeaderValue::TextList(texts) => texts.join(", "),
            HeaderValue::DateTime(date) => date.to_rfc822(),
            HeaderValue::Text(text) if !HeaderName::from(name).is_other() => text.to_string(),
            // mail-parser keeps headers it does not know (X-...) raw, so their encoded words
            // are decoded here; content types and trace headers are read back as plain text.
            _ => message
                .header_as(name, HeaderForm::Text)
                .pop()
                .and_then(HeaderValue::into_text)
                .map(Cow::into_owned)
                .unwrap_or_default(),
        };
        Some(value)
    }

    /// The decoded subject, "" if none.
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The Message-ID without <>, "" if none.
    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    /// The decoded text/plain body, "" if the message has none (an HTML-only message is not
    /// converted to text).
    pub fn text_body(&self) -> String {
        let message = self.parsed();
        message
            .text_bodies()
            .find_map(|part| match &part.body {
                PartType::Text(text) => Some(text.to_string()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The decoded text/html body, "" if the message has none.
    pub fn html_body(&self) -> String {
        let message = self.parsed();
        message
            .html_bodies()
            .find_map(|part| match &part.body {
                PartType::Html(html) => Some(html.to_string()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn parsed(&self) -> Message<'_> {
        MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("a received mail should parse as an RFC 5322 message")
    }
}

fn render_address(address: &Address<'_>) -> String {
    match address {
        Address::List(addrs) => render_mailboxes(addrs),
        Address::Group(groups) => groups
            .iter()
            .map(|group| match &group.name {
                Some(name) => format!("{name}: {};", render_mailboxes(&group.addresses)),
                None => render_mailboxes(&group.addresses),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn render_mailboxes(addrs: &[Addr<'_>]) -> String {
    addrs
        .iter()
        .map(
            |addr| match (addr.name.as_deref(), addr.address.as_deref()) {
                (Some(name), Some(address)) => format!("{name} <{address}>"),
                (None, Some(address)) => address.to_owned(),
                (Some(name), None) => name.to_owned(),
                (None, None) => String::new(),
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

// The server's own tests: lettre as the client, plus a raw socket for protocol details.

const WAIT: Duration = Duration::from_secs(2);

fn transport(server: &SmtpServer) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&server.url())
        .expect("the server url should be a valid SMTP url")
        .build()
}

fn mailbox(text: &str) -> LettreMailbox {
    text.parse().expect("a valid mailbox")
}

fn plain_message(subject: &str) -> LettreMessage {
    LettreMessage::builder()
        .from(mailbox("Steerco <noreply@steerco.test>"))
        .to(mailbox("anna@example.com"))
        .subject(subject)
        .body(format!("Body of {subject}"))
        .expect("a valid message")
}

/// A test client that speaks raw SMTP, ending its lines with LF only.
struct RawClient {
    reader: LineReader,
    writer: OwnedWriteHalf,
}

impl RawClient {
    async fn connect(server: &SmtpServer) -> Self {
        let stream = TcpStream::connect(server.addr()).await.expect("connect");
        let (reader, writer) = stream.into_split();
        let mut client = Self {
            reader: LineReader::new(reader),
            writer,
        };
        assert!(client.reply().await.starts_with("220 "));
        client
    }

    /// Sends `line` and returns the whole reply, lines joined with "\n".
    async fn send(&mut self, line: &str) -> String {
        write_all(&self.writer, format!("{line}\n").as_bytes())
            .await
            .expect("the server should take the command");
        self.reply().await
    }

    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let line = self
                .reader
                .next_line()
                .await
                .expect("the server's reply should be readable")
                .expect("the server should reply before closing");
            let line = String::from_utf8(line).expect("replies are UTF-8");
            let line = line.trim_end().to_owned();
            assert!(line.len() >= 4, "truncated reply line {line:?}");
            let last = line.as_bytes()[3] == b' ';
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }
}

#[tokio::test]
async fn lettre_delivers_a_chinese_multipart_message_that_reads_back_decoded() {
    let server = SmtpServer::start().await;
    let text = "变更请求 CR-42 已提交，等待指导委员会审批。\r\n.这一行以句点开头。";
    let html = "<p>变更请求 <b>CR-42</b> 已提交，等待指导委员会审批。</p>";
    let message = LettreMessage::builder()
        .from(mailbox("Steerco <noreply@steerco.test>"))
        .to(mailbox("张伟 <zhang.wei@example.com>"))
        .cc(mailbox("anna@example.com"))
        .subject("变更请求已提交")
        .message_id(Some("<cr-42.submitted@steerco.test>".to_owned()))
        .multipart(MultiPart::alternative_plain_html(
            text.to_owned(),
            html.to_owned(),
        ))
        .expect("a valid message");
    let transport = transport(&server);
    transport
        .send(message)
        .await
        .expect("the server accepts it");
    // A second message over the pooled connection (lettre checks it with NOOP first), in 7bit
    // so that its leading dot reaches the wire stuffed.
    let second = LettreMessage::builder()
        .from(mailbox("Steerco <noreply@steerco.test>"))
        .to(mailbox("anna@example.com"))
        .subject("Second")
        .body("Agenda:\r\n.1 Scope".to_owned())
        .expect("a valid message");
    transport
        .send(second)
        .await
        .expect("the server accepts a second message");

    let received = server.wait_for(2, WAIT).await;
    let mail = &received[0];
    assert_eq!(mail.mail_from, "noreply@steerco.test");
    assert_eq!(mail.rcpt_to, ["zhang.wei@example.com", "anna@example.com"]);
    assert_eq!(mail.subject(), "变更请求已提交");
    assert_eq!(mail.message_id(), "cr-42.submitted@steerco.test");
    assert_eq!(mail.text_body(), text);
    assert_eq!(mail.html_body(), html);
    assert_eq!(
        mail.header("to").as_deref(),
        Some("张伟 <zhang.wei@example.com>")
    );
    assert_eq!(
        mail.header("From").as_deref(),
        Some("Steerco <noreply@steerco.test>")
    );
    assert_eq!(mail.header("X-Not-There"), None);
    assert_eq!(received[1].subject(), "Second");
    // lettre ends the last line with the CRLF that goes before the final ".".
    assert_eq!(received[1].text_body(), "Agenda:\r\n.1 Scope\r\n");
    assert!(received[1].raw.contains("\r\n.1 Scope\r\n"));
    assert_eq!(received[1].html_body(), "");
    assert_eq!(server.refused(), 0);
}

#[tokio::test]
async fn scripted_failures_surface_as_transient_or_permanent_errors_and_are_not_recorded() {
    let server = SmtpServer::start().await;
    let transport = transport(&server);

    server.fail_next(1, 421);
    let error = transport
        .send(plain_message("Refused for now"))
        .await
        .expect_err("the scripted 421 refuses the message");
    assert!(error.is_transient(), "{error}");
    assert_eq!(
        error.status().map(|code| code.to_string()).as_deref(),
        Some("421")
    );

    transport
        .send(plain_message("Accepted"))
        .await
        .expect("only one failure was scripted");

    server.fail_next(1, 550);
    let error = transport
        .send(plain_message("Refused for good"))
        .await
        .expect_err("the scripted 550 refuses the message");
    assert!(error.is_permanent(), "{error}");

    assert_eq!(server.refused(), 2);
    let subjects: Vec<String> = server
        .received()
        .iter()
        .map(ReceivedMail::subject)
        .collect();
    assert_eq!(subjects, ["Accepted"]);
}

#[tokio::test]
async fn a_server_that_went_down_refuses_connections_until_it_resumes_on_the_same_port() {
    let server = SmtpServer::start().await;
    let addr = server.addr();
    let transport = transport(&server);
    transport
        .send(plain_message("Before"))
        .await
        .expect("the server is up");

    server.go_down().await;
    let error = transport
        .send(plain_message("While down"))
        .await
        .expect_err("nothing listens any more");
    let cause = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    assert_eq!(cause, Some(io::ErrorKind::ConnectionRefused), "{error:?}");

    server.resume().await;
    assert_eq!(server.addr(), addr);
    transport
        .send(plain_message("After"))
        .await
        .expect("the server is up again");
    let subjects: Vec<String> = server
        .received()
        .iter()
        .map(ReceivedMail::subject)
        .collect();
    assert_eq!(subjects, ["Before", "After"]);
}

#[tokio::test]
async fn the_protocol_takes_lf_lines_unstuffs_dots_and_keeps_command_order() {
    let server = SmtpServer::start().await;
    let mut client = RawClient::connect(&server).await;

    let ehlo = client.send("EHLO client.test").await;
    assert!(ehlo.starts_with("250-localhost"), "{ehlo}");
    assert!(
        ehlo.contains("8BITMIME") && ehlo.contains("SMTPUTF8"),
        "{ehlo}"
    );
    assert!(
        !ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    assert!(client.send("VRFY anna").await.starts_with("502 "));
    assert!(
        client
            .send("RCPT TO:<anna@example.com>")
            .await
            .starts_with("503 ")
    );
    assert!(client.send("DATA").await.starts_with("503 "));

    // A transaction abandoned by RSET leaves no trace.
    assert!(
        client
            .send("MAIL FROM:<dropped@example.com>")
            .await
            .starts_with("250 ")
    );
    assert!(client.send("RSET").await.starts_with("250 "));
    assert!(client.send("NOOP").await.starts_with("250 "));

    let mail_from = client
        .send("mail from:<pm@example.com> BODY=8BITMIME SMTPUTF8")
        .await;
    assert!(mail_from.starts_with("250 "), "{mail_from}");
    assert!(
        client
            .send("RCPT TO:<anna@example.com>")
            .await
            .starts_with("250 ")
    );
    assert!(
        client
            .send("RCPT TO:<bo@example.com>")
            .await
            .starts_with("250 ")
    );
    assert!(client.send("DATA").await.starts_with("354 "));
    let data = "Subject: =?UTF-8?B?5Y+Y5pu06K+35rGC?=\n\
                X-Steerco-Event: =?UTF-8?Q?=E5=B7=B2=E6=8F=90=E4=BA=A4?=\n\
                \n\
                ..starts with a dot\n\
                ...two dots\n\
                .";
    let accepted = client.send(data).await;
    assert!(accepted.starts_with("250 "), "{accepted}");
    assert!(client.send("QUIT").await.starts_with("221 "));

    let received = server.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.mail_from, "pm@example.com");
    assert_eq!(mail.rcpt_to, ["anna@example.com", "bo@example.com"]);
    assert!(
        mail.raw.ends_with("\n\n.starts with a dot\n..two dots\n"),
        "{:?}",
        mail.raw
    );
    assert_eq!(mail.subject(), "变更请求");
    assert_eq!(mail.header("x-steerco-event").as_deref(), Some("已提交"));
    assert_eq!(mail.message_id(), "");
}

#[tokio::test]
async fn concurrent_sessions_keep_their_transactions_apart() {
    let server = SmtpServer::start().await;
    let mut first = RawClient::connect(&server).await;
    let mut second = RawClient::connect(&server).await;
    for (client, from) in [
        (&mut first, "first@example.com"),
        (&mut second, "second@example.com"),
    ] {
        client.send("HELO client.test").await;
        client.send(&format!("MAIL FROM:<{from}>")).await;
        client.send(&format!("RCPT TO:<to.{from}>")).await;
    }
    for (client, subject) in [(&mut second, "Second"), (&mut first, "First")] {
        assert!(client.send("DATA").await.starts_with("354 "));
        let accepted = client
            .send(&format!("Subject: {subject}\n\nHello\n."))
            .await;
        assert!(accepted.starts_with("250 "), "{accepted}");
    }

    let received = server.wait_for(2, WAIT).await;
    let envelopes: Vec<(String, String, Vec<String>)> = received
        .iter()
        .map(|mail| (mail.subject(), mail.mail_from.clone(), mail.rcpt_to.clone()))
        .collect();
    assert_eq!(
        envelopes,
        [
            (
                "Second".to_owned(),
                "second@example.com".to_owned(),
                vec!["to.second@example.com".to_owned()]
            ),
            (
                "First".to_owned(),
                "first@example.com".to_owned(),
                vec!["to.first@example.com".to_owned()]
            ),
        ]
    );
}

#[tokio::test]
#[should_panic(expected = "expected at least 2 mail(s) within 50ms, but 1 arrived")]
async fn wait_for_panics_with_how_many_mails_arrived() {
    let server = SmtpServer::start().await;
    transport(&server)
        .send(plain_message("Only one"))
        .await
        .expect("the server accepts it");
    server.wait_for(2, Duration::from_millis(50)).await;
}
