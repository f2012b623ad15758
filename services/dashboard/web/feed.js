// The live feed: the latest alerts, then every new one pushed by /api/events within moments of
// being stored; acknowledgements from any supervisor show up the same way.
'use strict';

(() => {
  const MAX_CARDS = 300;
  const form = document.getElementById('filters');
  const list = document.getElementById('alerts');
  const empty = document.getElementById('empty');
  const summary = document.getElementById('summary');
  const agentIds = document.getElementById('agent-ids');
  const cards = new Map();  // sequence -> card
  const knownAgents = new Set();
  let events = null;
  let generation = 0;

  const kindSelect = form.elements.kind;
  for (const [kind, label] of Object.entries(CG.KINDS)) kindSelect.append(CG.el('option', { value: kind }, label));

  function filters() { return CG.formToQuery(form); }

  // The hub filters by agent, kind and severity; "unacknowledged only" is a view over them.
  function streamQuery(params) {
    const stream = new URLSearchParams(params);
    stream.delete('unacknowledged');
    return stream;
  }

  function updateSummary() {
    const total = cards.size;
    let open = 0;
    for (const card of cards.values()) if (card.dataset.acknowledged !== 'true') open += 1;
    summary.textContent = total ? `${total} alert${total === 1 ? '' : 's'} shown · ${open} unacknowledged` : '';
    empty.hidden = total > 0;
  }

  function rememberAgent(stored) {
    const id = stored.alert && stored.alert.agentId;
    if (!id || knownAgents.has(id)) return;
    knownAgents.add(id);
    agentIds.append(CG.el('option', { value: id }, stored.agentName ? `${stored.agentName} (${id})` : id));
  }

  function addAlert(stored, fresh) {
    const key = String(stored.sequence);
    if (cards.has(key)) return;
    const card = CG.alertCard(stored);
    if (fresh) card.classList.add('fresh');
    cards.set(key, card);
    rememberAgent(stored);
    // Newest first, by sequence, even if a replayed alert arrives after a newer one.
    let before = null;
    for (const other of list.children) {
      if (Number(other.dataset.sequence) < Number(stored.sequence)) { before = other; break; }
    }
    list.insertBefore(card, before);
    while (list.children.length > MAX_CARDS) {
      const last = list.lastElementChild;
      cards.delete(last.dataset.sequence);
      last.remove();
    }
  }

  function applyAck(ack) {
    const card = cards.get(String(ack.alertSequence));
    if (!card) return;
    if (filters().get('unacknowledged') === 'true') {
      cards.delete(String(ack.alertSequence));
      card.remove();
      return;
    }
    CG.renderAck(card, { sequence: ack.alertSequence, acknowledgement: ack });
  }

  async function load() {
    const mine = ++generation;
    if (events) events.close();
    events = null;
    cards.clear();
    list.replaceChildren();
    CG.showError('');
    const params = filters();
    const query = new URLSearchParams(params);
    query.set('page_size', '100');
    let page;
    try {
      page = await CG.api('/api/alerts?' + query.toString());
    } catch (error) {
      CG.showError(`Cannot load alerts: ${error.message}`);
      CG.setConnection('offline', 'offline');
      return;
    }
    if (mine !== generation) return;
    for (const stored of page.alerts || []) addAlert(stored, false);
    updateSummary();
    // Everything stored after the list was read arrives through the stream; duplicates are
    // dropped by sequence.
    events = CG.openEvents(streamQuery(params), {
      cursor: { alert: page.lastSequence, ack: page.lastAckSequence },
      onAlert(stored) {
        if (mine !== generation) return;
        if (params.get('unacknowledged') === 'true' && stored.acknowledgement && stored.acknowledgement.supervisor) return;
        addAlert(stored, true);
        updateSummary();
      },
      onAck(ack) {
        if (mine !== generation) return;
        applyAck(ack);
        updateSummary();
      },
      // The list is reloaded with a fresh cursor, so nothing in between is lost.
      onClosed() { if (mine === generation) load(); },
    });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = filters();
    history.replaceState(null, '', params.toString() ? '/?' + params.toString() : '/');
    load();
  });
  document.getElementById('clear-filters').addEventListener('click', () => {
    form.reset();
    history.replaceState(null, '', '/');
    load();
  });

  CG.queryToForm(form, new URLSearchParams(location.search));
  load();
})();
