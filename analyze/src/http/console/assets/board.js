// The region health board: the detector's feed (GET /v1/regions/health) as one card per
// region with its state and the evidence behind it, and the flagged targets, quarantined
// workers and user storms. It refreshes while the page is open; the browser revalidates
// with the feed's entity tag, so an unchanged feed costs a 304.
'use strict';

const REFRESH_MS = 15000;
const WARMING_UP_RETRY_MS = 5000;

const board = {
  // The instant of the last snapshot shown (RFC 3339), or null.
  at: null,
  timer: null,

  async load() {
    clearTimeout(board.timer);
    let health;
    try {
      health = await api.json('/v1/regions/health');
    } catch (e) {
      if (e.status === 503) {
        dom.say('board-message', 'The detector has not finished its first tick; retrying.');
        board.timer = setTimeout(board.load, WARMING_UP_RETRY_MS);
      } else if (e.status === 404) {
        dom.say('board-message', 'The region-health detector is off on this server (--health-interval 0).');
      } else if (e.status !== 401) {
        dom.say('board-message', 'Region health: ' + e.message, true);
        board.timer = setTimeout(board.load, REFRESH_MS);
      }
      return;
    }
    board.render(health);
    board.timer = setTimeout(board.load, REFRESH_MS);
  },

  stop() {
    clearTimeout(board.timer);
  },

  render(health) {
    board.at = health.at;
    dom.say('board-at', 'as of ' + dom.time(health.at));
    const regions = health.regions || [];
    dom.say('board-message', regions.length ? '' : 'No region has reported in the detector\u2019s windows.');
    dom.fill('board', regions.map(board.card));
    dom.fill(
      'flags',
      board.flags('Flagged targets', health.flagged_targets),
      board.flags('Quarantined workers', health.quarantined_workers),
      board.flags('User storms', health.user_storms),
    );
  },

  card(region) {
    const e = region.evidence || {};
    const signal = e.n_attempts > 0 || e.n_failed > 0;
    return dom.el(
      'article',
      { class: 'region-card status-' + region.status, 'data-region': region.region, 'data-status': region.status },
      dom.el('h3', null, region.region, ' ', dom.el('span', { class: 'badge status-' + region.status }, region.status)),
      dom.facts([
        ['since', dom.time(region.since)],
        ['kind', region.kind],
        ['traffic weight', dom.percent(region.weight)],
        ['steer away', region.steer_away ? 'yes' : 'no'],
      ]),
      signal ? board.evidence(e) : dom.el('p', { class: 'meta evidence' }, 'No signal in the detector\u2019s windows.'),
    );
  },

  // The numbers that decided a state, in the words of the anomaly report.
  evidence(e) {
    const outcomes = e.outcomes || {};
    const failedBy = ['timeout', 'refused', 'dns_error', 'other']
      .filter((o) => outcomes[o] > 0)
      .map((o) => o + ' ' + outcomes[o])
      .join(', ');
    const targets = (e.targets || [])
      .slice(0, 4)
      .map((t) => t.target + ' ' + dom.percent(t.rate) + ' (baseline ' + dom.percent(t.baseline_rate) + ')')
      .join('; ');
    const jobs = e.jobs || {};
    return dom.el(
      'div',
      { class: 'evidence' },
      dom.facts([
        [
          'connects failed',
          e.n_failed + ' of ' + e.n_attempts + ' (' + dom.percent(e.rate) + ') in ' + e.window_minutes + ' min',
        ],
        ['baseline', dom.percent(e.baseline_rate)],
        ['peers', e.peer_rate === null || e.peer_rate === undefined ? null : dom.percent(e.peer_rate)],
        ['p-value', e.p_value > 0 && e.p_value < 1 ? e.p_value.toExponential(1) : null],
        ['failed by', failedBy],
        ['targets', targets],
        ['involved', (e.involved || []).slice(0, 6).join(', ')],
        [
          'jobs',
          jobs.n_jobs
            ? jobs.n_infra + ' of ' + jobs.n_jobs + ' failed by infrastructure (' + dom.percent(jobs.infra_rate) + ')'
            : null,
        ],
        ['signal since', dom.time(e.since)],
        ['note', e.note],
      ]),
    );
  },

  flags(title, flags) {
    const list = flags || [];
    return dom.el(
      'p',
      { class: 'flags' },
      dom.el('b', null, title + ': '),
      list.length
        ? list.map((f, i) => [i ? ', ' : '', f.name + ' (' + f.kind + ', since ' + dom.time(f.since) + ')'])
        : 'none',
    );
  },
};
