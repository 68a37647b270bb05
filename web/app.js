/* Bouchon dashboard.
 *
 * Plain browser script (no build step, no framework); Leaflet is the only library (global `L`).
 * It reads the JSON API of docs/openapi.yaml, relative to the page's own address, so the page
 * works behind a path prefix too. Times come from the API in UTC and are shown in Europe/Paris.
 * Numbers are shown the French way ("10,34 km"); KPI elements also carry the raw value in
 * data-value with a period ("10.34"), for scripts and tests.
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ constants
  var API = 'api/v1/';
  var TZ = 'Europe/Paris';
  var STATES = ['FLUIDE', 'DENSE', 'EMBOUTEILLE', 'PARALYSE', 'INCONNU'];
  var STATE_COLORS = {
    FLUIDE: '#2f9e44', DENSE: '#f08c00', EMBOUTEILLE: '#e03131', PARALYSE: '#5c0a0a', INCONNU: '#9aa1a9'
  };
  var STATE_RANK = { INCONNU: 0, FLUIDE: 1, DENSE: 2, EMBOUTEILLE: 3, PARALYSE: 4 };
  var CONGESTED = { EMBOUTEILLE: true, PARALYSE: true };
  var UNKNOWN_WARN_SHARE = 0.5;   // warn when more than half of the segments are INCONNU
  var POLL_MS = 30000;            // health polling, the fallback of the event stream
  var HOTSPOT_LIMIT = 20;
  var LIST_MAX_ROWS = 200;
  var PRESETS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };
  var HEALTH_LABEL = { ok: 'Normal', stale: 'En retard', down: 'Interrompu', empty: 'Aucune donnée' };
  var WEEKDAYS = ['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.'];
  var SVGNS = 'http://www.w3.org/2000/svg';

  // ------------------------------------------------------------------ state
  var S = {
    network: null,          // GeoJSON FeatureCollection
    segByGid: new Map(),    // gid -> feature properties
    gidByIdent: new Map(),  // ident -> gid
    summary: null,
    health: null,
    timeseries: null,
    profile: null,
    jams: null,
    hotspots: null,
    dataRange: null,        // { first, last } in ms: first and latest stored snapshot
    range: { preset: 'all', from: null, to: null },
    filters: { commune: '', typevoie: '' },
    selectedGid: null,
    history: null,
    errors: {},             // key -> message, shown in the banner
    live: 'off',            // 'on' (event stream open) | 'poll' | 'off'
    lastSnapshotKey: null
  };

  var $ = function (id) { return document.getElementById(id); };

  // ------------------------------------------------------------------ formatting
  var NF = {};
  function nf(d) {
    if (!NF[d]) NF[d] = new Intl.NumberFormat('fr-FR', { minimumFractionDigits: d, maximumFractionDigits: d });
    return NF[d];
  }
  var NBSP = '\u00a0';
  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  function fmtNum(x, d) { return isNum(x) ? nf(d).format(x) : '—'; }
  function fmtKm(km, d) { return isNum(km) ? nf(d == null ? 2 : d).format(km) + NBSP + 'km' : '—'; }
  function fmtKmM(m, d) { return isNum(m) ? fmtKm(m / 1000, d) : '—'; }
  function fmtPct(share, d) { return isNum(share) ? nf(d == null ? 1 : d).format(share * 100) + NBSP + '%' : '—'; }
  function fmtDuration(s) {
    if (!isNum(s)) return '—';
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + NBSP + 's';
    var tm = Math.round(s / 60);
    if (tm < 60) return tm + NBSP + 'min';
    var h = Math.floor(tm / 60), m = tm % 60;
    if (h < 48) return h + NBSP + 'h' + NBSP + String(m).padStart(2, '0');
    var d = Math.floor(h / 24);
    return d + NBSP + 'j' + NBSP + (h % 24) + NBSP + 'h';
  }
  function fmtHours(s) { return isNum(s) ? nf(s < 36000 ? 1 : 0).format(s / 3600) + NBSP + 'h' : '—'; }

  var DTF = {
    dateTime: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }),
    short: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }),
    time: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, hour: '2-digit', minute: '2-digit' }),
    day: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, weekday: 'short', day: 'numeric', month: 'short' }),
    compact: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' }),
    parts: new Intl.DateTimeFormat('en-GB', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
  };
  function fmtDateTime(ms) { return ms == null ? '—' : DTF.dateTime.format(ms); }
  function fmtShort(ms) { return ms == null ? '—' : DTF.short.format(ms); }
  function fmtCompact(ms) { return ms == null ? '—' : DTF.compact.format(ms).replace(' ', NBSP); }
  // "18/12 09:50 → 10:00" (the end's date only when it differs), "… → en cours" while open
  function fmtSpan(a, b) {
    if (b == null) return fmtCompact(a) + ' → en cours';
    var pa = parisParts(a), pb = parisParts(b);
    var same = pa.year === pb.year && pa.month === pb.month && pa.day === pb.day;
    return fmtCompact(a) + ' → ' + (same ? fmtTime(b) : fmtCompact(b));
  }
  function fmtTime(ms) { return ms == null ? '—' : DTF.time.format(ms); }
  function fmtAgo(seconds) { return isNum(seconds) ? 'il y a ' + fmtDuration(seconds) : '—'; }

  // UTC text of the API -> ms; null stays null.
  function parseUtc(s) { if (s == null) return null; var t = Date.parse(s); return isNaN(t) ? null : t; }
  // ms -> the API's query format YYYY-MM-DDTHH:MM:SSZ.
  function apiTime(ms, roundUp) {
    var t = roundUp ? Math.ceil(ms / 1000) * 1000 : Math.floor(ms / 1000) * 1000;
    return new Date(t).toISOString().slice(0, 19) + 'Z';
  }
  // Europe/Paris wall-clock fields of an instant.
  function parisParts(ms) {
    var o = {};
    DTF.parts.formatToParts(ms).forEach(function (p) { if (p.type !== 'literal') o[p.type] = Number(p.value); });
    return o;
  }
  function parisOffset(ms) {
    var p = parisParts(ms);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  }
  // Europe/Paris wall-clock time -> UTC ms (the first of the two on the autumn change).
  function parisToUtc(y, mo, d, h, mi) {
    var guess = Date.UTC(y, mo - 1, d, h, mi);
    var t = guess - parisOffset(guess);
    return guess - parisOffset(t);
  }
  // Range fields: "jj/mm/aaaa hh:mm" in Europe/Paris time, whatever the browser's locale and zone.
  function toInputValue(ms) {
    if (ms == null) return '';
    var p = parisParts(ms), z = function (n) { return String(n).padStart(2, '0'); };
    return z(p.day) + '/' + z(p.month) + '/' + p.year + ' ' + z(p.hour) + ':' + z(p.minute);
  }
  function fromInputValue(v) {
    v = (v || '').trim();
    var m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T,]+(\d{1,2})[:h](\d{2}))?$/.exec(v);
    var y, mo, d, h, mi;
    if (m) { d = +m[1]; mo = +m[2]; y = +m[3]; h = m[4] != null ? +m[4] : 0; mi = m[5] != null ? +m[5] : 0; }
    else {
      m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?$/.exec(v);
      if (!m) return null;
      y = +m[1]; mo = +m[2]; d = +m[3]; h = m[4] != null ? +m[4] : 0; mi = m[5] != null ? +m[5] : 0;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return null;
    return parisToUtc(y, mo, d, h, mi);
  }

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      // CSP (style-src 'self') blocks style attributes but not the CSSOM
      else if (k === 'style') e.style.cssText = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    });
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function svg(tag, attrs, children) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { if (attrs[k] != null) e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function badge(state) { return el('span', { class: 'badge badge-' + state, text: state }); }
  function emptyNote(text) { return el('div', { class: 'empty', text: text }); }
  // what a panel without data says: still loading, or nothing stored yet
  function waitNote() { return S.summary && !S.dataRange ? 'aucune donnée enregistrée' : 'chargement…'; }
  function replace(node, child) { node.textContent = ''; if (child) node.appendChild(child); }

  // ------------------------------------------------------------------ API
  function ApiError(status, path, message) {
    this.status = status; this.path = path; this.message = message;
  }
  function api(path, params) {
    var url = new URL(API + path, document.baseURI);
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] != null && params[k] !== '') url.searchParams.set(k, params[k]);
    });
    return fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' }).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!res.ok) {
          var msg = body && body.error && body.error.message ? body.error.message : res.status + ' ' + res.statusText;
          throw new ApiError(res.status, path, msg);
        }
        if (body == null) throw new ApiError(res.status, path, 'réponse JSON illisible');
        return body;
      });
    }, function (err) {
      throw new ApiError(0, path, 'serveur injoignable (' + (err && err.message || err) + ')');
    });
  }
  function noteError(key, err) {
    if (err) {
      S.errors[key] = '/api/v1/' + (err.path || key).split('?')[0] + ' : ' + (err.message || String(err));
      if (window.console) console.warn('bouchon:', S.errors[key]);
    } else delete S.errors[key];
    renderBanner();
  }
  function rangeParams() {
    return { from: apiTime(S.range.from, false), to: apiTime(S.range.to, true) };
  }

  // ------------------------------------------------------------------ filters
  function filterActive() { return !!(S.filters.commune || S.filters.typevoie); }
  function matches(p) {
    return !!p && (!S.filters.commune || p.commune === S.filters.commune) &&
      (!S.filters.typevoie || p.typevoie === S.filters.typevoie);
  }

  // ------------------------------------------------------------------ map
  var map, segLayer, haloLayer, labelLayer, tileLayer, renderer, legendCtl;
  var layersByGid = new Map();

  function setupMap() {
    map = L.map('map', { zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 9, maxZoom: 19, preferCanvas: false });
    map.attributionControl.setPrefix('Leaflet');
    map.attributionControl.addAttribution('Données : Bordeaux Métropole (open data)');
    map.createPane('halo').style.zIndex = 390;
    map.createPane('labels').style.zIndex = 380;
    map.getPane('labels').style.pointerEvents = 'none';
    renderer = L.svg({ padding: 0.4 });
    haloLayer = L.layerGroup().addTo(map);
    labelLayer = L.layerGroup().addTo(map);
    segLayer = L.featureGroup().addTo(map);
    map.setView([44.84, -0.58], 11);
    var labelsByZoom = function () { $('map').classList.toggle('labels-off', map.getZoom() < 10.75); };
    map.on('zoomend', labelsByZoom);
    labelsByZoom();
    L.control.scale({ imperial: false, position: 'bottomright' }).addTo(map);

    legendCtl = L.control({ position: 'bottomleft' });
    legendCtl.onAdd = function () {
      var div = L.DomUtil.create('div', 'map-legend');
      div.id = 'map-legend';
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    legendCtl.addTo(map);
    applyTiles();
  }

  function tilesSetting() {
    var q = new URLSearchParams(location.search);
    if (q.has('tiles')) return { url: q.get('tiles'), attribution: q.get('tilesAttribution') || '' };
    try {
      var url = localStorage.getItem('bouchon.tiles.url');
      if (url) return { url: url, attribution: localStorage.getItem('bouchon.tiles.attribution') || '' };
    } catch (e) { /* storage disabled */ }
    return null;
  }
  function applyTiles() {
    var t = tilesSetting();
    if (tileLayer) { map.removeLayer(tileLayer); tileLayer = null; }
    $('map').classList.toggle('has-tiles', !!t);
    $('tiles-url').value = t ? t.url : '';
    $('tiles-attribution').value = t ? t.attribution : '';
    if (t && t.url) {
      tileLayer = L.tileLayer(t.url, { maxZoom: 19, attribution: t.attribution, crossOrigin: false }).addTo(map);
    }
  }

  function latlngsOf(geometry) {
    if (!geometry) return null;
    var flip = function (line) { return line.map(function (c) { return [c[1], c[0]]; }); };
    if (geometry.type === 'LineString') return flip(geometry.coordinates);
    if (geometry.type === 'MultiLineString') return geometry.coordinates.map(flip);
    return null;
  }

  function segStyle(p, hover) {
    var congested = !!CONGESTED[p.state];
    var w = congested ? 5 : p.state === 'DENSE' ? 4.5 : p.state === 'INCONNU' ? 2.5 : 3.5;
    return {
      renderer: renderer,
      className: 'seg seg-' + p.state + (p.stale ? ' seg-stale' : ''),
      color: STATE_COLORS[p.state] || STATE_COLORS.INCONNU,
      weight: hover ? w + 3 : w,
      opacity: p.state === 'INCONNU' ? 0.75 : 0.95,
      dashArray: p.stale ? '3 6' : null,
      lineCap: 'round',
      lineJoin: 'round'
    };
  }

  function renderMap(fit) {
    segLayer.clearLayers();
    layersByGid.clear();
    var feats = (S.network && S.network.features || []).slice();
    feats.sort(function (a, b) {
      return (STATE_RANK[a.properties.state] || 0) - (STATE_RANK[b.properties.state] || 0);
    });
    var shown = 0;
    feats.forEach(function (f) {
      var p = f.properties;
      if (!matches(p)) return;
      var ll = latlngsOf(f.geometry);
      if (!ll) return;
      var layer = L.polyline(ll, segStyle(p, false));
      layer.on('click', function (e) { L.DomEvent.stopPropagation(e); selectSegment(p.gid, false); });
      layer.on('mouseover', function () { layer.setStyle({ weight: segStyle(p, true).weight }); });
      layer.on('mouseout', function () { layer.setStyle({ weight: segStyle(p, false).weight }); });
      layer.bindTooltip(p.ident + ' · ' + p.state + (p.commune ? ' · ' + p.commune : ''), { sticky: true, direction: 'top', opacity: 0.95 });
      segLayer.addLayer(layer);
      var path = layer.getElement();
      if (path) {
        path.setAttribute('data-gid', String(p.gid));
        path.setAttribute('data-ident', p.ident || '');
        path.setAttribute('data-state', p.state || '');
      }
      layersByGid.set(p.gid, layer);
      shown++;
    });
    renderCommuneLabels();
    renderLegend();
    renderHalo();
    var total = feats.length;
    $('map-note').textContent = total
      ? (shown === total ? total + ' tronçons' : shown + ' / ' + total + ' tronçons (filtre)')
      : 'aucun tronçon';
    if (fit) fitMap();
  }

  function fitMap() {
    var b = segLayer.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [18, 18] });
  }

  function renderCommuneLabels() {
    labelLayer.clearLayers();
    var acc = new Map();
    (S.network && S.network.features || []).forEach(function (f) {
      var p = f.properties;
      if (!p.commune || !matches(p)) return;
      var ll = latlngsOf(f.geometry);
      var line = f.geometry.type === 'MultiLineString' ? ll[0] : ll;
      if (!line || !line.length) return;
      var mid = line[Math.floor(line.length / 2)];
      var a = acc.get(p.commune) || { lat: 0, lng: 0, n: 0 };
      a.lat += mid[0]; a.lng += mid[1]; a.n++;
      acc.set(p.commune, a);
    });
    acc.forEach(function (a, name) {
      if (a.n < 3) return;
      L.marker([a.lat / a.n, a.lng / a.n], {
        pane: 'labels', interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'commune-label', html: '<span>' + escapeHtml(name) + '</span>', iconSize: null })
      }).addTo(labelLayer);
    });
  }

  function renderLegend() {
    var div = $('map-legend');
    if (!div) return;
    var counts = {}, stale = 0;
    STATES.forEach(function (s) { counts[s] = 0; });
    (S.network && S.network.features || []).forEach(function (f) {
      if (!matches(f.properties)) return;
      counts[f.properties.state] = (counts[f.properties.state] || 0) + 1;
      if (f.properties.stale) stale++;
    });
    div.textContent = '';
    div.appendChild(el('div', { class: 'legend-title', text: 'État du tronçon' }));
    STATES.forEach(function (s) {
      div.appendChild(el('div', { class: 'legend-row' }, [
        el('span', { class: 'swatch', style: 'background:' + STATE_COLORS[s] }), s, el('b', { text: String(counts[s]) })
      ]));
    });
    div.appendChild(el('div', { class: 'legend-row', title: 'observation plus ancienne que la limite de fraîcheur' }, [
      el('span', { class: 'swatch stale' }), 'périmé', el('b', { text: String(stale) })
    ]));
  }

  function renderHalo() {
    haloLayer.clearLayers();
    var p = S.segByGid.get(S.selectedGid);
    var f = p && p._feature;
    if (!f) return;
    var ll = latlngsOf(f.geometry);
    if (!ll) return;
    L.polyline(ll, {
      pane: 'halo', interactive: false, color: '#1c6dd0', weight: 13, opacity: 0.35, lineCap: 'round',
      className: 'seg-halo', renderer: L.svg({ pane: 'halo' })
    }).addTo(haloLayer);
  }

  function zoomToGids(gids) {
    var b = L.latLngBounds([]);
    gids.forEach(function (g) {
      var p = S.segByGid.get(g);
      if (p && p._feature) {
        var ll = latlngsOf(p._feature.geometry);
        if (ll) b.extend(L.polyline(ll).getBounds());
      }
    });
    var right = $('segment-panel').hidden ? 60 : 380;
    if (b.isValid()) map.fitBounds(b, { paddingTopLeft: [60, 60], paddingBottomRight: [right, 60], maxZoom: 16 });
  }

  // ------------------------------------------------------------------ KPIs and health
  function setKpi(id, text, raw) {
    var e = $(id);
    e.textContent = text;
    e.setAttribute('data-value', raw == null ? '' : String(raw));
  }

  function renderKpis() {
    var L0 = S.summary && S.summary.latest || {};
    setKpi('kpi-congested-km', fmtKm(L0.congested_km, 2), isNum(L0.congested_km) ? L0.congested_km.toFixed(2) : null);
    setKpi('kpi-congested-share', fmtPct(L0.congested_share, 2), isNum(L0.congested_share) ? L0.congested_share : null);
    setKpi('kpi-dense-km', fmtKm(L0.dense_km, 2), isNum(L0.dense_km) ? L0.dense_km.toFixed(2) : null);
    $('kpi-dense-share').textContent = fmtPct(L0.dense_share, 2);

    var jams = (S.summary && S.summary.jams || []).filter(function (j) { return j.end == null; });
    var jamKm = jams.reduce(function (a, j) { return a + (j.length_m || 0); }, 0);
    setKpi('kpi-active-jams', S.summary ? String(jams.length) : '—', S.summary ? jams.length : null);
    $('kpi-active-jams-sub').textContent = S.summary
      ? (jams.length ? 'tronçons congestionnés · ' + fmtKmM(jamKm, 2) : 'aucun tronçon congestionné')
      : '—';

    var queues = (S.summary && S.summary.queues || []).slice().sort(function (a, b) { return b.length_m - a.length_m; });
    var q = queues[0];
    setKpi('kpi-longest-queue', q ? fmtKmM(q.length_m, 2) : (S.summary ? '0 km' : '—'), q ? (q.length_m / 1000).toFixed(2) : null);
    $('kpi-longest-queue-sub').textContent = q
      ? q.n_segments + ' tronçon' + (q.n_segments > 1 ? 's' : '') + ' · ' + q.idents.slice(0, 4).join(', ') + (q.idents.length > 4 ? '…' : '')
      : (S.summary ? 'aucune file' : '—');

    $('kpi-known-km').textContent = fmtKm(L0.known_km, 2);
    var total = 0;
    (S.network && S.network.features || []).forEach(function (f) { total += f.properties.length_m || 0; });
    var states = L0.states || {};
    var nseg = STATES.reduce(function (a, s) { return a + (states[s] || 0); }, 0);
    $('kpi-known-sub').textContent = total
      ? 'sur ' + fmtKmM(total, 1) + ' · ' + (states.INCONNU || 0) + ' INCONNU'
      : '—';
    var bar = $('kpi-state-bar');
    bar.textContent = '';
    if (nseg) STATES.forEach(function (s) {
      if (!states[s]) return;
      bar.appendChild(el('span', { style: 'width:' + (100 * states[s] / nseg) + '%;background:' + STATE_COLORS[s], title: s + ' : ' + states[s] }));
    });

    var at = parseUtc(L0.at);
    $('last-snapshot').textContent = at ? fmtDateTime(at) : '—';
    if (at) $('last-snapshot').setAttribute('datetime', L0.at);
    renderFilterSummary();
  }

  function renderHealth() {
    var h = S.health;
    var card = $('feed-health');
    if (!h) {
      card.setAttribute('data-status', S.errors.health ? 'error' : '');
      $('feed-health-status').textContent = S.errors.health ? 'Injoignable' : '—';
      $('feed-health-sub').textContent = S.errors.health ? 'le serveur ne répond pas' : '—';
      return;
    }
    var status = h.status;
    var highUnknown = isNum(h.unknown_share) && h.unknown_share > UNKNOWN_WARN_SHARE;
    card.setAttribute('data-status', status === 'ok' && highUnknown ? 'warn' : status);
    $('feed-health-status').textContent = (HEALTH_LABEL[status] || status) + (status === 'ok' && highUnknown ? ' · incomplet' : '');
    var parts = [];
    if (isNum(h.newest_age_s)) parts.push('relevé ' + fmtAgo(h.newest_age_s));
    if (isNum(h.unknown_share)) parts.push(fmtPct(h.unknown_share, 0) + ' inconnu');
    if (isNum(h.stale_share)) parts.push(fmtPct(h.stale_share, 0) + ' périmé');
    $('feed-health-sub').textContent = parts.join(' · ') || '—';
    card.title = 'Dernière mise à jour des données : ' + fmtDateTime(parseUtc(h.newest_mdate)) +
      (h.last_poll_at ? '\nDernière interrogation du flux : ' + fmtDateTime(parseUtc(h.last_poll_at)) : '');
  }

  function renderBanner() {
    var items = [];
    var danger = false;
    var h = S.health;
    if (h) {
      if (h.status === 'stale') {
        items.push(el('li', null, [el('strong', { text: 'Flux en retard' }),
          ' : la donnée la plus récente date du ' + fmtDateTime(parseUtc(h.newest_mdate)) +
          (isNum(h.newest_age_s) ? ' (' + fmtAgo(h.newest_age_s) + ')' : '') +
          '. Les chiffres ci-dessous décrivent ce dernier relevé, pas la situation actuelle.']));
      } else if (h.status === 'down') {
        danger = true;
        items.push(el('li', null, [el('strong', { text: 'Flux interrompu' }),
          ' : aucun état connu ou plus aucun changement reçu' +
          (h.newest_mdate ? ' depuis le ' + fmtDateTime(parseUtc(h.newest_mdate)) : '') + '.']));
      } else if (h.status === 'empty') {
        danger = true;
        items.push(el('li', null, [el('strong', { text: 'Aucune donnée' }), ' : la base ne contient encore aucun relevé.']));
      }
      if (isNum(h.unknown_share) && h.unknown_share > UNKNOWN_WARN_SHARE) {
        items.push(el('li', null, [el('strong', { text: 'Part d\u2019INCONNU élevée' }),
          ' : ' + fmtPct(h.unknown_share, 0) + ' des tronçons sont INCONNU ; les parts sont calculées sur le seul réseau connu.']));
      }
    }
    var flag = S.summary && S.summary.latest && S.summary.latest.flag;
    if (flag === 'all_unknown' && !(h && h.status === 'down')) {
      danger = true;
      items.push(el('li', null, [el('strong', { text: 'Aucun état connu' }), ' : tous les tronçons du dernier relevé sont INCONNU ou périmés.']));
    }
    Object.keys(S.errors).forEach(function (k) {
      danger = true;
      items.push(el('li', null, [el('strong', { text: 'Erreur' }), ' ' + S.errors[k]]));
    });
    var b = $('banner');
    b.textContent = '';
    b.hidden = !items.length;
    b.classList.toggle('danger', danger);
    if (items.length) b.appendChild(el('ul', null, items));
  }

  function renderFilterSummary() {
    var out = $('filter-summary');
    $('filter-reset').hidden = !filterActive();
    if (!filterActive() || !S.network) { out.hidden = true; return; }
    var known = 0, cong = 0, n = 0;
    S.network.features.forEach(function (f) {
      var p = f.properties;
      if (!matches(p)) return;
      n++;
      if (p.state === 'INCONNU' || p.stale) return;
      known += p.length_m || 0;
      if (CONGESTED[p.state]) cong += p.length_m || 0;
    });
    out.hidden = false;
    out.textContent = 'Sélection : ' + n + ' tronçons · ' + fmtKmM(cong, 2) + ' congestionnés sur ' +
      fmtKmM(known, 2) + ' connus' + (known ? ' (' + fmtPct(cong / known, 1) + ')' : '');
  }

  // ------------------------------------------------------------------ lists
  function table(headers, rows) {
    return el('table', { class: 'tbl' }, [
      el('thead', null, [el('tr', null, headers.map(function (h) {
        return el('th', { class: h.cls || null, text: h.text, title: h.title || null });
      }))]),
      el('tbody', null, rows)
    ]);
  }
  function td(content, cls, title) {
    var c = el('td', { class: cls || null, title: title || null });
    (Array.isArray(content) ? content : [content]).forEach(function (x) {
      if (x == null) return;
      c.appendChild(typeof x === 'string' ? document.createTextNode(x) : x);
    });
    return c;
  }
  function more(n) { return n > 0 ? el('div', { class: 'more', text: '… et ' + n + ' autres' }) : null; }

  function renderJams() {
    var box = $('jam-list');
    var src = S.jams ? S.jams.jams : (S.summary ? S.summary.jams : null);
    if (!src) { replace(box, emptyNote(S.errors.jams ? 'indisponible' : waitNote())); return; }
    var list = src.filter(function (j) { return matches(j); });
    list.sort(function (a, b) {
      if ((a.end == null) !== (b.end == null)) return a.end == null ? -1 : 1;
      return (b.duration_s || 0) - (a.duration_s || 0);
    });
    var ongoing = list.filter(function (j) { return j.end == null; }).length;
    $('jam-note').textContent = list.length + ' épisode' + (list.length > 1 ? 's' : '') + ' · ' + ongoing + ' en cours' +
      (filterActive() ? ' · filtré' : '');
    if (!list.length) { replace(box, emptyNote('aucun bouchon sur la période')); return; }
    var rows = list.slice(0, LIST_MAX_ROWS).map(function (j) {
      var start = parseUtc(j.start);
      return el('tr', {
        class: 'clickable' + (j.gid === S.selectedGid ? ' selected' : ''), 'data-gid': j.gid,
        onclick: function () { selectSegment(j.gid, true); }
      }, [
        td([el('div', { class: 'ident', text: j.ident }), el('div', { class: 'sub', text: [j.commune, j.typevoie].filter(Boolean).join(' · ') })]),
        td([el('div', { text: fmtCompact(start) }), el('div', { class: 'sub', text: j.end == null ? '' : 'fin ' + fmtTime(parseUtc(j.end)) })]),
        td([(j.left_censored ? '≥ ' : '') + fmtDuration(j.duration_s)], 'num',
          j.left_censored ? 'commencé avant le premier relevé de ce tronçon (censuré à gauche)' : null),
        td(j.end == null ? el('span', { class: 'badge badge-live', text: 'en cours' }) : badge(j.peak_state))
      ]);
    });
    var frag = document.createDocumentFragment();
    frag.appendChild(table([{ text: 'Tronçon' }, { text: 'Début' }, { text: 'Durée', cls: 'num' }, { text: 'État' }], rows));
    var m = more(list.length - LIST_MAX_ROWS);
    if (m) frag.appendChild(m);
    replace(box, frag);
  }

  function renderQueues() {
    var box = $('queue-list');
    if (!S.summary) { replace(box, emptyNote('chargement…')); return; }
    var list = (S.summary.queues || []).filter(function (q) {
      if (!filterActive()) return true;
      return q.idents.some(function (id) { return matches(S.segByGid.get(S.gidByIdent.get(id))); });
    }).sort(function (a, b) { return b.length_m - a.length_m; });
    $('queue-note').textContent = list.length + ' file' + (list.length > 1 ? 's' : '') + ' · ' + fmtTime(parseUtc(S.summary.latest && S.summary.latest.at)) +
      (filterActive() ? ' · filtré' : '');
    if (!list.length) { replace(box, emptyNote('aucune file de tronçons congestionnés')); return; }
    var rows = list.map(function (q, i) {
      var gids = q.idents.map(function (id) { return S.gidByIdent.get(id); }).filter(function (g) { return g != null; });
      var communes = [];
      gids.forEach(function (g) { var p = S.segByGid.get(g); if (p && p.commune && communes.indexOf(p.commune) < 0) communes.push(p.commune); });
      var chips = q.idents.slice(0, 8).map(function (id) { return el('span', { class: 'chip', text: id }); });
      if (q.idents.length > 8) chips.push(el('span', { class: 'chip', text: '+' + (q.idents.length - 8) }));
      return el('tr', {
        class: 'clickable', onclick: function () {
          zoomToGids(gids);
          if (gids.length === 1) selectSegment(gids[0], false);
        }
      }, [
        td(String(i + 1), 'rank'),
        td([el('div', null, chips), el('div', { class: 'sub', text: communes.join(', ') })]),
        td(String(q.n_segments), 'num'),
        td(fmtKmM(q.length_m, 2), 'num')
      ]);
    });
    replace(box, table([{ text: '#', cls: 'rank' }, { text: 'Tronçons' }, { text: 'Nb', cls: 'num' }, { text: 'Longueur', cls: 'num' }], rows));
  }

  function renderHotspots() {
    var box = $('hotspots');
    var data = S.hotspots;
    if (!data) { replace(box, emptyNote(S.errors.hotspots ? 'indisponible' : waitNote())); return; }
    var by = data.by;
    var note = null;
    var list = data.hotspots.filter(function (h) {
      if (by === 'segment') return matches(h);
      if (by === 'commune' && S.filters.commune) return h.key === S.filters.commune;
      if (by === 'typevoie' && S.filters.typevoie) return h.key === S.filters.typevoie;
      return true;
    });
    if (filterActive() && ((by === 'commune' && S.filters.typevoie) || (by === 'typevoie' && S.filters.commune)))
      note = el('div', { class: 'more', text: 'Classement agrégé par le serveur : le filtre ' + (by === 'commune' ? 'type de voie' : 'commune') + ' ne s\u2019y applique pas.' });
    if (!list.length) { replace(box, emptyNote('aucun point noir sur la période')); return; }
    var metric = by === 'segment' ? 'congested_s' : 'congested_km_h';
    var max = Math.max.apply(null, list.map(function (h) { return h[metric] || 0; })) || 1;
    var rows = list.map(function (h, i) {
      var label = by === 'segment'
        ? [el('div', { class: 'ident', text: h.ident || h.key }), el('div', { class: 'sub', text: [h.commune, h.typevoie].filter(Boolean).join(' · ') })]
        : [el('div', { class: 'ident', text: h.key }), el('div', { class: 'sub', text: fmtKmM(h.length_m, 1) + ' de voies' })];
      label.push(el('div', { class: 'bar' }, [el('span', { style: 'width:' + (100 * (h[metric] || 0) / max).toFixed(1) + '%' })]));
      return el('tr', {
        class: 'clickable' + (by === 'segment' && h.gid === S.selectedGid ? ' selected' : ''),
        onclick: function () {
          if (by === 'segment') selectSegment(h.gid, true);
          else setFilter(by, h.key);
        },
        title: by === 'segment' ? null : 'filtrer sur ' + h.key
      }, [
        td(String(i + 1), 'rank'),
        td(label),
        td(fmtHours(h.congested_s), 'num', fmtDuration(h.congested_s)),
        td(fmtNum(h.congested_km_h, 2), 'num'),
        td(String(h.episodes), 'num')
      ]);
    });
    var frag = document.createDocumentFragment();
    frag.appendChild(table([
      { text: '#', cls: 'rank' }, { text: by === 'segment' ? 'Tronçon' : by === 'commune' ? 'Commune' : 'Type de voie' },
      { text: 'Heures', cls: 'num', title: 'heures congestionnées (EMBOUTEILLE ou PARALYSE) sur la période' },
      { text: 'km·h', cls: 'num', title: 'kilomètres × heures congestionnés' },
      { text: 'Épis.', cls: 'num', title: 'épisodes de bouchon' }
    ], rows));
    if (note) frag.appendChild(note);
    replace(box, frag);
  }

  // ------------------------------------------------------------------ time series
  function niceStep(span) {
    var steps = [60e3, 5 * 60e3, 10 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3, 3 * 3600e3, 6 * 3600e3,
      12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3, 14 * 86400e3, 28 * 86400e3];
    for (var i = 0; i < steps.length; i++) if (span / steps[i] <= 7) return steps[i];
    return Math.ceil(span / 7 / 86400e3) * 86400e3;
  }
  function timeTicks(from, to) {
    var step = niceStep(to - from), ticks = [];
    var off = parisOffset(from);
    var t = Math.ceil((from + off) / step) * step - off;
    for (; t <= to && ticks.length < 40; t += step) {
      var o = parisOffset(t);
      ticks.push(Math.round((t + off) / step) * step - o);
    }
    return { step: step, ticks: ticks };
  }
  function tickLabel(t, step) {
    if (step >= 86400e3) return DTF.day.format(t);
    var p = parisParts(t);
    return (p.hour === 0 && p.minute === 0) ? DTF.day.format(t) : fmtTime(t);
  }

  // at most n points: means over equal time buckets (a long history stays light to draw)
  function downsample(pts, n) {
    if (pts.length <= n) return pts;
    var t0 = pts[0].t, span = pts[pts.length - 1].t - t0 || 1, step = span / n, out = [], cur = null;
    var mean = function (a, k) {
      var v = a.filter(function (p) { return isNum(p[k]); });
      return v.length ? v.reduce(function (x, p) { return x + p[k]; }, 0) / v.length : null;
    };
    var flush = function () {
      if (!cur) return;
      var a = cur.items;
      out.push({ t: t0 + cur.b * step, c: mean(a, 'c'), d: mean(a, 'd'), ckm: mean(a, 'ckm'), known: mean(a, 'known'), u: mean(a, 'u') });
    };
    pts.forEach(function (p) {
      var b = Math.min(n - 1, Math.floor((p.t - t0) / step));
      if (!cur || cur.b !== b) { flush(); cur = { b: b, items: [] }; }
      cur.items.push(p);
    });
    flush();
    return out;
  }

  function renderTimeseries() {
    var box = $('timeseries');
    var ts = S.timeseries;
    if (!ts) { replace(box, emptyNote(S.errors.timeseries ? 'indisponible' : waitNote())); return; }
    var pts = ts.points.map(function (p) {
      return {
        t: parseUtc(p.at), c: p.congested_share, d: isNum(p.dense_km) && p.known_km ? p.dense_km / p.known_km : null,
        ckm: p.congested_km, known: p.known_km, u: p.unknown_share
      };
    }).filter(function (p) { return p.t != null; });
    var raw = pts.length;
    pts = downsample(pts, 1500);
    $('timeseries-note').textContent = raw + ' relevé' + (raw > 1 ? 's' : '') + (raw > pts.length ? ' · moyennes par ' + fmtDuration((pts[1].t - pts[0].t) / 1000) : '') + (filterActive() ? ' · réseau entier' : '');
    if (!pts.length) { replace(box, emptyNote('aucun relevé sur la période')); return; }
    var W = Math.max(320, box.clientWidth - 24), H = 230;
    var m = { l: 46, r: 14, t: 12, b: 26 };
    var from = S.range.from != null ? Math.min(S.range.from, pts[0].t) : pts[0].t;
    var to = S.range.to != null ? Math.max(S.range.to, pts[pts.length - 1].t) : pts[pts.length - 1].t;
    if (to - from < 60e3) { from -= 30 * 60e3; to += 30 * 60e3; }
    var ymaxData = 0;
    pts.forEach(function (p) { ymaxData = Math.max(ymaxData, p.c || 0, p.d || 0); });
    var ystep = ymaxData <= 0.05 ? 0.01 : ymaxData <= 0.1 ? 0.02 : ymaxData <= 0.25 ? 0.05 : ymaxData <= 0.5 ? 0.1 : 0.2;
    var ymax = Math.max(ystep * 2, Math.ceil((ymaxData * 1.15) / ystep) * ystep);
    var x = function (t) { return m.l + (W - m.l - m.r) * (t - from) / (to - from); };
    var y = function (v) { return H - m.b - (H - m.t - m.b) * v / ymax; };

    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': 'Part congestionnée dans le temps' });
    var grid = svg('g', { class: 'grid' });
    for (var v = 0; v <= ymax + 1e-9; v += ystep) {
      grid.appendChild(svg('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      grid.appendChild(svg('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, [nf(0).format(v * 100) + ' %']));
    }
    root.appendChild(grid);
    var tt = timeTicks(from, to), axis = svg('g', { class: 'axis' });
    tt.ticks.forEach(function (t) {
      axis.appendChild(svg('line', { x1: x(t), x2: x(t), y1: H - m.b, y2: H - m.b + 4 }));
      axis.appendChild(svg('text', { x: x(t), y: H - m.b + 16, 'text-anchor': 'middle' }, [tickLabel(t, tt.step)]));
    });
    root.appendChild(axis);

    // split into runs at data gaps (more than 3 times the median step)
    var gaps = [];
    for (var i = 1; i < pts.length; i++) gaps.push(pts[i].t - pts[i - 1].t);
    var med = gaps.length ? gaps.slice().sort(function (a, b) { return a - b; })[Math.floor(gaps.length / 2)] : 0;
    var runs = [[]];
    pts.forEach(function (p, k) {
      if (k > 0 && med && p.t - pts[k - 1].t > 3 * med + 60e3) runs.push([]);
      runs[runs.length - 1].push(p);
    });
    runs.forEach(function (run) {
      var c = run.filter(function (p) { return isNum(p.c); });
      if (c.length > 1) {
        var area = 'M' + x(c[0].t) + ',' + y(0) + c.map(function (p) { return 'L' + x(p.t) + ',' + y(p.c); }).join('') + 'L' + x(c[c.length - 1].t) + ',' + y(0) + 'Z';
        root.appendChild(svg('path', { d: area, fill: 'rgba(224,49,49,0.14)', stroke: 'none' }));
        root.appendChild(svg('path', { d: 'M' + c.map(function (p) { return x(p.t) + ',' + y(p.c); }).join('L'), fill: 'none', stroke: STATE_COLORS.EMBOUTEILLE, 'stroke-width': 2, 'stroke-linejoin': 'round', class: 'ts-congested' }));
      }
      var d = run.filter(function (p) { return isNum(p.d); });
      if (d.length > 1) root.appendChild(svg('path', { d: 'M' + d.map(function (p) { return x(p.t) + ',' + y(p.d); }).join('L'), fill: 'none', stroke: STATE_COLORS.DENSE, 'stroke-width': 1.6, 'stroke-dasharray': '5 3', class: 'ts-dense' }));
    });
    if (pts.length <= 60) pts.forEach(function (p) {
      if (isNum(p.c)) root.appendChild(svg('circle', { cx: x(p.t), cy: y(p.c), r: 3.2, fill: STATE_COLORS.EMBOUTEILLE, class: 'ts-point' }));
      if (isNum(p.d)) root.appendChild(svg('circle', { cx: x(p.t), cy: y(p.d), r: 2.4, fill: STATE_COLORS.DENSE }));
    });
    var cross = svg('line', { y1: m.t, y2: H - m.b, stroke: '#1d2733', 'stroke-opacity': 0.35, visibility: 'hidden' });
    root.appendChild(cross);
    var hit = svg('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: 'transparent' });
    root.appendChild(hit);
    var tip = el('div', { class: 'chart-tip', hidden: true });
    hit.addEventListener('mousemove', function (ev) {
      var r = root.getBoundingClientRect();
      var px = (ev.clientX - r.left) * W / r.width;
      var t = from + (px - m.l) / (W - m.l - m.r) * (to - from);
      var best = pts[0];
      pts.forEach(function (p) { if (Math.abs(p.t - t) < Math.abs(best.t - t)) best = p; });
      cross.setAttribute('x1', x(best.t)); cross.setAttribute('x2', x(best.t)); cross.setAttribute('visibility', 'visible');
      tip.hidden = false;
      tip.textContent = fmtShort(best.t) + ' — congestionné ' + fmtPct(best.c, 2) + ' (' + fmtKm(best.ckm, 2) + ')' +
        ' · dense ' + fmtPct(best.d, 1) + ' · inconnu ' + fmtPct(best.u, 0);
      tip.style.left = (12 + x(best.t) * r.width / W) + 'px';
      tip.style.top = (8 + y(isNum(best.c) ? best.c : 0) * r.height / H - 6) + 'px';
    });
    hit.addEventListener('mouseleave', function () { cross.setAttribute('visibility', 'hidden'); tip.hidden = true; });

    var legend = el('div', { class: 'chart-legend' }, [
      el('span', null, [el('i', { style: 'background:' + STATE_COLORS.EMBOUTEILLE }), 'congestionné (EMBOUTEILLE + PARALYSE)']),
      el('span', null, [el('i', { style: 'background:' + STATE_COLORS.DENSE }), 'dense']),
      el('span', { class: 'muted', text: 'en % des km connus · heure de Paris' })
    ]);
    var frag = document.createDocumentFragment();
    frag.appendChild(legend); frag.appendChild(root); frag.appendChild(tip);
    replace(box, frag);
  }

  // ------------------------------------------------------------------ heatmap
  var HEAT_STOPS = [[255, 247, 236], [253, 212, 158], [252, 141, 89], [215, 48, 31], [127, 0, 0]];
  function heatColor(f) {
    f = Math.max(0, Math.min(1, f));
    var p = f * (HEAT_STOPS.length - 1), i = Math.min(HEAT_STOPS.length - 2, Math.floor(p)), r = p - i;
    var a = HEAT_STOPS[i], b = HEAT_STOPS[i + 1];
    return 'rgb(' + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * r); }).join(',') + ')';
  }

  function renderHeatmap() {
    var box = $('heatmap');
    var pr = S.profile;
    if (!pr) { replace(box, emptyNote(S.errors.profile ? 'indisponible' : waitNote())); return; }
    var metric = $('heatmap-metric').value;
    var cells = {};
    var vmax = 0;
    pr.cells.forEach(function (c) {
      cells[c.weekday + '-' + c.hour] = c;
      if (isNum(c[metric])) vmax = Math.max(vmax, c[metric]);
    });
    var scaleMax = metric === 'index' ? Math.max(0.1, Math.ceil(vmax * 10) / 10) : Math.max(0.05, Math.ceil(vmax / 0.05) * 0.05);
    var W = Math.max(360, box.clientWidth - 24);
    var lw = 40, top = 22, cw = (W - lw - 4) / 24, ch = 24, H = top + 7 * ch + 20;
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': 'Profil horaire' });
    // peak hours (AM 07-10, PM 16-20 local time)
    [[7, 10, 'pointe du matin'], [16, 20, 'pointe du soir']].forEach(function (pk) {
      root.appendChild(svg('rect', { class: 'heat-peak', x: lw + pk[0] * cw, y: 2, width: (pk[1] - pk[0]) * cw, height: top - 6, rx: 3 }));
      root.appendChild(svg('text', { x: lw + (pk[0] + pk[1]) / 2 * cw, y: 13, 'text-anchor': 'middle' }, [pk[2]]));
    });
    for (var d = 1; d <= 7; d++) {
      root.appendChild(svg('text', { x: lw - 6, y: top + (d - 0.5) * ch + 4, 'text-anchor': 'end' }, [WEEKDAYS[d - 1]]));
      for (var h = 0; h < 24; h++) {
        var c = cells[d + '-' + h];
        var has = c && isNum(c[metric]);
        var r = svg('rect', {
          class: 'heat-cell' + (has ? '' : ' nodata'), x: lw + h * cw, y: top + (d - 1) * ch, width: cw, height: ch,
          fill: has ? heatColor(c[metric] / scaleMax) : null, 'data-weekday': d, 'data-hour': h
        });
        r.appendChild(svg('title', null, [WEEKDAYS[d - 1] + ' ' + h + ' h–' + (h + 1) + ' h : ' + (has
          ? 'part congestionnée ' + fmtPct(c.congested_share, 2) + ' · indice ' + fmtNum(c.index, 3) + ' · ' + fmtNum(c.known_segment_hours, 1) + ' tronçon-heures connues'
          : 'aucune donnée')]));
        root.appendChild(r);
      }
    }
    for (var hh = 0; hh < 24; hh += 2) {
      root.appendChild(svg('text', { x: lw + (hh + 0.5) * cw, y: top + 7 * ch + 14, 'text-anchor': 'middle' }, [hh + ' h']));
    }
    var label = metric === 'index' ? 'indice' : 'part congestionnée';
    var fmtV = function (v) { return metric === 'index' ? fmtNum(v, 2) : fmtPct(v, 1); };
    var scale = el('div', { class: 'heat-scale' }, [
      el('span', { text: label + ' : ' + fmtV(0) }),
      el('span', { class: 'ramp', style: 'background:linear-gradient(90deg,' + [0, 0.25, 0.5, 0.75, 1].map(heatColor).join(',') + ')' }),
      el('span', { text: fmtV(scaleMax) }),
      el('span', { class: 'nodata-swatch' }),
      el('span', { text: 'aucune donnée · ' + pr.cells.length + ' cellule' + (pr.cells.length > 1 ? 's' : '') + ' renseignée' + (pr.cells.length > 1 ? 's' : '') + (filterActive() ? ' · réseau entier' : '') })
    ]);
    var frag = document.createDocumentFragment();
    frag.appendChild(root); frag.appendChild(scale);
    replace(box, frag);
  }

  // ------------------------------------------------------------------ segment panel
  function selectSegment(gid, zoom) {
    var p = S.segByGid.get(gid);
    if (!p) return;
    S.selectedGid = gid;
    S.history = null;
    renderHalo();
    renderPanel();
    if (zoom) zoomToGids([gid]);
    markSelectedRows();
    loadHistory(gid);
  }
  function closePanel() {
    S.selectedGid = null;
    S.history = null;
    $('segment-panel').hidden = true;
    renderHalo();
    markSelectedRows();
  }
  function markSelectedRows() {
    document.querySelectorAll('#jam-list tr[data-gid]').forEach(function (tr) {
      tr.classList.toggle('selected', Number(tr.getAttribute('data-gid')) === S.selectedGid);
    });
  }
  function loadHistory(gid) {
    if (!S.dataRange) return Promise.resolve();
    return api('segments/' + encodeURIComponent(gid) + '/history', rangeParams()).then(function (h) {
      if (S.selectedGid !== gid) return;
      S.history = h;
      noteError('history', null);
      renderPanel();
    }, function (err) {
      if (S.selectedGid !== gid) return;
      S.history = { error: err.message };
      renderPanel();
    });
  }

  function renderPanel() {
    var panel = $('segment-panel');
    var p = S.segByGid.get(S.selectedGid);
    if (!p) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.setAttribute('data-gid', String(p.gid));
    $('segment-ident').textContent = p.ident;
    var body = $('segment-body');
    body.textContent = '';
    var mdate = parseUtc(p.mdate);
    var row = function (k, v) { return [el('dt', { text: k }), el('dd', null, [v])]; };
    var props = [].concat(
      row('État', el('span', null, [badge(p.state), p.stale ? el('span', { class: 'muted small', text: '  périmé' }) : null])),
      row('Identifiant', p.ident),
      row('gid', el('span', { id: 'segment-gid', text: String(p.gid) })),
      row('Type de voie', p.typevoie || '—'),
      row('Commune', (p.commune || '—') + (p.code_commune ? ' (' + p.code_commune + ')' : '')),
      row('Longueur', fmtKmM(p.length_m, 2) + ' (' + fmtNum(p.length_m, 0) + ' m)'),
      row('Observé', fmtDateTime(mdate)),
      row('Âge de l\u2019observation', fmtDuration(p.state_age_s)),
      row('Source', p.origine || '—')
    );
    body.appendChild(el('dl', { class: 'seg-props' }, props));

    var hist = el('div', { class: 'panel-section' }, [el('h4', { text: 'Historique sur la période' })]);
    body.appendChild(hist);
    var h = S.history;
    if (!h) { hist.appendChild(el('p', { class: 'muted small', text: 'chargement…' })); return; }
    if (h.error) { hist.appendChild(el('p', { class: 'muted small', text: 'indisponible : ' + h.error })); return; }
    var ivs = (h.intervals || []).map(function (v) {
      return { s: parseUtc(v.start), e: parseUtc(v.end), state: v.state, dur: v.duration_s };
    }).filter(function (v) { return v.s != null; });
    var from = S.range.from, to = S.range.to;
    if (ivs.length && from != null && to != null && to > from) {
      var W = 310, tl = svg('svg', { class: 'timeline', viewBox: '0 0 ' + W + ' 30', preserveAspectRatio: 'none' });
      tl.appendChild(svg('rect', { x: 0, y: 4, width: W, height: 22, fill: '#f1f3f6', rx: 3 }));
      ivs.forEach(function (v) {
        var a = Math.max(v.s, from), b = Math.min(v.e == null ? to : v.e, to);
        if (b <= a) return;
        var r = svg('rect', { x: W * (a - from) / (to - from), y: 4, width: Math.max(1, W * (b - a) / (to - from)), height: 22, fill: STATE_COLORS[v.state] || STATE_COLORS.INCONNU });
        r.appendChild(svg('title', null, [v.state + ' : ' + fmtShort(v.s) + ' → ' + (v.e == null ? 'en cours' : fmtShort(v.e)) + ' (' + fmtDuration(v.dur) + ')']));
        tl.appendChild(r);
      });
      hist.appendChild(tl);
      hist.appendChild(el('div', { class: 'timeline-axis' }, [el('span', { text: fmtShort(from) }), el('span', { text: fmtShort(to) })]));
    }
    var cong = 0;
    ivs.forEach(function (v) {
      if (!CONGESTED[v.state]) return;
      var a = Math.max(v.s, from), b = Math.min(v.e == null ? to : v.e, to);
      if (b > a) cong += (b - a) / 1000;
    });
    var njams = (h.jams || []).length;
    hist.appendChild(el('p', { class: 'small', style: 'margin:8px 0 6px' }, [
      ivs.length + ' intervalle' + (ivs.length > 1 ? 's' : '') + ' d\u2019état · ' + njams + ' bouchon' + (njams > 1 ? 's' : '') +
      ' · congestionné ' + fmtDuration(cong)
    ]));
    if (ivs.length) {
      var rows = ivs.slice().reverse().slice(0, 40).map(function (v) {
        return el('tr', null, [td(badge(v.state)), td(fmtSpan(v.s, v.e)), td(fmtDuration(v.dur), 'num')]);
      });
      hist.appendChild(table([{ text: 'État' }, { text: 'Période' }, { text: 'Durée', cls: 'num' }], rows));
      if (ivs.length > 40) hist.appendChild(more(ivs.length - 40));
    }
    if (njams) {
      var js = el('div', { class: 'panel-section' }, [el('h4', { text: 'Bouchons du tronçon' })]);
      js.appendChild(table([{ text: 'Début' }, { text: 'Durée', cls: 'num' }, { text: 'Max' }], h.jams.slice().reverse().slice(0, 20).map(function (j) {
        return el('tr', null, [td(fmtCompact(parseUtc(j.start))), td((j.left_censored ? '≥ ' : '') + fmtDuration(j.duration_s) + (j.end == null ? ' (en cours)' : ''), 'num'), td(badge(j.peak_state))]);
      })));
      body.appendChild(js);
    }
  }

  // ------------------------------------------------------------------ controls
  function setupControls() {
    document.querySelectorAll('#range-presets button').forEach(function (b) {
      b.addEventListener('click', function () { setPreset(b.getAttribute('data-preset')); });
    });
    $('range-apply').addEventListener('click', function () {
      // a field left as shown keeps its exact instant (the fields show whole minutes only)
      var fv = $('range-from').value.trim(), tv = $('range-to').value.trim();
      var f = fv === toInputValue(S.range.from) ? S.range.from : fromInputValue(fv);
      var t = tv === toInputValue(S.range.to) ? S.range.to : fromInputValue(tv);
      $('range-from').setAttribute('aria-invalid', f == null || (t != null && f >= t) ? 'true' : 'false');
      $('range-to').setAttribute('aria-invalid', t == null ? 'true' : 'false');
      if (f == null || t == null || f >= t) { (f == null ? $('range-from') : $('range-to')).focus(); return; }
      S.range = { preset: 'custom', from: f, to: t };
      renderRangeControls();
      loadRange();
    });
    ['range-from', 'range-to'].forEach(function (id) {
      $(id).addEventListener('keydown', function (e) { if (e.key === 'Enter') $('range-apply').click(); });
    });
    $('filter-commune').addEventListener('change', function (e) { setFilter('commune', e.target.value); });
    $('filter-typevoie').addEventListener('change', function (e) { setFilter('typevoie', e.target.value); });
    $('filter-reset').addEventListener('click', function () {
      S.filters = { commune: '', typevoie: '' };
      $('filter-commune').value = ''; $('filter-typevoie').value = '';
      onFilterChange();
    });
    $('hotspots-by').addEventListener('change', loadHotspots);
    $('heatmap-metric').addEventListener('change', renderHeatmap);
    $('segment-close').addEventListener('click', closePanel);
    document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && S.selectedGid != null) closePanel(); });
    $('map-fit').addEventListener('click', fitMap);
    $('tiles-form').addEventListener('submit', function (e) {
      e.preventDefault();
      try {
        var url = $('tiles-url').value.trim();
        if (url) {
          localStorage.setItem('bouchon.tiles.url', url);
          localStorage.setItem('bouchon.tiles.attribution', $('tiles-attribution').value.trim());
        } else {
          localStorage.removeItem('bouchon.tiles.url');
          localStorage.removeItem('bouchon.tiles.attribution');
        }
      } catch (err) { /* storage disabled */ }
      applyTiles();
    });
    $('tiles-clear').addEventListener('click', function () {
      try { localStorage.removeItem('bouchon.tiles.url'); localStorage.removeItem('bouchon.tiles.attribution'); } catch (err) { /* ignore */ }
      $('tiles-url').value = '';
      applyTiles();
    });
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { renderTimeseries(); renderHeatmap(); }, 150);
    });
  }

  function setFilter(kind, value) {
    S.filters[kind] = value || '';
    $('filter-' + kind).value = S.filters[kind];
    onFilterChange();
  }
  function onFilterChange() {
    if (S.selectedGid != null && !matches(S.segByGid.get(S.selectedGid))) closePanel();
    renderMap(true);
    renderKpis();
    renderJams();
    renderQueues();
    renderHotspots();
    renderTimeseries();
    renderHeatmap();
  }

  function fillFilterOptions() {
    var fill = function (id, key, allLabel) {
      var sel = $(id), cur = S.filters[key];
      var counts = new Map();
      (S.network && S.network.features || []).forEach(function (f) {
        var v = f.properties[key];
        if (v) counts.set(v, (counts.get(v) || 0) + 1);
      });
      var keys = Array.from(counts.keys()).sort(function (a, b) { return a.localeCompare(b, 'fr'); });
      sel.textContent = '';
      sel.appendChild(el('option', { value: '', text: allLabel }));
      keys.forEach(function (k) { sel.appendChild(el('option', { value: k, text: k + ' (' + counts.get(k) + ')' })); });
      sel.value = counts.has(cur) ? cur : '';
      S.filters[key] = sel.value;
    };
    fill('filter-commune', 'commune', 'toutes');
    fill('filter-typevoie', 'typevoie', 'tous');
  }

  // known: the time series of the whole data, when just fetched (for 'all')
  function setPreset(p, known) {
    if (!S.dataRange) return Promise.resolve();
    var last = S.dataRange.last, first = S.dataRange.first;
    S.range = p === 'all' ? { preset: 'all', from: first, to: last } : { preset: p, from: last - PRESETS[p], to: last };
    renderRangeControls();
    return loadRange(p === 'all' ? known : null);
  }
  function renderRangeControls() {
    document.querySelectorAll('#range-presets button').forEach(function (b) {
      b.classList.toggle('active', b.getAttribute('data-preset') === S.range.preset);
    });
    $('range-from').value = toInputValue(S.range.from);
    $('range-to').value = toInputValue(S.range.to);
    $('range-from').setAttribute('aria-invalid', 'false');
    $('range-to').setAttribute('aria-invalid', 'false');
  }

  // ------------------------------------------------------------------ loading
  function indexNetwork() {
    S.segByGid.clear();
    S.gidByIdent.clear();
    (S.network && S.network.features || []).forEach(function (f) {
      var p = f.properties;
      Object.defineProperty(p, '_feature', { value: f, enumerable: false, configurable: true });
      S.segByGid.set(p.gid, p);
      if (p.ident) S.gidByIdent.set(p.ident, p.gid);
    });
  }

  function loadLive(first) {
    return Promise.all([
      api('network').then(function (n) { S.network = n; noteError('network', null); }, function (e) { noteError('network', e); }),
      api('summary').then(function (s) { S.summary = s; noteError('summary', null); }, function (e) { noteError('summary', e); }),
      loadHealth()
    ]).then(function () {
      indexNetwork();
      fillFilterOptions();
      renderMap(first);
      renderKpis();
      renderQueues();
      renderJams();
      renderBanner();
      if (S.selectedGid != null) {
        if (S.segByGid.has(S.selectedGid)) renderPanel(); else closePanel();
      }
      var at = parseUtc(S.summary && S.summary.latest && S.summary.latest.at);
      if (at != null) {
        if (!S.dataRange) S.dataRange = { first: at, last: at };
        S.dataRange.last = Math.max(S.dataRange.last, at);
      }
    });
  }

  function loadHealth() {
    return api('health').then(function (h) {
      S.health = h;
      noteError('health', null);
      renderHealth();
      return h;
    }, function (e) {
      S.health = null;
      noteError('health', e);
      renderHealth();
      return null;
    });
  }

  // The data range (first and latest snapshot) comes from the time series over the whole data:
  // /timeseries without from/to (server defaults), or, if the server insists, an explicit wide range.
  function discoverRange() {
    var latest = S.dataRange ? S.dataRange.last : Date.now();
    return api('timeseries').catch(function (err) {
      if (err.status !== 400) throw err;
      return api('timeseries', { from: '2000-01-01T00:00:00Z', to: apiTime(latest + 60e3, true) });
    }).then(function (ts) {
      var pts = ts.points || [];
      if (pts.length) {
        var f = parseUtc(pts[0].at), l = parseUtc(pts[pts.length - 1].at);
        S.dataRange = { first: Math.min(f, S.dataRange ? S.dataRange.first : f), last: Math.max(l, S.dataRange ? S.dataRange.last : l) };
      }
      noteError('timeseries', null);
      return ts;
    });
  }

  // known: a time series already fetched for exactly this range (the one of discoverRange)
  function loadRange(known) {
    if (!S.dataRange || S.range.from == null) return Promise.resolve();
    var p = rangeParams();
    S.jams = S.profile = S.timeseries = S.hotspots = null;
    renderJams(); renderTimeseries(); renderHeatmap(); renderHotspots();
    var series = known ? Promise.resolve(known) : api('timeseries', p);
    var jobs = [
      api('jams', p).then(function (j) { S.jams = j; noteError('jams', null); }, function (e) { S.jams = null; noteError('jams', e); }).then(renderJams),
      api('profile', p).then(function (x) { S.profile = x; noteError('profile', null); }, function (e) { noteError('profile', e); }).then(renderHeatmap),
      series.then(function (x) { S.timeseries = x; noteError('timeseries', null); }, function (e) { noteError('timeseries', e); }).then(renderTimeseries),
      loadHotspots()
    ];
    if (S.selectedGid != null) jobs.push(loadHistory(S.selectedGid));
    return Promise.all(jobs);
  }

  function loadHotspots() {
    if (!S.dataRange || S.range.from == null) return Promise.resolve();
    var p = rangeParams();
    p.by = $('hotspots-by').value;
    p.limit = HOTSPOT_LIMIT;
    S.hotspots = null;
    renderHotspots();
    return api('hotspots', p).then(function (x) { S.hotspots = x; noteError('hotspots', null); }, function (e) { noteError('hotspots', e); })
      .then(renderHotspots);
  }

  // A new snapshot was stored: refresh everything; ranges that follow the data move with it.
  var refreshing = null, refreshAgain = false;
  function refreshAll() {
    if (refreshing) { refreshAgain = true; return refreshing; }
    refreshing = loadLive(false).then(function () {
      if (!S.dataRange || S.range.preset === 'custom') return null;
      if (S.range.preset !== 'all') return setPreset(S.range.preset);
      return discoverRange().then(function (ts) { return setPreset('all', ts); }, function () { return setPreset('all'); });
    }).then(function () {
      refreshing = null;
      if (refreshAgain) { refreshAgain = false; refreshAll(); }
    });
    return refreshing;
  }

  function snapshotKey() {
    var h = S.health;
    return h ? [h.newest_mdate, h.status].join('|') : null;
  }

  // ------------------------------------------------------------------ live updates
  var source = null;
  function setLive(mode) {
    S.live = mode;
    var e = $('live-status');
    e.className = 'live live-' + mode;
    e.textContent = mode === 'on' ? 'en direct' : mode === 'poll' ? 'sondage 30 s' : 'hors ligne';
    e.title = mode === 'on' ? 'Flux d\u2019événements /api/v1/events ouvert' : 'Interrogation de /api/v1/health toutes les 30 s';
  }
  function connectEvents() {
    if (!window.EventSource) { setLive('poll'); return; }
    if (source) source.close();
    source = new EventSource(new URL(API + 'events', document.baseURI));
    source.addEventListener('open', function () { setLive('on'); });
    source.addEventListener('error', function () { setLive('poll'); });
    source.addEventListener('snapshot', function () { refreshAll(); });
  }
  function startPolling() {
    setInterval(function () {
      if (source && source.readyState === 2) connectEvents(); // closed for good (e.g. an HTTP error): try again
      var before = S.lastSnapshotKey;
      loadHealth().then(function () {
        S.lastSnapshotKey = snapshotKey();
        renderBanner();
        if (S.lastSnapshotKey !== before && before != null) refreshAll();
      });
    }, POLL_MS);
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  // ------------------------------------------------------------------ start
  function start() {
    setupMap();
    setupControls();
    setLive('off');
    renderJams(); renderQueues(); renderHotspots(); renderTimeseries(); renderHeatmap();
    loadLive(true).then(function () {
      S.lastSnapshotKey = snapshotKey();
      return discoverRange().then(function (ts) {
        if (!S.dataRange) return;
        S.range = { preset: 'all', from: S.dataRange.first, to: S.dataRange.last };
        renderRangeControls();
        return loadRange(ts);
      }, function (e) { noteError('timeseries', e); });
    }).then(function () {
      renderJams(); renderTimeseries(); renderHeatmap(); renderHotspots();
      document.documentElement.setAttribute('data-ready', 'true');
    });
    connectEvents();
    startPolling();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
