// A period: the anomaly report's content for it (GET /v1/console/period), drawn by the
// server with the report's own chart code: the region x hour heatmap of the infra-failure
// rate, the health timeline, and the incidents with their evidence, whose affected jobs open
// on demand (GET /v1/console/incident-jobs) and link to a job's evidence.
'use strict';

const HOUR_MS = 3600000;

const period = {
  // The request in flight: a new one aborts it, so an old period never overwrites a newer
  // one and the server stops replaying it.
  inFlight: null,

  // Fills the form with the 24 hours before `until` (RFC 3339; now when absent), whole hours.
  init(until) {
    const end = until ? new Date(until) : new Date();
    const endHour = Math.ceil(end.getTime() / HOUR_MS) * HOUR_MS;
    dom.byId('period-until').value = new Date(endHour).toISOString().replace('.000', '');
    dom.byId('period-since').value = new Date(endHour - 24 * HOUR_MS).toISOString().replace('.000', '');
  },

  async load() {
    const since = dom.byId('period-since').value.trim();
    const until = dom.byId('period-until').value.trim();
    dom.say('period-message', 'Replaying the detector over the period\u2026');
    if (period.inFlight) period.inFlight.abort();
    const controller = new AbortController();
    period.inFlight = controller;
    let data;
    try {
      data = await api.json('/v1/console/period?' + new URLSearchParams({ since, until }), {
        signal: controller.signal,
      });
    } catch (e) {
      if (controller.signal.aborted) return;
      if (e.status !== 401) dom.say('period-message', 'Period: ' + e.message, true);
      return;
    } finally {
      if (period.inFlight === controller) period.inFlight = null;
    }
    dom.say('period-message', dom.time(data.since) + ' to ' + dom.time(data.until));
    const s = data.summary;
    dom.fill(
      'period-summary',
      s.n_jobs + ' jobs finished; ' + s.n_failed + ' did not pass: ',
      dom.el('b', null, s.n_infra + ' infrastructure'),
      ', ' + s.n_user + ' user, ' + s.n_unknown + ' unknown. Jobs failed by infrastructure ran ',
      dom.el('b', null, s.infra_job_minutes + ' job-minutes'),
      ' for nothing.',
    );
    // The charts are SVG the server drew with every text escaped; they carry no script.
    dom.byId('heatmap').innerHTML = data.heatmap_svg;
    dom.byId('timeline').innerHTML = data.timeline_svg;
    period.incidents(data);
  },

  incidents(data) {
    if (!data.incidents.length) {
      dom.fill('incidents', dom.el('p', null, 'None opened in the period.'));
      return;
    }
    const rows = data.incidents.map((incident, i) => {
      const open = dom.el('button', { type: 'button', class: 'link', 'data-incident': i }, incident.affected_jobs);
      open.addEventListener('click', () => period.jobs(incident, data.until, i));
      return [
        dom.el(
          'tr',
          { class: 'incident status-' + incident.status },
          dom.el('td', null, incident.scope),
          dom.el('td', null, incident.name),
          dom.el('td', null, dom.el('span', { class: 'badge status-' + incident.status }, incident.status)),
          dom.el('td', null, incident.kind || ''),
          dom.el('td', null, dom.time(incident.start)),
          dom.el('td', null, incident.end ? dom.time(incident.end) : 'still open'),
          dom.el('td', { class: 'n' }, open),
          dom.el('td', { class: 'n' }, incident.wasted_job_minutes),
          dom.el('td', null, incident.evidence_text),
        ),
        dom.el('tr', { class: 'incident-jobs', id: 'incident-jobs-' + i, hidden: true }, dom.el('td', { colspan: 9 })),
      ];
    });
    const head = ['scope', 'name', 'state', 'kind', 'start', 'end', 'affected jobs', 'wasted job-minutes', 'evidence'];
    dom.fill(
      'incidents',
      dom.el(
        'table',
        null,
        dom.el('thead', null, dom.el('tr', null, head.map((h) => dom.el('th', null, h)))),
        dom.el('tbody', null, rows),
      ),
      data.n_degraded_only
        ? dom.el('p', { class: 'meta' }, data.n_degraded_only + ' region episodes stayed degraded and never became an alarm.')
        : null,
    );
  },

  // Shows (or hides again) the jobs an incident affected, each a link to its evidence.
  async jobs(incident, periodEnd, i) {
    const row = dom.byId('incident-jobs-' + i);
    if (!row.hidden) {
      row.hidden = true;
      return;
    }
    const cell = row.firstChild;
    row.hidden = false;
    cell.replaceChildren('Loading the affected jobs\u2026');
    const query = {
      scope: incident.scope,
      name: incident.name,
      since: incident.start,
      until: incident.end || periodEnd,
    };
    let data;
    try {
      data = await api.json('/v1/console/incident-jobs?' + new URLSearchParams(query));
    } catch (e) {
      cell.replaceChildren(dom.el('span', { class: 'error' }, e.message));
      return;
    }
    if (!data.jobs.length) {
      cell.replaceChildren('No job of its scope failed by infrastructure while it was open.');
      return;
    }
    const columns = ['job_id', 'run_attempt', 'project', 'region', 'worker_id', 'finished_at', 'cause', 'rule_id'];
    const table = dom.table(columns, data.jobs);
    for (const [index, job] of data.jobs.entries()) {
      const link = dom.el('a', { href: '#job=' + encodeURIComponent(job.job_id), class: 'job-link' }, job.job_id);
      table.tBodies[0].rows[index].cells[0].replaceChildren(link);
    }
    cell.replaceChildren(
      dom.el(
        'p',
        { class: 'meta' },
        (data.jobs.length < incident.affected_jobs
          ? 'The newest ' + data.jobs.length + ' of the ' + incident.affected_jobs
          : 'All ' + data.jobs.length) + '; open one for its evidence.',
      ),
      dom.el('div', { class: 'scroll' }, table),
    );
  },
};
