// One call's timeline: each utterance with the words that raised an alert highlighted, who was
// on the line as it changed, and under each utterance its alerts with the regulation they cite
// and how the agent should have put it.
'use strict';

(() => {
  const REFRESH_MS = 3000;
  const segments = location.pathname.split('/').filter(Boolean);
  const callId = segments.length >= 2 ? decodeURIComponent(segments[1]) : '';
  const title = document.getElementById('call-title');
  const facts = document.getElementById('call-facts');
  const timeline = document.getElementById('timeline');
  const otherAlerts = document.getElementById('other-alerts');
  let timer = null;
  let events = null;
  let lastRendered = '';

  function fact(label, value) {
    return CG.el('div', {}, CG.el('dt', {}, label), CG.el('dd', {}, value === undefined || value === '' ? '—' : value));
  }

  function renderFacts(call) {
    const start = call.start || {};
    const agent = start.agent || {};
    const agency = start.agency || {};
    const debtor = start.debtor || {};
    const summary = call.summary || {};
    const started = CG.parseTime(call.started);
    const ended = CG.parseTime(call.ended);
    const now = Date.now();
    const serverNow = CG.parseTime(call.serverTime);
    const offset = serverNow ? serverNow.getTime() - now : 0;
    const duration = started ? CG.formatDuration((ended ? ended.getTime() : now + offset) - started.getTime()) : '—';
    const last = (call.partyChanges || []).slice(-1)[0];
    facts.replaceChildren(
      fact('Status', call.active ? CG.el('span', { class: 'yes' }, 'in progress') : 'ended' + (summary.endReason ? ` (${summary.endReason})` : '')),
      fact('Agent', [agent.name || agent.agentId || '—', agent.name && agent.agentId ? ` (${agent.agentId})` : '']),
      fact('Team', agent.team),
      fact('Agency', agency.name || agency.id),
      fact('Debtor', debtor.name),
      fact('Dialed', CG.dialedLabel(start.dialed)),
      fact('Policy', [start.policy, summary.policyVersion ? ` ${summary.policyVersion}` : ''].join('')),
      fact('Started', CG.formatTime(call.started)),
      fact(call.active ? 'Elapsed' : 'Duration', duration),
      fact('On the line', CG.partyLabel(call.active ? (last ? last.party : 'PARTY_UNKNOWN') : summary.party)),
      fact('Agent identified', (call.active ? last && last.agentIdentified : summary.agentIdentified) ? 'yes' : 'no'),
      fact('Alerts', String((call.alerts || []).length)));
  }

  function partyChange(change) {
    const flags = [];
    if (change.agentIdentified) flags.push('agent identified');
    if (change.debtCollectorDisclosed) flags.push('debt collector disclosed');
    return CG.el('div', { class: 'party-change' },
      'On the line: ', CG.el('b', {}, CG.partyLabel(change.party)),
      flags.length ? ` · ${flags.join(', ')}` : '',
      change.note ? ` · ${change.note}` : '',
      change.fromDialer ? ' (from the dialer)' : '');
  }

  function offsetLabel(ms) {
    const value = Number(ms || 0);
    return value > 0 ? CG.formatDuration(value) : '';
  }

  function renderTimeline(call) {
    const alertsByTurn = new Map();
    for (const stored of call.alerts || []) {
      const turn = Number((stored.alert || {}).turn || 0);
      if (!alertsByTurn.has(turn)) alertsByTurn.set(turn, []);
      alertsByTurn.get(turn).push(stored);
    }
    const changesByTurn = new Map();
    for (const change of call.partyChanges || []) {
      const turn = Number(change.afterTurn);
      if (!changesByTurn.has(turn)) changesByTurn.set(turn, []);
      changesByTurn.get(turn).push(change);
    }
    const nodes = [];
    for (const change of changesByTurn.get(-1) || []) nodes.push(partyChange(change));
    const shownTurns = new Set();
    for (const utterance of call.utterances || []) {
      const turn = Number(utterance.turn || 0);
      shownTurns.add(turn);
      const alerts = alertsByTurn.get(turn) || [];
      const spans = [];
      for (const stored of alerts) {
        for (const evidence of stored.alert.evidence || []) {
          const span = CG.evidenceSpan(utterance.text, evidence);
          if (!span) continue;
          const severity = CG.severityName(stored.alert.severity);
          spans.push(Object.assign(span, {
            className: `sev-${severity}`,
            rank: CG.SEVERITY_RANK[stored.alert.severity] || 0,
            title: CG.kindLabel(stored.alert.violation),
          }));
        }
      }
      const speaker = utterance.speaker === 'AGENT' ? 'Agent' : utterance.speaker === 'COUNTERPARTY' ? 'Counterparty' : 'Speaker';
      nodes.push(CG.el('div', {
        class: `utterance speaker-${speaker.toLowerCase()}${alerts.length ? ' has-alert' : ''}`,
        'data-turn': turn,
      },
      CG.el('div', {}, CG.el('div', { class: 'speaker' }, speaker),
        CG.el('div', { class: 'offset' }, `turn ${turn + 1}`, offsetLabel(utterance.startMs) ? ` · ${offsetLabel(utterance.startMs)}` : '')),
      CG.el('div', { class: 'text' }, CG.highlight(utterance.text, spans))));
      if (alerts.length) {
        nodes.push(CG.el('div', { class: 'turn-alerts' }, alerts.map((s) => CG.alertCard(s, { details: true, hideCall: true }))));
      }
      for (const change of changesByTurn.get(turn) || []) nodes.push(partyChange(change));
    }
    timeline.replaceChildren(...nodes);
    // Alerts on turns the store has no utterance for (an interim result, a dropped utterance).
    const orphans = [];
    for (const [turn, alerts] of alertsByTurn) if (!shownTurns.has(turn)) orphans.push(...alerts);
    otherAlerts.replaceChildren();
    if (orphans.length) {
      otherAlerts.append(CG.el('h2', {}, 'Alerts on turns without a stored utterance'));
      for (const stored of orphans) otherAlerts.append(CG.alertCard(stored, { details: true, hideCall: true }));
    }
    otherAlerts.hidden = orphans.length === 0;
    if (!(call.utterances || []).length && !orphans.length) {
      timeline.replaceChildren(CG.el('p', { class: 'empty' }, 'Nothing recorded for this call yet.'));
    }
  }

  async function load() {
    if (!callId) {
      CG.showError('No call id in the address.');
      return;
    }
    let call;
    try {
      call = await CG.api('/api/calls/' + encodeURIComponent(callId));
    } catch (error) {
      CG.showError(error.status === 404 ? `No call "${callId}" is stored.` : `Cannot load the call: ${error.message}`);
      return;
    }
    CG.showError('');
    title.textContent = `Call ${callId}`;
    document.title = `Call ${callId} · callguard`;
    renderFacts(call);
    // Re-render the timeline only when it changed, so an open acknowledge form survives.
    const { serverTime, ...content } = call;
    const key = JSON.stringify(content);
    if (key !== lastRendered) {
      if (!timeline.querySelector('form.ack-form')) {
        renderTimeline(call);
        lastRendered = key;
      }
    }
    if (!call.active && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  title.textContent = `Call ${callId}`;
  load().then(() => {
    timer = setInterval(load, REFRESH_MS);
    events = CG.openEvents(new URLSearchParams({ call: callId }), { onAlert: load, onAck: load });
  });
})();
