// Calls in progress: who is on the line, whether the agent identified themselves, and how many
// alerts each call has. Refreshed every two seconds and whenever an alert is stored.
'use strict';

(() => {
  const REFRESH_MS = 2000;
  const form = document.getElementById('filters');
  const body = document.querySelector('#calls tbody');
  const empty = document.getElementById('empty');
  const summary = document.getElementById('summary');
  let clockOffset = 0;  // server time minus local time, so elapsed times use the server's clock
  let rows = [];
  let timer = null;
  let loading = false;
  let events = null;

  function yesNo(value) {
    return CG.el('span', { class: value ? 'yes' : 'no' }, value ? 'yes' : 'no');
  }

  function partyCell(party) {
    const cls = party === 'PARTY_DEBTOR' ? 'party party-debtor'
      : (party === 'PARTY_THIRD_PARTY' || party === 'PARTY_UNKNOWN' || party === 'PARTY_WRONG_NUMBER') ? 'party party-third' : 'party';
    return CG.el('span', { class: cls }, CG.partyLabel(party));
  }

  function elapsed(call) {
    const started = CG.parseTime(call.started);
    return started ? CG.formatDuration(Date.now() + clockOffset - started.getTime()) : '—';
  }

  function render() {
    body.replaceChildren();
    for (const call of rows) {
      const agent = call.agent || {};
      const alerts = Number(call.alertCount || 0);
      const tr = CG.el('tr', { 'data-call-id': call.callId },
        CG.el('td', {}, CG.el('a', { href: CG.callUrl(call.callId) }, agent.name || agent.agentId || '—'),
          agent.name && agent.agentId ? ` (${agent.agentId})` : ''),
        CG.el('td', {}, agent.team || '—'),
        CG.el('td', {}, (call.agency && (call.agency.name || call.agency.id)) || '—'),
        CG.el('td', { class: 'elapsed' }, elapsed(call)),
        CG.el('td', {}, partyCell(call.party)),
        CG.el('td', {}, yesNo(call.agentIdentified)),
        CG.el('td', {}, yesNo(call.debtCollectorDisclosed)),
        CG.el('td', {}, CG.el('span', { class: alerts ? 'count' : 'count zero' }, String(alerts))),
        CG.el('td', {}, String(call.turns || 0)),
        CG.el('td', {}, CG.dialedLabel(call.dialed)),
        CG.el('td', {}, CG.el('a', { href: CG.callUrl(call.callId) }, call.callId)));
      body.append(tr);
    }
    empty.hidden = rows.length > 0;
    summary.textContent = rows.length ? `${rows.length} call${rows.length === 1 ? '' : 's'} in progress` : '';
  }

  function tick() {
    const cells = body.querySelectorAll('td.elapsed');
    rows.forEach((call, i) => { if (cells[i]) cells[i].textContent = elapsed(call); });
  }

  async function refresh() {
    if (loading) return;
    loading = true;
    try {
      const query = CG.formToQuery(form);
      const all = [];
      let token = '';
      let serverTime = null;
      do {
        const params = new URLSearchParams(query);
        params.set('page_size', '500');
        if (token) params.set('page_token', token);
        const page = await CG.api('/api/calls?' + params.toString());
        all.push(...(page.calls || []));
        serverTime = serverTime || CG.parseTime(page.serverTime);
        token = page.nextPageToken || '';
      } while (token && all.length < 5000);
      if (serverTime) clockOffset = serverTime.getTime() - Date.now();
      rows = all;
      render();
      CG.showError('');
    } catch (error) {
      CG.showError(`Cannot load calls: ${error.message}`);
    } finally {
      loading = false;
    }
  }

  function start() {
    if (timer) clearInterval(timer);
    if (events) events.close();
    refresh();
    timer = setInterval(refresh, REFRESH_MS);
    const query = CG.formToQuery(form);
    events = CG.openEvents(query, { onAlert: refresh });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = CG.formToQuery(form);
    history.replaceState(null, '', params.toString() ? '/calls?' + params.toString() : '/calls');
    start();
  });
  document.getElementById('clear-filters').addEventListener('click', () => {
    form.reset();
    history.replaceState(null, '', '/calls');
    start();
  });

  CG.queryToForm(form, new URLSearchParams(location.search));
  setInterval(tick, 1000);
  start();
})();
