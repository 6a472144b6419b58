// Building the page from data: elements with text content only (never markup from the
// lake), and the few formats every panel uses.
'use strict';

const dom = {
  // el('td', {class: 'n'}, 'text', child…): attributes are set as attributes, children as
  // text nodes or elements; null and undefined children are skipped.
  el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  },

  byId(id) {
    return document.getElementById(id);
  },

  // Replaces the children of the element with id `id`.
  fill(id, ...children) {
    dom.byId(id).replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null));
  },

  say(id, text, isError) {
    const node = dom.byId(id);
    node.textContent = text || '';
    node.classList.toggle('error', Boolean(isError));
  },

  // 2022-04-05T23:46:00Z -> 2022-04-05 23:46 UTC
  time(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  },

  percent(share) {
    if (share === undefined || share === null) return '';
    const p = share * 100;
    return (p !== 0 && Math.abs(p) < 0.1 ? p.toPrecision(2) : p.toFixed(1)) + ' %';
  },

  // A table of `columns` (names) over `rows` (objects); a missing value shows as null.
  table(columns, rows, rowClass) {
    const head = dom.el('thead', null, dom.el('tr', null, columns.map((c) => dom.el('th', null, c))));
    const body = dom.el(
      'tbody',
      null,
      rows.map((row) =>
        dom.el(
          'tr',
          { class: rowClass ? rowClass(row) : null },
          columns.map((c) => {
            const value = row[c];
            if (value === undefined || value === null) return dom.el('td', { class: 'null' }, 'null');
            const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
            return dom.el('td', { class: typeof value === 'number' ? 'n' : null }, text);
          }),
        ),
      ),
    );
    return dom.el('table', null, head, body);
  },

  // A key/value table of `pairs` ([label, value]), skipping empty values.
  facts(pairs) {
    const rows = pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== '')
      .map(([label, value]) => dom.el('tr', null, dom.el('th', null, label), dom.el('td', null, value)));
    return dom.el('table', { class: 'facts' }, dom.el('tbody', null, rows));
  },
};
