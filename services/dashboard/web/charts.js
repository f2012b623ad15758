// Alerts per kind and per agent over the last hours, drawn as plain SVG from /api/stats.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const REFRESH_MS = 30000;
  const BUCKETS = { 1: 300, 3: 600, 6: 900, 12: 1800, 24: 3600, 72: 10800 };
  const form = document.getElementById('filters');
  const summary = document.getElementById('summary');
  let pending = null;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (value <= 5) return 5;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
    return 10 * magnitude;
  }

  function timeChart(stats) {
    const width = 960;
    const height = 260;
    const left = 44;
    const bottom = 28;
    const top = 10;
    const bucket = Number(stats.bucketSeconds) * 1000;
    const since = CG.parseTime(stats.since).getTime();
    const until = CG.parseTime(stats.until).getTime();
    const count = Math.max(1, Math.ceil((until - since) / bucket));
    const stacks = Array.from({ length: count }, () => new Map());
    for (const row of stats.counts || []) {
      const index = Math.floor((CG.parseTime(row.bucketStart).getTime() - since) / bucket);
      if (index < 0 || index >= count) continue;
      const stack = stacks[index];
      stack.set(row.violation, (stack.get(row.violation) || 0) + Number(row.count));
    }
    const totals = stacks.map((s) => Array.from(s.values()).reduce((a, b) => a + b, 0));
    const max = niceMax(Math.max(0, ...totals));
    const plotWidth = width - left - 10;
    const plotHeight = height - top - bottom;
    const slot = plotWidth / count;
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Alerts over time, stacked by kind' });
    // niceMax gives 5, 10, 20, 25, 50, ...: five steps are whole numbers.
    for (let i = 0; i <= 5; i += 1) {
      const y = top + plotHeight - (plotHeight * i) / 5;
      chart.append(svg('line', { x1: left, x2: width - 10, y1: y, y2: y, class: 'gridline' }));
      chart.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, String((max * i) / 5)));
    }
    const labelEvery = Math.max(1, Math.ceil(count / 12));
    stacks.forEach((stack, i) => {
      let y = top + plotHeight;
      const x = left + i * slot + slot * 0.12;
      for (const kind of Object.keys(CG.KINDS)) {
        const value = stack.get(kind) || 0;
        if (!value) continue;
        const h = (plotHeight * value) / max;
        y -= h;
        const bar = svg('rect', { x, y, width: Math.max(1, slot * 0.76), height: h, fill: CG.KIND_COLORS[kind] });
        bar.append(svg('title', {}, `${CG.kindLabel(kind)}: ${value}`));
        chart.append(bar);
      }
      if (i % labelEvery === 0) {
        const at = new Date(since + i * bucket);
        chart.append(svg('text', { x: left + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle' },
          at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
      }
    });
    return chart;
  }

  // Horizontal bars, one per row, each split by kind.
  function barChart(rows, label) {
    const width = 460;
    const rowHeight = 26;
    const labelWidth = 190;
    const height = Math.max(1, rows.length) * rowHeight + 8;
    const max = Math.max(1, ...rows.map((r) => r.total));
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label });
    if (!rows.length) {
      chart.append(svg('text', { x: 4, y: 18 }, 'No alerts in this period.'));
      return chart;
    }
    rows.forEach((row, i) => {
      const y = 4 + i * rowHeight;
      chart.append(svg('text', { x: labelWidth - 8, y: y + 16, 'text-anchor': 'end' }, row.label));
      let x = labelWidth;
      for (const [kind, value] of row.parts) {
        const w = ((width - labelWidth - 40) * value) / max;
        const bar = svg('rect', { x, y: y + 3, width: Math.max(1, w), height: rowHeight - 8, fill: CG.KIND_COLORS[kind] || '#64748b' });
        bar.append(svg('title', {}, `${CG.kindLabel(kind)}: ${value}`));
        chart.append(bar);
        x += w;
      }
      chart.append(svg('text', { x: x + 6, y: y + 16, class: 'value' }, String(row.total)));
    });
    return chart;
  }

  function render(stats) {
    const byKind = new Map();
    const byAgent = new Map();
    let total = 0;
    for (const row of stats.counts || []) {
      const n = Number(row.count);
      total += n;
      byKind.set(row.violation, (byKind.get(row.violation) || 0) + n);
      const agent = row.agentId || '(no agent)';
      if (!byAgent.has(agent)) byAgent.set(agent, new Map());
      const parts = byAgent.get(agent);
      parts.set(row.violation, (parts.get(row.violation) || 0) + n);
    }
    document.getElementById('chart-time').replaceChildren(timeChart(stats));
    const kindRows = Object.keys(CG.KINDS)
      .filter((kind) => byKind.get(kind))
      .map((kind) => ({ label: CG.kindLabel(kind), total: byKind.get(kind), parts: [[kind, byKind.get(kind)]] }))
      .sort((a, b) => b.total - a.total);
    document.getElementById('chart-kind').replaceChildren(barChart(kindRows, 'Alerts per kind'));
    const agentRows = Array.from(byAgent, ([agent, parts]) => ({
      label: agent,
      total: Array.from(parts.values()).reduce((a, b) => a + b, 0),
      parts: Object.keys(CG.KINDS).filter((k) => parts.get(k)).map((k) => [k, parts.get(k)]),
    })).sort((a, b) => b.total - a.total).slice(0, 15);
    document.getElementById('chart-agent').replaceChildren(barChart(agentRows, 'Alerts per agent'));
    document.getElementById('legend').replaceChildren(...Object.keys(CG.KINDS).map((kind) => {
      const swatch = CG.el('span', { class: 'swatch' });
      swatch.style.backgroundColor = CG.KIND_COLORS[kind];  // CSSOM: allowed by the page's CSP
      return CG.el('li', {}, swatch, CG.kindLabel(kind));
    }));
    summary.textContent = `${total} alert${total === 1 ? '' : 's'} from ${CG.formatTime(stats.since)} to ${CG.formatTime(stats.until)}`;
  }

  async function refresh() {
    const params = CG.formToQuery(form);
    const hours = params.get('hours') || '6';
    params.set('hours', hours);
    params.set('bucket_seconds', String(BUCKETS[hours] || 3600));
    try {
      render(await CG.api('/api/stats?' + params.toString()));
      CG.showError('');
    } catch (error) {
      CG.showError(`Cannot load the counts: ${error.message}`);
    }
  }

  // Many alerts in a burst cost one refresh.
  function refreshSoon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, 1000);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    history.replaceState(null, '', '/charts?' + CG.formToQuery(form).toString());
    refresh();
  });

  const initial = new URLSearchParams(location.search);
  if (!initial.has('hours')) initial.set('hours', '6');
  CG.queryToForm(form, initial);
  refresh();
  setInterval(refresh, REFRESH_MS);
  CG.openEvents(new URLSearchParams(), { onAlert: refreshSoon });
})();
