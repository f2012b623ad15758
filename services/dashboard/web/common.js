// Shared helpers of the callguard dashboard pages. Every piece of stored text reaches the page
// through textContent or createTextNode, never as markup.
'use strict';

const CG = (() => {
  const KINDS = {
    MISSING_SELF_IDENTIFICATION: 'Missing self-identification',
    THIRD_PARTY_DISCLOSURE: 'Third-party disclosure',
    PROHIBITED_THREAT: 'Prohibited threat',
    NEW_DEBT_INDUCEMENT: 'New-debt inducement',
    ABUSIVE_LANGUAGE: 'Abusive language',
    IMPERSONATION: 'Impersonation',
    MISSING_DEBT_COLLECTOR_DISCLOSURE: 'Missing debt-collector disclosure',
  };
  const KIND_COLORS = {
    MISSING_SELF_IDENTIFICATION: '#2563eb',
    THIRD_PARTY_DISCLOSURE: '#dc2626',
    PROHIBITED_THREAT: '#7c3aed',
    NEW_DEBT_INDUCEMENT: '#d97706',
    ABUSIVE_LANGUAGE: '#db2777',
    IMPERSONATION: '#0d9488',
    MISSING_DEBT_COLLECTOR_DISCLOSURE: '#65a30d',
  };
  const SEVERITY_RANK = { SEVERITY_LOW: 1, SEVERITY_MEDIUM: 2, SEVERITY_HIGH: 3, SEVERITY_CRITICAL: 4 };
  const PARTIES = {
    PARTY_UNKNOWN: 'Not yet known',
    PARTY_DEBTOR: 'Debtor',
    PARTY_THIRD_PARTY: 'Third party',
    PARTY_GUARANTOR: 'Guarantor',
    PARTY_WRONG_NUMBER: 'Wrong number',
    PARTY_VOICEMAIL: 'Voicemail',
  };
  const DIALED = {
    DIALED_NUMBER_UNSPECIFIED: '—',
    DEBTOR_PHONE: "Debtor's phone",
    EMERGENCY_CONTACT: 'Emergency contact',
    GUARANTOR: 'Guarantor',
    WORKPLACE: 'Workplace',
    UNKNOWN_NUMBER: 'Unknown number',
  };

  // el('a', {href: '/x', class: 'y'}, 'text', otherNode): attributes are set as attributes and
  // children as text nodes, so nothing a caller passes is ever parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function kindLabel(kind) { return KINDS[kind] || String(kind || 'Unknown kind'); }
  function severityName(severity) { return String(severity || 'SEVERITY_LOW').replace('SEVERITY_', '').toLowerCase(); }
  function partyLabel(party) { return PARTIES[party] || String(party || '—'); }
  function dialedLabel(dialed) { return DIALED[dialed] || String(dialed || '—'); }
  function callUrl(callId) { return '/calls/' + encodeURIComponent(callId); }

  function parseTime(text) {
    const ms = Date.parse(text || '');
    return Number.isNaN(ms) ? null : new Date(ms);
  }
  function formatTime(text) {
    const time = parseTime(text);
    if (!time) return '';
    const today = new Date().toDateString() === time.toDateString();
    return today ? time.toLocaleTimeString() : time.toLocaleString();
  }
  function formatDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, '0');
    return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  // Fetches JSON; a non-2xx answer throws an Error carrying the server's message and body.
  async function api(path, options) {
    const response = await fetch(path, Object.assign({ headers: { Accept: 'application/json' } }, options || {}));
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      const error = new Error(message);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  function showError(message) {
    const box = document.getElementById('error');
    if (!box) return;
    box.textContent = message || '';
    box.hidden = !message;
  }

  function setConnection(state, label) {
    const badge = document.getElementById('connection');
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = label || state;
  }

  // Keeps one EventSource open for `query` (URLSearchParams without cursor). The browser
  // resumes by itself with Last-Event-ID; if it gives up (an error answer), this reopens the
  // stream from the last cursor seen, so no alert is skipped either way.
  function openEvents(query, handlers) {
    let source = null;
    let cursor = handlers.cursor || null;  // {alert, ack}
    let stopped = false;
    function connect() {
      const params = new URLSearchParams(query);
      if (cursor) {
        params.set('after_sequence', cursor.alert);
        params.set('after_ack_sequence', cursor.ack);
      }
      source = new EventSource('/api/events?' + params.toString());
      const track = (event) => {
        const parts = String(event.lastEventId || '').split(':');
        if (parts.length === 2) cursor = { alert: parts[0], ack: parts[1] };
      };
      source.addEventListener('ready', (event) => { track(event); setConnection('live', 'live'); });
      source.addEventListener('alert', (event) => { track(event); handlers.onAlert && handlers.onAlert(JSON.parse(event.data)); });
      source.addEventListener('ack', (event) => { track(event); handlers.onAck && handlers.onAck(JSON.parse(event.data)); });
      source.addEventListener('fell_behind', (event) => { track(event); setConnection('reconnecting', 'catching up…'); });
      source.onopen = () => setConnection('live', 'live');
      source.onerror = () => {
        if (stopped) return;
        if (source.readyState === EventSource.CLOSED) {
          // Refused (server restarting, or a cursor the server no longer knows): start over.
          setConnection('offline', 'offline, retrying…');
          setTimeout(() => {
            if (stopped) return;
            if (handlers.onClosed) { stopped = true; handlers.onClosed(); } else { connect(); }
          }, 3000);
        } else {
          setConnection('reconnecting', 'reconnecting…');
        }
      };
    }
    connect();
    return {
      close() { stopped = true; if (source) source.close(); },
    };
  }

  // Marks code-point spans of `text` ([{begin, end, className, title}]) with <mark>.
  function highlight(text, spans) {
    const chars = Array.from(text || '');
    const clean = spans
      .filter((s) => Number.isInteger(s.begin) && Number.isInteger(s.end) && s.begin >= 0 && s.end > s.begin && s.begin < chars.length)
      .map((s) => Object.assign({}, s, { end: Math.min(s.end, chars.length) }))
      .sort((a, b) => a.begin - b.begin || b.end - a.end);
    const merged = [];
    for (const span of clean) {
      const last = merged[merged.length - 1];
      if (last && span.begin < last.end) {
        last.end = Math.max(last.end, span.end);
        if (span.rank > last.rank) { last.className = span.className; last.rank = span.rank; }
        if (span.title && !last.title.includes(span.title)) last.title += '; ' + span.title;
      } else {
        merged.push(Object.assign({ title: '', rank: 0 }, span));
      }
    }
    const fragment = document.createDocumentFragment();
    let position = 0;
    for (const span of merged) {
      if (span.begin > position) fragment.append(chars.slice(position, span.begin).join(''));
      fragment.append(el('mark', { class: span.className, title: span.title }, chars.slice(span.begin, span.end).join('')));
      position = span.end;
    }
    if (position < chars.length) fragment.append(chars.slice(position).join(''));
    return fragment;
  }

  // The code-point span of one Evidence in `text`: its own offsets when they point at its
  // words, else the first place the words occur.
  function evidenceSpan(text, evidence) {
    const chars = Array.from(text || '');
    const begin = Number(evidence.beginChar || 0);
    const end = Number(evidence.endChar || 0);
    if (end > begin && chars.slice(begin, end).join('') === evidence.text) return { begin, end };
    if (end > begin && !evidence.text) return { begin, end };
    if (evidence.text) {
      const at = (text || '').indexOf(evidence.text);
      if (at >= 0) {
        const b = Array.from(text.slice(0, at)).length;
        return { begin: b, end: b + Array.from(evidence.text).length };
      }
    }
    return null;
  }

  function supervisorName() { return localStorage.getItem('callguard.supervisor') || ''; }

  // The acknowledgement line of an alert card, or its Acknowledge button and form.
  function renderAck(card, stored) {
    const area = card.querySelector('.ack-area');
    area.replaceChildren();
    const ack = stored.acknowledgement;
    if (ack && ack.supervisor) {
      card.classList.add('acknowledged');
      card.dataset.acknowledged = 'true';
      area.append(el('span', { class: 'ack-status' },
        'Acknowledged by ', el('b', {}, ack.supervisor),
        ack.time ? ' at ' + formatTime(ack.time) : '',
        ack.note ? [' — ', el('span', { class: 'note' }, ack.note)] : ''));
      return;
    }
    card.classList.remove('acknowledged');
    card.dataset.acknowledged = 'false';
    const button = el('button', { type: 'button', class: 'ack-btn' }, 'Acknowledge');
    button.addEventListener('click', () => {
      button.hidden = true;
      area.append(ackForm(card, stored, () => { button.hidden = false; }));
      area.querySelector('input[name="supervisor"]').focus();
    });
    area.append(button);
  }

  function ackForm(card, stored, onCancel) {
    const supervisor = el('input', { name: 'supervisor', placeholder: 'Your name', required: true, maxlength: 200, value: supervisorName() });
    const note = el('textarea', { name: 'note', placeholder: 'What was done (optional)', rows: 1, maxlength: 4000 });
    const problem = el('div', { class: 'form-error', hidden: true });
    const save = el('button', { type: 'submit' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const form = el('form', { class: 'ack-form' }, supervisor, note, save, cancel, problem);
    cancel.addEventListener('click', () => { form.remove(); onCancel(); });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = supervisor.value.trim();
      if (!name) { problem.textContent = 'Enter your name.'; problem.hidden = false; return; }
      save.disabled = true;
      try {
        const updated = await api(`/api/alerts/${encodeURIComponent(stored.sequence)}/ack`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ supervisor: name, note: note.value }),
        });
        localStorage.setItem('callguard.supervisor', name);
        renderAck(card, updated);
      } catch (error) {
        if (error.status === 409 && error.body && error.body.alert) {
          renderAck(card, error.body.alert);  // someone else was first: show theirs
          return;
        }
        problem.textContent = error.message;
        problem.hidden = false;
        save.disabled = false;
      }
    });
    return form;
  }

  // One alert as a card: severity color, kind, who, message, evidence, and (with `details`)
  // the regulation cited and the coaching message.
  function alertCard(stored, options) {
    const opts = options || {};
    const alert = stored.alert || {};
    const severity = severityName(alert.severity);
    const card = el('article', {
      class: `alert sev-${severity}`,
      'data-sequence': stored.sequence,
      'data-call-id': alert.callId,
      'data-kind': alert.violation,
    });
    const agent = stored.agentName ? [el('b', {}, stored.agentName), ` (${alert.agentId || '?'})`] : el('b', {}, alert.agentId || 'unknown agent');
    card.append(
      el('div', { class: 'alert-head' },
        el('span', { class: `badge sev-${severity}` }, severity),
        alert.interim ? el('span', { class: 'badge interim', title: 'raised on an interim recognizer result' }, 'interim') : '',
        el('span', { class: 'kind' }, kindLabel(alert.violation)),
        el('span', { class: 'time' }, formatTime(alert.time)),
        el('span', { class: 'seq' }, '#' + stored.sequence)),
      el('div', { class: 'who' },
        'Agent ', agent,
        stored.team ? ` · team ${stored.team}` : '',
        opts.hideCall ? '' : [' · call ', el('a', { class: 'call-link', href: callUrl(alert.callId) }, alert.callId)],
        ` · turn ${Number(alert.turn || 0) + 1}`),
      el('div', { class: 'message' }, alert.message || ''));
    const quotes = (alert.evidence || []).filter((e) => e.text).map((e) => `“${e.text}”`);
    if (quotes.length) card.append(el('blockquote', { class: 'evidence' }, quotes.join(' · ')));
    if (opts.details) {
      const citations = alert.citations || [];
      if (citations.length) {
        card.append(el('ul', { class: 'citations' }, citations.map((c) =>
          el('li', {}, el('span', { class: 'authority' }, [c.authority, c.section].filter(Boolean).join(' ')), c.summary ? ` — ${c.summary}` : ''))));
      }
      if (alert.coaching) card.append(el('div', { class: 'coaching' }, alert.coaching));
    }
    card.append(el('div', { class: 'ack-area' }));
    renderAck(card, stored);
    return card;
  }

  function markActiveNav() {
    const page = document.body.dataset.page === 'call' ? 'calls' : document.body.dataset.page;
    for (const link of document.querySelectorAll('header nav a')) {
      link.classList.toggle('active', link.dataset.nav === page);
    }
  }

  // Form fields <-> URL query, so a filtered view can be bookmarked and shared.
  function formToQuery(form) {
    const params = new URLSearchParams();
    for (const field of form.elements) {
      if (!field.name) continue;
      if (field.type === 'checkbox') { if (field.checked) params.set(field.name, 'true'); continue; }
      const value = String(field.value || '').trim();
      if (value) params.set(field.name, value);
    }
    return params;
  }
  function queryToForm(form, params) {
    for (const field of form.elements) {
      if (!field.name) continue;
      if (field.type === 'checkbox') field.checked = params.get(field.name) === 'true';
      else if (params.has(field.name)) field.value = params.get(field.name);
    }
  }

  document.addEventListener('DOMContentLoaded', markActiveNav);

  return {
    KINDS, KIND_COLORS, SEVERITY_RANK, el, append, kindLabel, severityName, partyLabel, dialedLabel,
    callUrl, parseTime, formatTime, formatDuration, api, showError, setConnection, openEvents,
    highlight, evidenceSpan, alertCard, renderAck, formToQuery, queryToForm,
  };
})();
