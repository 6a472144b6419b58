// A job's classification with its evidence (GET /v1/console/jobs/{id}): the attribution and
// cause, the rule or signature that decided it, its connect counts and failed targets, the
// regional context, the log tail the signatures read, and every connect it made.
'use strict';

const job = {
  async open(id) {
    dom.byId('job-id').value = id;
    dom.say('job-message', 'Reading job ' + id + '\u2026');
    dom.fill('job-result');
    let data;
    try {
      data = await api.json('/v1/console/jobs/' + encodeURIComponent(id));
    } catch (e) {
      if (e.status !== 401) dom.say('job-message', 'Job: ' + e.message, true);
      return;
    }
    if (!data.classifications.length && !data.connects.length) {
      dom.say('job-message', 'The lake has no failed attempt and no connect of job ' + id + '.');
      return;
    }
    dom.say(
      'job-message',
      data.classifications.length ? '' : 'Job ' + id + ' has connects but no failed attempt: it passed, or has not finished.',
    );
    dom.fill('job-result', data.classifications.map(job.classification), job.connects(data.connects));
  },

  classification(c) {
    const signature = c.matched_signature
      ? c.matched_signature + (c.signature_description ? ': ' + c.signature_description : '')
      : null;
    return dom.el(
      'article',
      { class: 'classification attribution-' + c.attribution, 'data-job': c.job_id },
      dom.el(
        'h3',
        null,
        'Attempt ' + c.run_attempt + ': ',
        dom.el('span', { class: 'badge attribution-' + c.attribution }, c.attribution),
        ' ' + c.cause,
      ),
      dom.facts([
        ['rule', c.rule_id],
        ['confidence', c.confidence === undefined ? null : Number(c.confidence).toFixed(2)],
        ['matched signature', signature],
        ['its pattern', c.signature_pattern],
        ['project', c.project],
        ['job kind', c.job_kind],
        ['region / zone', [c.region, c.zone].filter(Boolean).join(' / ')],
        ['worker', c.worker_id],
        ['ran', dom.time(c.started_at) + ' to ' + dom.time(c.finished_at)],
        ['status', c.status],
        ['failed step', c.failed_step],
        ['exit code', c.exit_code],
        ['signal', c.signal],
        ['runner reason', c.runner_reason],
        [
          'connects',
          c.n_connects + ' made, ' + c.n_failed_connects + ' failed, ' + c.n_abandoned_connects + ' abandoned',
        ],
        ['failed targets', c.failed_targets],
        ['unrecovered targets', c.unrecovered_targets],
        ['failed connect outcome', c.failed_connect_outcome],
        [
          'regional anomaly',
          c.region_anomaly
            ? 'open that hour (region connect failure rate ' + dom.percent(c.region_connect_failure_rate) + ')'
            : 'none that hour',
        ],
      ]),
      c.log_tail ? [dom.el('h4', null, 'Log tail'), dom.el('pre', { class: 'log' }, c.log_tail)] : null,
    );
  },

  connects(connects) {
    if (!connects.length) return dom.el('p', { class: 'meta' }, 'No connect of this job was recorded.');
    const columns = [
      'started_at',
      'target_service',
      'target_host',
      'target_port',
      'target_owner',
      'phase',
      'attempt',
      'outcome',
      'errno',
      'duration_ms',
    ];
    return [
      dom.el('h4', null, 'Connects (' + connects.length + ')'),
      dom.el(
        'div',
        { class: 'scroll', id: 'job-connects' },
        dom.table(columns, connects, (row) => (row.outcome === 'ok' ? null : 'failed')),
      ),
    ];
  },
};
