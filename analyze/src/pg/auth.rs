//! Who may connect to the Postgres endpoint: any user name with the API token as password,
//! checked with SCRAM-SHA-256 so the token never crosses the network; or anyone, when the
//! server runs without a token (on a loopback address only).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use datafusion_postgres::pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use datafusion_postgres::pgwire::api::{ClientInfo, ConnectionManager};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use futures::Sink;

/// PBKDF2 rounds of the salted token; Postgres' own default.
const SCRAM_ITERATIONS: usize = 4096;

/// The endpoint's credentials, set up once; [`Credentials::handler`] makes each connection's
/// startup handler from them.
#[derive(Clone)]
pub(crate) struct Credentials {
    /// The salted token, computed once at start-up rather than on every connection.
    token: Option<Arc<SaltedToken>>,
    connections: Arc<ConnectionManager>,
}

impl Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("token", &self.token.as_ref().map(|_| "<redacted>")).finish()
    }
}

impl Credentials {
    pub(crate) fn new(token: Option<&str>, connections: Arc<ConnectionManager>) -> Credentials {
        let token = token.map(|token| {
            let salt = uuid::Uuid::new_v4().into_bytes().to_vec();
            let salted = gen_salted_password(token, &salt, SCRAM_ITERATIONS);
            Arc::new(SaltedToken { salt, salted })
        });
        Credentials { token, connections }
    }

    /// A fresh handler for one connection (the SASL exchange keeps state).
    pub(crate) fn handler(&self) -> Startup {
        let parameters = Arc::new(server_parameters());
        match &self.token {
            Some(token) => {
                let mut scram = ScramAuth::new(Arc::clone(token) as Arc<dyn AuthSource>);
                scram.set_iterations(SCRAM_ITERATIONS);
                Startup::Token(
                    SASLAuthStartupHandler::new(parameters)
                        .with_scram(scram)
                        .with_connection_manager(Arc::clone(&self.connections)),
                )
            }
            None => Startup::Open(Open { connections: Arc::clone(&self.connections) }),
        }
    }
}

/// What the server tells clients about itself: a read-only session, not a superuser.
fn server_parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.default_transaction_read_only = true;
    parameters.is_superuser = false;
    parameters
}

struct SaltedToken {
    salt: Vec<u8>,
    salted: Vec<u8>,
}

impl Debug for SaltedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltedToken(<redacted>)")
    }
}

#[async_trait]
impl AuthSource for SaltedToken {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// One connection's startup handler.
pub(crate) enum Startup {
    Token(SASLAuthStartupHandler<DefaultServerParameterProvider>),
    Open(Open),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Token(handler) => handler.on_startup(client, message).await,
            Startup::Open(handler) => handler.on_startup(client, message).await,
        }
    }
}

/// No authentication; still registered, so a client can cancel its statement.
pub(crate) struct Open {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for Open {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}
