//! The client under test, as the harness starts it: a command line ([`ClientCommand`]), or a
//! Rust client made in this process ([`InProcess`], from the driver protocol's
//! [`Environment`]). Below the driver, the runner and `run`, which all take one.

use model::driver::Driven;
use std::sync::Arc;

/// How to start the client under test (program and arguments; the environment is added).
#[derive(Debug, Clone)]
pub struct ClientCommand {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
}

/// The driver protocol's environment of one client start.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: Vec<(String, String)>,
}

impl Environment {
    /// A variable's value (the last one given wins, as in a process's environment).
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// Every variable, in the order given.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }
}

type Make = dyn Fn(&Environment) -> Result<Arc<dyn Driven>, String> + Send + Sync;

/// A client to run in-process: its name (for reports) and how to make one from the
/// environment. An `Err` is the client failing to start (its text is the client's stderr).
#[derive(Clone)]
pub struct InProcess {
    name: String,
    make: Arc<Make>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl InProcess {
    /// A client named `name`, made by `make` at each start.
    pub fn new(
        name: impl Into<String>,
        make: impl Fn(&Environment) -> Result<Arc<dyn Driven>, String> + Send + Sync + 'static,
    ) -> InProcess {
        InProcess {
            name: name.into(),
            make: Arc::new(make),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes one incarnation from the protocol's variables.
    pub(crate) fn make(&self, vars: &[(String, String)]) -> Result<Arc<dyn Driven>, String> {
        (self.make)(&Environment {
            vars: vars.to_vec(),
        })
    }

    /// The command a report names for it: `in-process:NAME`.
    pub fn command(&self) -> ClientCommand {
        ClientCommand {
            program: format!("in-process:{}", self.name),
            args: vec![],
        }
    }
}
