// The console's start: whether to ask for a token (GET /v1/console/session), the login form,
// then every panel; a job named in the address (#job=ID) opens its evidence.
'use strict';

const main = {
  async boot() {
    dom.byId('login-form').addEventListener('submit', main.login);
    dom.byId('logout').addEventListener('click', main.logout);
    dom.byId('period-form').addEventListener('submit', (e) => {
      e.preventDefault();
      period.load();
    });
    dom.byId('job-form').addEventListener('submit', (e) => {
      e.preventDefault();
      location.hash = 'job=' + encodeURIComponent(dom.byId('job-id').value.trim());
    });
    dom.byId('sql-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sql.run(sql.statement());
    });
    dom.byId('named-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sql.run(sql.named());
    });
    dom.byId('named-query').addEventListener('change', sql.describe);
    dom.byId('sql-csv').addEventListener('click', sql.csv);
    window.addEventListener('hashchange', main.route);
    document.addEventListener('failscope:unauthorized', () => main.showLogin('The server refused the token.'));

    let session;
    try {
      session = await api.json('/v1/console/session');
    } catch (e) {
      main.showLogin('Cannot reach the server: ' + e.message);
      return;
    }
    main.tokenRequired = session.token_required;
    if (main.tokenRequired && !api.token()) {
      main.showLogin('');
      return;
    }
    main.start();
  },

  async login(event) {
    event.preventDefault();
    api.setToken(dom.byId('token').value);
    dom.byId('token').value = '';
    main.start();
  },

  logout() {
    api.forget();
    board.stop();
    main.showLogin('Logged out.');
  },

  showLogin(message) {
    board.stop();
    dom.byId('console').hidden = true;
    dom.byId('nav').hidden = true;
    dom.byId('login').hidden = false;
    dom.say('login-message', message, Boolean(message) && message !== 'Logged out.');
    dom.byId('token').focus();
  },

  async start() {
    dom.byId('login').hidden = true;
    dom.byId('console').hidden = false;
    dom.byId('nav').hidden = false;
    dom.byId('logout').hidden = !main.tokenRequired;
    // The named-query list is the first authenticated request: a refused token ends here.
    await sql.init();
    if (dom.byId('console').hidden) return;
    await board.load();
    period.init(board.at);
    main.route();
    await period.load();
  },

  route() {
    const match = /^#job=(.+)$/.exec(location.hash);
    if (match) {
      dom.byId('job-section').scrollIntoView();
      job.open(decodeURIComponent(match[1]));
    }
  },
};

main.boot();
