//! The driver protocol's messages (`docs/driver-protocol.md`, version [`VERSION`]): JSON lines
//! between the harness (on the client's stdin) and a client under test (on its stdout). Both
//! the harness and the reference client read and write these types, so the protocol is defined
//! once. Unknown fields are ignored on both sides, so messages can grow compatibly.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::transcript::Hello;

/// The protocol version a hello names.
pub const VERSION: u32 = 1;

/// A line the harness writes to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToClient {
    /// Do something now, and answer with a [`FromClient::Result`] of the same id.
    Command(Command),
    /// Where the browser ended for a [`FromClient::Browse`].
    Browsed(Browsed),
}

/// A command: its id (unique in the run of one client) and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Answers carry it back.
    pub id: u64,
    /// The operation and its arguments.
    #[serde(flatten)]
    pub op: Op,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The app needs a token now.
    AcquireToken {
        /// The scopes (empty: the client's default ones).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes: Vec<String>,
        /// On-behalf-of: the token the middle tier received (other flows may ignore it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assertion: Option<String>,
    },
    /// Call the resource with the client's token.
    CallApi {
        /// `GET`, `POST`, ...
        method: String,
        /// Under `TOKENSTORM_GRAPH_URL`.
        url: String,
    },
    /// Who is signed in and what may they do.
    Whoami,
    /// Persist what you keep and exit 0.
    Shutdown,
    /// An operation this side doesn't know (a newer harness): answer `ok: false`.
    #[serde(other)]
    Unknown,
}

impl Op {
    /// The operation's name on the wire (`acquire_token`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::AcquireToken { .. } => "acquire_token",
            Op::CallApi { .. } => "call_api",
            Op::Whoami => "whoami",
            Op::Shutdown => "shutdown",
            Op::Unknown => "unknown",
        }
    }

    /// The arguments alone (what the transcript records), without `op`.
    pub fn args(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => {
                m.remove("op");
                Value::Object(m)
            }
            _ => Value::Object(Map::new()),
        }
    }
}

/// The browser's end for a `browse`: the URL it ended on, or why it could not finish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Browsed {
    /// The id of the command the browse served.
    pub id: u64,
    /// The URL the browser ended on, exactly as a browser sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Instead of `url`: the user cancelled, or the browser could not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A line a client writes to the harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromClient {
    /// The first line: who the client is and what it can do.
    Hello(Hello),
    /// The answer to a command.
    Result(Answer),
    /// Load this URL in the harness's browser (the user signs in there).
    Browse(Browse),
    /// Show this device code to the user (the harness enters it).
    DeviceCode(DeviceCode),
}

/// A command's answer: `ok`, and whatever else the operation answers (`access_token`,
/// `status` and `body`, `name` and `roles`, `error` and `description`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The command's id.
    pub id: u64,
    /// Whether the operation succeeded (for `call_api`, a 2xx).
    #[serde(default)]
    pub ok: bool,
    /// The rest of the answer, as the client wrote it.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Answer {
    /// An answer with these fields.
    pub fn new(id: u64, ok: bool, fields: Value) -> Answer {
        Answer {
            id,
            ok,
            fields: match fields {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    /// A failed answer: the `error` code and a description (informational, not judged).
    pub fn failed(id: u64, error: &str, description: &str) -> Answer {
        Answer::new(
            id,
            false,
            serde_json::json!({"error": error, "description": description}),
        )
    }

    /// The answer as one JSON object, `type` included (the shape the harness records).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(FromClient::Result(self.clone())).unwrap_or(Value::Null)
    }
}

/// A URL for the harness's browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Browse {
    /// The id of the command it serves.
    pub id: u64,
    /// The authorize URL.
    pub url: String,
    /// Where the browser loads it.
    #[serde(default)]
    pub frame: Frame,
}

/// Where a browse is loaded: it matters when the scenario's user blocks third-party cookies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "String")]
pub enum Frame {
    /// A window or popup (the default; also any value this side doesn't know).
    #[default]
    Top,
    /// A hidden iframe (MSAL.js's silent sign-in): no third-party cookies when they're blocked.
    Iframe,
}

impl From<String> for Frame {
    fn from(s: String) -> Frame {
        if s == "iframe" {
            Frame::Iframe
        } else {
            Frame::Top
        }
    }
}

/// A device code to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceCode {
    /// The id of the command it serves.
    pub id: u64,
    /// The code the user types.
    #[serde(default)]
    pub user_code: String,
    /// Where the user types it.
    #[serde(default)]
    pub verification_uri: String,
}

/// One line of the protocol: the message's JSON and a newline.
pub fn line<T: Serialize>(message: &T) -> String {
    let mut s = serde_json::to_string(message).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_read_and_write_as_the_protocol_page_shows_them() {
        let c: ToClient = serde_json::from_value(
            json!({"type":"command","id":1,"op":"acquire_token","scopes":["s"],"extra":1}),
        )
        .unwrap();
        assert_eq!(
            c,
            ToClient::Command(Command {
                id: 1,
                op: Op::AcquireToken {
                    scopes: vec!["s".into()],
                    assertion: None
                }
            })
        );
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"type":"command","id":1,"op":"acquire_token","scopes":["s"]})
        );
        let w: ToClient =
            serde_json::from_str(r#"{"type":"command","id":3,"op":"whoami"}"#).unwrap();
        assert_eq!(
            w,
            ToClient::Command(Command {
                id: 3,
                op: Op::Whoami
            })
        );
        // A newer harness's operation is read, as one to refuse.
        let n: ToClient =
            serde_json::from_str(r#"{"type":"command","id":4,"op":"teleport","to":"x"}"#).unwrap();
        assert_eq!(
            n,
            ToClient::Command(Command {
                id: 4,
                op: Op::Unknown
            })
        );
        assert_eq!(
            Op::CallApi {
                method: "GET".into(),
                url: "u".into()
            }
            .args(),
            json!({"method":"GET","url":"u"})
        );
    }

    #[test]
    fn client_messages_keep_what_they_carry_and_refuse_what_lacks_an_id() {
        let r: FromClient = serde_json::from_value(
            json!({"type":"result","id":2,"ok":true,"access_token":"t","status":200}),
        )
        .unwrap();
        let FromClient::Result(a) = r else {
            panic!("not a result")
        };
        assert!(a.ok);
        assert_eq!(a.fields["access_token"], "t");
        assert_eq!(
            a.to_value(),
            json!({"type":"result","id":2,"ok":true,"access_token":"t","status":200})
        );
        // `ok` missing is a failure; a browse's unknown frame is the top window.
        let r: FromClient = serde_json::from_str(r#"{"type":"result","id":5}"#).unwrap();
        assert!(matches!(r, FromClient::Result(Answer { ok: false, .. })));
        let b: FromClient =
            serde_json::from_str(r#"{"type":"browse","id":1,"url":"u","frame":"tab"}"#).unwrap();
        assert!(matches!(
            b,
            FromClient::Browse(Browse {
                frame: Frame::Top,
                ..
            })
        ));
        let b: FromClient =
            serde_json::from_str(r#"{"type":"browse","id":1,"url":"u","frame":"iframe"}"#).unwrap();
        assert!(matches!(
            b,
            FromClient::Browse(Browse {
                frame: Frame::Iframe,
                ..
            })
        ));
        assert!(serde_json::from_str::<FromClient>(r#"{"type":"result","ok":true}"#).is_err());
        assert!(serde_json::from_str::<FromClient>(r#"{"type":"greeting","id":1}"#).is_err());
        let h: FromClient =
            serde_json::from_str(r#"{"type":"hello","protocol":1,"client":"c"}"#).unwrap();
        assert!(matches!(
            h,
            FromClient::Hello(Hello {
                protocol: VERSION,
                ..
            })
        ));
    }
}
