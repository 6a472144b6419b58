// The SQL console: a statement (POST /v1/sql) or a named query with its parameters
// (POST /v1/queries/{name}), the result as a table, and the same request again as CSV for
// download.
'use strict';

const sql = {
  // The last request run, so that "Download CSV" asks for the same rows.
  last: null,

  async init() {
    let listed;
    try {
      listed = await api.json('/v1/queries');
    } catch (e) {
      if (e.status !== 401) dom.say('sql-message', 'Named queries: ' + e.message, true);
      return;
    }
    sql.queries = listed.queries;
    dom.fill(
      'named-query',
      listed.queries.map((q) => dom.el('option', { value: q.name }, q.name)),
    );
    sql.describe();
  },

  describe() {
    const name = dom.byId('named-query').value;
    const query = (sql.queries || []).find((q) => q.name === name);
    dom.say('named-description', query ? query.description + ' (parameters: ' + (query.params.join(', ') || 'none') + ')' : '');
  },

  statement() {
    return { path: '/v1/sql', body: { sql: dom.byId('sql-text').value } };
  },

  named() {
    const name = dom.byId('named-query').value;
    const query = (sql.queries || []).find((q) => q.name === name) || { params: [] };
    const body = {};
    for (const param of ['since', 'until', 'region']) {
      const value = dom.byId('named-' + param).value.trim();
      if (value && query.params.includes(param)) body[param] = value;
    }
    return { path: '/v1/queries/' + encodeURIComponent(name), body };
  },

  async run(request) {
    sql.last = request;
    dom.say('sql-message', 'Running\u2026');
    dom.fill('sql-result');
    let result;
    try {
      result = await api.json(request.path, { method: 'POST', body: request.body });
    } catch (e) {
      if (e.status !== 401) dom.say('sql-message', e.message, true);
      return;
    }
    const columns = result.columns.map((c) => c.name);
    dom.say(
      'sql-message',
      result.row_count + (result.row_count === 1 ? ' row' : ' rows') + (result.truncated ? ', cut at the server\u2019s row cap' : ''),
    );
    dom.fill('sql-result', dom.el('div', { class: 'scroll' }, dom.table(columns, result.rows)));
  },

  // Runs the last request again (or the statement) as CSV and saves it as a file.
  async csv() {
    const request = sql.last || sql.statement();
    let blob;
    try {
      blob = await (await api.request(request.path, { method: 'POST', body: request.body, accept: 'text/csv' })).blob();
    } catch (e) {
      if (e.status !== 401) dom.say('sql-message', 'CSV: ' + e.message, true);
      return;
    }
    const url = URL.createObjectURL(blob);
    const link = dom.el('a', { href: url, download: 'failscope-result.csv' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    dom.say('sql-message', 'Saved ' + blob.size + ' bytes of CSV as failscope-result.csv.');
  },
};
