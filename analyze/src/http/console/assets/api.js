// Talking to failscope serve: the API token kept in this tab's session storage and sent as
// the bearer token; errors with the server's message; a refused token sends the page back
// to the login form.
'use strict';

const TOKEN_KEY = 'failscope.token';

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

const api = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },

  setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },

  forget() {
    sessionStorage.removeItem(TOKEN_KEY);
  },

  // fetch with the token; resolves to the Response when it is 2xx or 304. `signal` aborts
  // it (the server then cancels the work).
  async request(path, { method = 'GET', body, accept = 'application/json', signal } = {}) {
    const headers = { Accept: accept };
    const token = api.token();
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (response.status === 401) {
      api.forget();
      document.dispatchEvent(new CustomEvent('failscope:unauthorized'));
      throw new ApiError('the token was refused', 401);
    }
    if (!response.ok) {
      let message = response.status + ' ' + response.statusText;
      try {
        const problem = await response.json();
        if (problem.error) message = problem.error;
      } catch (_) {
        // Not JSON: the status line says enough.
      }
      throw new ApiError(message, response.status);
    }
    return response;
  },

  async json(path, options) {
    return (await api.request(path, options)).json();
  },
};
