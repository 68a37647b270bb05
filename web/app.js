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
    view: 'direct',         // direct | historique | corridors | periodes (the URL hash)
    hmeta: null,            // /history: the hourly layer's days, flags, the period table
    hrange: { preset: 'all', from: null, to: null },   // history range, local dates YYYY-MM-DD
    hdata: null,            // { key, daily, trend, profile, hotspots } of the history range
    corr: null,             // { key, data } /corridors of the history range
    corrGeo: null,          // /corridors.geojson
    corrSel: null,          // selected corridor gid
    periods: null,          // /history/periods
    stations: null,         // /stations
    stationSel: null,       // the station shown in #station-panel (feature)
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
  var NFS = {};
  // signed: "+0,012", "-86,5 %" (for changes)
  function fmtSigned(x, d) {
    if (!isNum(x)) return '—';
    if (!NFS[d]) NFS[d] = new Intl.NumberFormat('fr-FR', { minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: 'exceptZero' });
    return NFS[d].format(x);
  }
  function fmtSignedPct(share, d) { return isNum(share) ? fmtSigned(share * 100, d == null ? 1 : d) + NBSP + '%' : '—'; }
  // the hourly congestion index (0 all fluid, 1 all jammed), 3 decimals: "0,012"
  function fmtIdx(x) { return fmtNum(x, 3); }
  function fmtInt(x) { return fmtNum(x, 0); }
  function fmtHours(s) { return isNum(s) ? nf(s < 36000 ? 1 : 0).format(s / 3600) + NBSP + 'h' : '—'; }

  var DTF = {
    dateTime: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }),
    short: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }),
    time: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, hour: '2-digit', minute: '2-digit' }),
    day: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, weekday: 'short', day: 'numeric', month: 'short' }),
    compact: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' }),
    month: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, month: 'short', year: 'numeric' }),
    monthLong: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, month: 'long', year: 'numeric' }),
    date: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric' }),
    dayLong: new Intl.DateTimeFormat('fr-FR', { timeZone: TZ, weekday: 'short', day: 'numeric', month: 'long', year: 'numeric' }),
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

  // Local dates "YYYY-MM-DD" (Europe/Paris days): calendar arithmetic, whatever the day's length.
  function ymd(ds) { var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ds || ''); return m ? [+m[1], +m[2], +m[3]] : null; }
  function validDate(ds) {
    var p = ymd(ds);
    if (!p) return false;
    var d = new Date(Date.UTC(p[0], p[1] - 1, p[2]));
    return d.getUTCFullYear() === p[0] && d.getUTCMonth() === p[1] - 1 && d.getUTCDate() === p[2];
  }
  function addDays(ds, n) { var p = ymd(ds); return new Date(Date.UTC(p[0], p[1] - 1, p[2] + n)).toISOString().slice(0, 10); }
  function daysBetween(a, b) { var p = ymd(a), q = ymd(b); return Math.round((Date.UTC(q[0], q[1] - 1, q[2]) - Date.UTC(p[0], p[1] - 1, p[2])) / 86400e3); }
  function dayStart(ds) { var p = ymd(ds); return parisToUtc(p[0], p[1], p[2], 0, 0); }   // UTC ms of local midnight
  function localDate(ms) {
    var p = parisParts(ms), z = function (n) { return String(n).padStart(2, '0'); };
    return p.year + '-' + z(p.month) + '-' + z(p.day);
  }
  function fmtDate(ds) { return ds ? DTF.date.format(dayStart(ds) + 12 * 3600e3) : '—'; }        // 01/03/2020
  function fmtDayLong(ds) { return ds ? DTF.dayLong.format(dayStart(ds) + 12 * 3600e3) : '—'; }  // dim. 1 mars 2020
  function fmtDateRange(a, b) { return a === b ? 'le ' + fmtDate(a) : 'du ' + fmtDate(a) + ' au ' + fmtDate(b); }
  function plural(n, one, many) { return fmtInt(n) + NBSP + (n > 1 ? (many || one + 's') : one); }

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
    setupStations();
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
    if (!$('map').offsetWidth) { S.mapNeedsFit = true; return; }   // hidden (another view): fit when shown
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
    stationLegendRows(div);
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
    renderLive();
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
    // the live feed's warnings concern the live view; the history views show only errors
    var h = S.view === 'direct' ? S.health : null;
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
    var flag = S.view === 'direct' && S.summary && S.summary.latest && S.summary.latest.flag;
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

  // ------------------------------------------------------------------ chart helpers
  // Every chart of the page is hand-drawn SVG from these pieces: a frame (scales, y grid, x axis),
  // bars over intervals with lines through them, the crosshair and tooltip (mouse, and the arrow
  // keys once the chart has the focus), and the weekday × hour grid.
  function niceStep(span) {
    var steps = [60e3, 5 * 60e3, 10 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3, 3 * 3600e3, 6 * 3600e3,
      12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3, 14 * 86400e3, 28 * 86400e3];
    for (var i = 0; i < steps.length; i++) if (span / steps[i] <= 7) return steps[i];
    return Math.ceil(span / 7 / 86400e3) * 86400e3;
  }
  var MONTH_MS = 30.44 * 86400e3;
  // Ticks of a time axis at Paris wall-clock boundaries: minutes to weeks, then first days of months.
  function timeTicks(from, to) {
    var ticks = [];
    if (to - from > 100 * 86400e3) {
      var months = (to - from) / MONTH_MS;
      var every = [1, 2, 3, 6, 12].filter(function (k) { return months / k <= 8; })[0] || 12;
      var p = parisParts(from), y = p.year, mo = p.month;
      for (var n = 0; n < 400 && ticks.length < 40; n++) {
        var tm = parisToUtc(y, mo, 1, 0, 0);
        if (tm > to) break;
        if (tm >= from && (mo - 1) % every === 0) ticks.push(tm);
        if (++mo > 12) { mo = 1; y++; }
      }
      return { step: every * MONTH_MS, months: every, ticks: ticks };
    }
    var step = niceStep(to - from);
    var off = parisOffset(from);
    var t = Math.ceil((from + off) / step) * step - off;
    for (; t <= to && ticks.length < 40; t += step) {
      var o = parisOffset(t);
      ticks.push(Math.round((t + off) / step) * step - o);
    }
    return { step: step, ticks: ticks };
  }
  function tickLabel(t, tt) {
    if (tt.months) return tt.months >= 12 ? String(parisParts(t).year) : DTF.month.format(t);
    if (tt.step >= 86400e3) return DTF.day.format(t);
    var p = parisParts(t);
    return (p.hour === 0 && p.minute === 0) ? DTF.day.format(t) : fmtTime(t);
  }
  function axisTicks(from, to) {
    var tt = timeTicks(from, to);
    return tt.ticks.map(function (t) { return { x: t, label: tickLabel(t, tt) }; });
  }

  // y axis from 0: a round step (at most 5 lines under the data) and a top with some headroom
  var Y_STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
  function yScale(vmax) {
    var step = Y_STEPS.filter(function (s) { return vmax / s <= 5; })[0] || Y_STEPS[Y_STEPS.length - 1];
    return { step: step, max: Math.max(step * 2, Math.ceil((vmax * 1.15) / step - 1e-9) * step) };
  }
  function decimalsOf(step) { return step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9)); }

  // o: { x0, x1 (domain of x), ymax (largest value drawn), yFmt(v, step), ticks [{x, label}],
  //      aria, height, left (margin) }. Returns { root, W, H, m, x(), y() }.
  function chartFrame(box, o) {
    var W = Math.max(320, box.clientWidth - 24), H = o.height || 230;
    var m = { l: o.left || 46, r: 14, t: 12, b: 26 };
    var ys = yScale(o.ymax || 0);
    var x = function (v) { return m.l + (W - m.l - m.r) * (v - o.x0) / ((o.x1 - o.x0) || 1); };
    var y = function (v) { return H - m.b - (H - m.t - m.b) * v / ys.max; };
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': o.aria });
    var grid = svg('g', { class: 'grid' });
    for (var v = 0; v <= ys.max + 1e-9; v += ys.step) {
      grid.appendChild(svg('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      grid.appendChild(svg('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, [o.yFmt(v, ys.step)]));
    }
    root.appendChild(grid);
    var axis = svg('g', { class: 'axis' });
    (o.ticks || []).forEach(function (tk) {
      var tx = x(tk.x);
      // a label near an edge is anchored inside the chart rather than cut
      var anchor = tx > W - m.r - 24 ? 'end' : tx < m.l + 24 && o.left ? 'start' : 'middle';
      axis.appendChild(svg('line', { x1: tx, x2: tx, y1: H - m.b, y2: H - m.b + 4 }));
      axis.appendChild(svg('text', { x: anchor === 'end' ? Math.min(tx, W - 2) : tx, y: H - m.b + 16, 'text-anchor': anchor }, [tk.label]));
    });
    root.appendChild(axis);
    return { root: root, W: W, H: H, m: m, x: x, y: y };
  }

  // "M x,y L x,y ..." through the items whose key is a number; a missing value breaks the line
  function linePath(items, key, xOf, y) {
    var d = '', open = false;
    items.forEach(function (it) {
      if (!isNum(it[key])) { open = false; return; }
      d += (open ? 'L' : 'M') + xOf(it).toFixed(1) + ',' + y(it[key]).toFixed(1);
      open = true;
    });
    return d;
  }

  // Crosshair and tooltip over items sorted by x. Mouse: nearest item; keyboard: the chart is
  // focusable, arrow keys (and Home / End) step through the items. Returns the tooltip element,
  // to be placed in `box` after the chart.
  function chartHover(f, box, items, xOf, yOf, text) {
    var root = f.root;
    var cross = svg('line', { class: 'crosshair', y1: f.m.t, y2: f.H - f.m.b, visibility: 'hidden' });
    root.appendChild(cross);
    var hit = svg('rect', { class: 'hit', x: f.m.l, y: f.m.t, width: f.W - f.m.l - f.m.r, height: f.H - f.m.t - f.m.b, fill: 'transparent' });
    root.appendChild(hit);
    var tip = el('div', { class: 'chart-tip', hidden: true, role: 'status' });
    var cur = -1;
    function show(i) {
      if (i < 0 || i >= items.length) return;
      cur = i;
      var it = items[i], px = xOf(it), py = yOf(it);
      cross.setAttribute('x1', px); cross.setAttribute('x2', px); cross.setAttribute('visibility', 'visible');
      tip.hidden = false;
      tip.textContent = text(it);
      var r = root.getBoundingClientRect(), b = box.getBoundingClientRect();
      tip.style.left = (r.left - b.left + px * r.width / f.W) + 'px';
      tip.style.top = (r.top - b.top + py * r.height / f.H - 6) + 'px';
    }
    function hide() { cross.setAttribute('visibility', 'hidden'); tip.hidden = true; }
    hit.addEventListener('mousemove', function (ev) {
      var r = root.getBoundingClientRect();
      var px = (ev.clientX - r.left) * f.W / r.width;
      var lo = 0, hi = items.length - 1;
      while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xOf(items[mid]) < px) lo = mid; else hi = mid; }
      show(Math.abs(xOf(items[lo]) - px) <= Math.abs(xOf(items[hi]) - px) ? lo : hi);
    });
    hit.addEventListener('mouseleave', hide);
    root.setAttribute('tabindex', '0');
    root.addEventListener('keydown', function (e) {
      var k = e.key, n = items.length;
      if (!n) return;
      var i = k === 'ArrowRight' ? Math.min(n - 1, cur + 1) : k === 'ArrowLeft' ? Math.max(0, cur < 0 ? n - 1 : cur - 1)
        : k === 'Home' ? 0 : k === 'End' ? n - 1 : k === 'Escape' ? -2 : -1;
      if (i === -1) return;
      e.preventDefault();
      if (i === -2) hide(); else show(i);
    });
    root.addEventListener('blur', hide);
    return tip;
  }

  // Bars over x intervals (days, months, hours, windows) and lines through their middles.
  // o: { items [{x0, x1, value, attrs}], series [{key, color, cls, dash}] (lines), bar {color, cls},
  //      x0, x1, ticks, yFmt, tip(item), aria, height, bands [{x0, x1, label}], ref {value, label} }
  // An item without value gets a grey stub (no data), so every item is drawn once.
  function drawBars(box, o) {
    var vmax = o.ref ? o.ref.value : 0;
    o.items.forEach(function (it) {
      if (isNum(it.value)) vmax = Math.max(vmax, it.value);
      (o.series || []).forEach(function (s) { if (isNum(it[s.key])) vmax = Math.max(vmax, it[s.key]); });
    });
    var f = chartFrame(box, { x0: o.x0, x1: o.x1, ymax: vmax, yFmt: o.yFmt, ticks: o.ticks, aria: o.aria, height: o.height });
    var root = f.root, x = f.x, y = f.y;
    (o.bands || []).forEach(function (b) {
      var a = Math.max(o.x0, b.x0), z = Math.min(o.x1, b.x1);
      if (z <= a) return;
      root.appendChild(svg('rect', { class: 'band', x: x(a), y: f.m.t, width: x(z) - x(a), height: f.H - f.m.t - f.m.b }));
      if (x(z) - x(a) > 40) root.appendChild(svg('text', { class: 'band-label', x: x(a) + 4, y: f.m.t + 11 }, [b.label]));
    });
    var bars = svg('g', { class: 'cols' });
    o.items.forEach(function (it) {
      var x0 = x(it.x0), w = x(it.x1) - x0;
      var gap = w > 6 ? Math.min(3, w * 0.15) : 0;
      var has = isNum(it.value);
      var attrs = { class: 'col' + (has ? '' : ' nodata') + (o.bar && o.bar.cls ? ' ' + o.bar.cls : ''), x: (x0 + gap / 2).toFixed(2),
        width: Math.max(0.5, w - gap).toFixed(2), y: has ? y(it.value) : y(0) - 3, height: has ? Math.max(0, y(0) - y(it.value)) : 3,
        fill: has ? (it.color || (o.bar && o.bar.color) || '#f3a3a3') : null };
      Object.keys(it.attrs || {}).forEach(function (k) { attrs[k] = it.attrs[k]; });
      bars.appendChild(svg('rect', attrs));
    });
    root.appendChild(bars);
    if (o.ref) {
      root.appendChild(svg('line', { class: 'ref-line', x1: f.m.l, x2: f.W - f.m.r, y1: y(o.ref.value), y2: y(o.ref.value) }));
      root.appendChild(svg('text', { class: 'ref-label', x: f.W - f.m.r - 4, y: y(o.ref.value) - 4, 'text-anchor': 'end' }, [o.ref.label]));
    }
    var mid = function (it) { return x((it.x0 + it.x1) / 2); };
    (o.series || []).forEach(function (s) {
      var d = linePath(o.items, s.key, mid, y);
      if (d) root.appendChild(svg('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 1.6, 'stroke-dasharray': s.dash || null, 'stroke-linejoin': 'round', class: 'line ' + (s.cls || '') }));
      if (o.items.length <= 40) o.items.forEach(function (it) {
        if (isNum(it[s.key])) root.appendChild(svg('circle', { cx: mid(it), cy: y(it[s.key]), r: 2.6, fill: s.color }));
      });
    });
    var tip = chartHover(f, box, o.items, mid, function (it) { return y(isNum(it.value) ? it.value : 0); }, o.tip);
    return { frame: f, tip: tip };
  }

  // ------------------------------------------------------------------ time series
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
    var from = S.range.from != null ? Math.min(S.range.from, pts[0].t) : pts[0].t;
    var to = S.range.to != null ? Math.max(S.range.to, pts[pts.length - 1].t) : pts[pts.length - 1].t;
    if (to - from < 60e3) { from -= 30 * 60e3; to += 30 * 60e3; }
    var ymaxData = 0;
    pts.forEach(function (p) { ymaxData = Math.max(ymaxData, p.c || 0, p.d || 0); });
    var f = chartFrame(box, {
      x0: from, x1: to, ymax: ymaxData, ticks: axisTicks(from, to), aria: 'Part congestionnée dans le temps',
      yFmt: function (v, step) { return nf(Math.max(0, decimalsOf(step) - 2)).format(v * 100) + ' %'; }
    });
    var root = f.root, x = f.x, y = f.y;
    var tx = function (p) { return x(p.t); };

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
        var line = linePath(c, 'c', tx, y);
        var area = 'M' + x(c[0].t) + ',' + y(0) + 'L' + line.slice(1) + 'L' + x(c[c.length - 1].t) + ',' + y(0) + 'Z';
        root.appendChild(svg('path', { d: area, fill: 'rgba(224,49,49,0.14)', stroke: 'none' }));
        root.appendChild(svg('path', { d: line, fill: 'none', stroke: STATE_COLORS.EMBOUTEILLE, 'stroke-width': 2, 'stroke-linejoin': 'round', class: 'ts-congested' }));
      }
      var d = run.filter(function (p) { return isNum(p.d); });
      if (d.length > 1) root.appendChild(svg('path', { d: linePath(d, 'd', tx, y), fill: 'none', stroke: STATE_COLORS.DENSE, 'stroke-width': 1.6, 'stroke-dasharray': '5 3', class: 'ts-dense' }));
    });
    if (pts.length <= 60) pts.forEach(function (p) {
      if (isNum(p.c)) root.appendChild(svg('circle', { cx: x(p.t), cy: y(p.c), r: 3.2, fill: STATE_COLORS.EMBOUTEILLE, class: 'ts-point' }));
      if (isNum(p.d)) root.appendChild(svg('circle', { cx: x(p.t), cy: y(p.d), r: 2.4, fill: STATE_COLORS.DENSE }));
    });
    var tip = chartHover(f, box, pts, tx, function (p) { return y(isNum(p.c) ? p.c : 0); }, function (p) {
      return fmtShort(p.t) + ' — congestionné ' + fmtPct(p.c, 2) + ' (' + fmtKm(p.ckm, 2) + ')' +
        ' · dense ' + fmtPct(p.d, 1) + ' · inconnu ' + fmtPct(p.u, 0);
    });

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
  function heatRamp() { return 'linear-gradient(90deg,' + [0, 0.25, 0.5, 0.75, 1].map(heatColor).join(',') + ')'; }

  // The weekday × local hour grid. o: { cells (API profile cells), metric, scaleMax, fmtV(v),
  // label, peaks [[h0, h1, name]], title(cell, weekday, hour), note, aria }
  function drawHeatmap(box, o) {
    var cells = {};
    o.cells.forEach(function (c) { cells[c.weekday + '-' + c.hour] = c; });
    var W = Math.max(360, box.clientWidth - 24);
    var lw = 40, top = 22, cw = (W - lw - 4) / 24, ch = 24, H = top + 7 * ch + 20;
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': o.aria });
    o.peaks.forEach(function (pk) {
      root.appendChild(svg('rect', { class: 'heat-peak', x: lw + pk[0] * cw, y: 2, width: (pk[1] - pk[0]) * cw, height: top - 6, rx: 3 }));
      root.appendChild(svg('text', { x: lw + (pk[0] + pk[1]) / 2 * cw, y: 13, 'text-anchor': 'middle' }, [pk[2]]));
    });
    for (var d = 1; d <= 7; d++) {
      root.appendChild(svg('text', { x: lw - 6, y: top + (d - 0.5) * ch + 4, 'text-anchor': 'end' }, [WEEKDAYS[d - 1]]));
      for (var h = 0; h < 24; h++) {
        var c = cells[d + '-' + h];
        var has = c && isNum(c[o.metric]);
        var r = svg('rect', {
          class: 'heat-cell' + (has ? '' : ' nodata'), x: lw + h * cw, y: top + (d - 1) * ch, width: cw, height: ch,
          fill: has ? heatColor(c[o.metric] / o.scaleMax) : null, 'data-weekday': d, 'data-hour': h,
          'data-value': has ? String(c[o.metric]) : null
        });
        r.appendChild(svg('title', null, [WEEKDAYS[d - 1] + ' ' + h + ' h–' + (h + 1) + ' h : ' + (has ? o.title(c, d, h) : 'aucune donnée')]));
        root.appendChild(r);
      }
    }
    for (var hh = 0; hh < 24; hh += 2) {
      root.appendChild(svg('text', { x: lw + (hh + 0.5) * cw, y: top + 7 * ch + 14, 'text-anchor': 'middle' }, [hh + ' h']));
    }
    var n = o.cells.length;
    var scale = el('div', { class: 'heat-scale' }, [
      el('span', { text: o.label + ' : ' + o.fmtV(0) }),
      el('span', { class: 'ramp', style: 'background:' + heatRamp() }),
      el('span', { text: o.fmtV(o.scaleMax) }),
      el('span', { class: 'nodata-swatch' }),
      el('span', { text: 'aucune donnée · ' + n + ' cellule' + (n > 1 ? 's' : '') + ' renseignée' + (n > 1 ? 's' : '') + (o.note || '') })
    ]);
    var frag = document.createDocumentFragment();
    frag.appendChild(root); frag.appendChild(scale);
    replace(box, frag);
  }

  function renderHeatmap() {
    var box = $('heatmap');
    var pr = S.profile;
    if (!pr) { replace(box, emptyNote(S.errors.profile ? 'indisponible' : waitNote())); return; }
    var metric = $('heatmap-metric').value;
    var vmax = 0;
    pr.cells.forEach(function (c) { if (isNum(c[metric])) vmax = Math.max(vmax, c[metric]); });
    drawHeatmap(box, {
      cells: pr.cells, metric: metric, aria: 'Profil horaire',
      scaleMax: metric === 'index' ? Math.max(0.1, Math.ceil(vmax * 10) / 10) : Math.max(0.05, Math.ceil(vmax / 0.05) * 0.05),
      label: metric === 'index' ? 'indice' : 'part congestionnée',
      fmtV: function (v) { return metric === 'index' ? fmtNum(v, 2) : fmtPct(v, 1); },
      // peak hours (AM 07-10, PM 16-20 local time, CONGESTION_METRICS.md "Profiles")
      peaks: [[7, 10, 'pointe du matin'], [16, 20, 'pointe du soir']],
      title: function (c) {
        return 'part congestionnée ' + fmtPct(c.congested_share, 2) + ' · indice ' + fmtNum(c.index, 3) + ' · ' + fmtNum(c.known_segment_hours, 1) + ' tronçon-heures connues';
      },
      note: filterActive() ? ' · réseau entier' : ''
    });
  }

  // ------------------------------------------------------------------ segment panel
  function selectSegment(gid, zoom) {
    var p = S.segByGid.get(gid);
    if (!p) return;
    if (S.stationSel) closeStation();
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

  // ------------------------------------------------------------------ views (URL hash)
  // "#direct" (default), "#historique", "#corridors", "#periodes"; the history range rides along
  // as "?du=YYYY-MM-DD&au=YYYY-MM-DD" (local dates), so any view and range can be linked.
  var VIEWS = ['direct', 'historique', 'corridors', 'periodes'];
  var VIEW_TITLES = { direct: 'Direct', historique: 'Historique', corridors: 'Corridors', periodes: 'Périodes' };
  var HIST_PEAKS = [[7, 10, 'pointe du matin'], [17, 20, 'pointe du soir']];   // docs/HISTORY.md: hours 7-9, 17-19
  var HIST_HOTSPOT_LIMIT = 20;
  var MAX_RANGE_DAYS = 3 * 366;   // the API refuses more
  var IDX_COLORS = { index: '#c92a2a', am: '#1c6dd0', pm: '#7048e8' };
  var FROZEN_COLOR = '#b9bec7'; // frozen days: grey, as data that is not traffic
  var CMD_DB = 'var/bouchon.db';
  var H_DIR = '../shared/data/bordeaux/history';

  function parseHash() {
    var h = location.hash.replace(/^#/, ''), q = '';
    var i = h.indexOf('?');
    if (i >= 0) { q = h.slice(i + 1); h = h.slice(0, i); }
    return { view: VIEWS.indexOf(h) >= 0 ? h : 'direct', params: new URLSearchParams(q) };
  }
  function hashFor(view) {
    var r = S.hrange;
    var q = (view === 'historique' || view === 'corridors') && r.preset !== 'all' && r.from ? '?du=' + r.from + '&au=' + r.to : '';
    return '#' + view + q;
  }
  function writeHash() {
    var h = hashFor(S.view);
    if (location.hash !== h && !(S.view === 'direct' && !location.hash)) history.replaceState(null, '', h);
  }
  function onHash() {
    var h = parseHash();
    var du = h.params.get('du'), au = h.params.get('au');
    if (du && au && validDate(du) && validDate(au) && du <= au) {
      if (du !== S.hrange.from || au !== S.hrange.to || S.hrange.preset === 'all') S.hrange = { preset: presetFor(du, au), from: du, to: au };
    }
    showView(h.view);
  }
  function setViewState(view, state) { $('view-' + view).setAttribute('data-state', state); }

  function showView(view) {
    S.view = view;
    renderBanner();
    VIEWS.forEach(function (v) {
      $('view-' + v).hidden = v !== view;
      var tab = $('tab-' + v);
      if (v === view) tab.setAttribute('aria-current', 'page'); else tab.removeAttribute('aria-current');
      tab.setAttribute('href', hashFor(v));
    });
    document.title = (view === 'direct' ? '' : VIEW_TITLES[view] + ' — ') + 'Bouchon — trafic de Bordeaux Métropole';
    if (view === 'direct') {
      $('hist-controls').hidden = true;
      map.invalidateSize();
      if (S.mapNeedsFit) { S.mapNeedsFit = false; fitMap(); }
      if (S.pendingSelect != null) { var g = S.pendingSelect; S.pendingSelect = null; selectSegment(g, true); }
      return Promise.resolve();
    }
    return ensureMeta().then(function () {
      if (S.view !== view) return null;
      renderHistControls();
      writeHash();
      if (view === 'historique') return loadHist();
      if (view === 'corridors') return loadCorridors();
      return loadPeriods();
    });
  }

  // ------------------------------------------------------------------ history: overview and range
  var metaPromise = null;
  function ensureMeta() {
    if (S.hmeta) return Promise.resolve(S.hmeta);
    if (!metaPromise) metaPromise = api('history').then(function (m) {
      S.hmeta = m;
      noteError('history', null);
      if (S.hrange.preset === 'all') S.hrange = { preset: 'all', from: m.first_day, to: m.last_day };
      else S.hrange.preset = presetFor(S.hrange.from, S.hrange.to);
      renderStationControl();
      return m;
    }, function (e) {
      metaPromise = null;
      noteError('history', e);
      throw e;
    });
    return metaPromise.catch(function () {
      VIEWS.slice(1).forEach(function (v) { setViewState(v, 'error'); });
      return null;
    });
  }
  function hasHistory() { return !!(S.hmeta && S.hmeta.first_day); }

  function histPresets() {
    var m = S.hmeta, out = [];
    if (!m || !m.first_day) return out;
    out.push({ id: 'all', label: 'tout l\u2019historique', from: m.first_day, to: m.last_day });
    for (var y = ymd(m.first_day)[0]; y <= ymd(m.last_day)[0]; y++) {
      var a = y + '-01-01' < m.first_day ? m.first_day : y + '-01-01';
      var b = y + '-12-31' > m.last_day ? m.last_day : y + '-12-31';
      out.push({ id: 'y' + y, label: String(y), from: a, to: b });
    }
    var l30 = addDays(m.last_day, -29);
    out.push({ id: 'last30', label: '30 derniers jours', from: l30 < m.first_day ? m.first_day : l30, to: m.last_day });
    return out;
  }
  function periodPresets() {
    return (S.hmeta && S.hmeta.periods || []).filter(function (p) { return validDate(p.start) && validDate(p.end); }).map(function (p, i) {
      return { id: 'p' + i, label: p.label + ' · ' + fmtShortDates(p.start, p.end), from: p.start, to: p.end, period: true };
    });
  }
  // "17/03 → 10/05/2020" (the first year only when it differs)
  function fmtShortDates(a, b) {
    var fa = fmtDate(a), fb = fmtDate(b);
    return (a.slice(0, 4) === b.slice(0, 4) ? fa.slice(0, 5) : fa) + ' → ' + fb;
  }
  function presetFor(from, to) {
    var all = histPresets().concat(periodPresets());
    for (var i = 0; i < all.length; i++) if (all[i].from === from && all[i].to === to) return all[i].id;
    return 'custom';
  }
  function setHistRange(from, to, preset) {
    S.hrange = { preset: preset || presetFor(from, to), from: from, to: to };
    renderHistControls();
    writeHash();
    if (S.view === 'historique') loadHist();
    else if (S.view === 'corridors') loadCorridors();
  }
  // the query of the range: none for the whole history (the server's default, echoed back)
  function histParams() {
    var r = S.hrange;
    if (r.preset === 'all' || !r.from) return {};
    return { from: apiTime(dayStart(r.from)), to: apiTime(dayStart(addDays(r.to, 1)) - 1000) };
  }
  function histKey() { var p = histParams(); return (p.from || '') + '/' + (p.to || ''); }

  function renderHistControls() {
    var box = $('hist-controls');
    var show = (S.view === 'historique' && hasHistory()) || (S.view === 'corridors' && S.hmeta && S.hmeta.has_travel_times);
    box.hidden = !show;
    if (!show) return;
    var r = S.hrange;
    var mk = function (p) {
      return el('button', {
        type: 'button', 'data-preset': p.id, class: r.preset === p.id ? 'active' : null, 'aria-pressed': r.preset === p.id ? 'true' : 'false',
        title: fmtDateRange(p.from, p.to), text: p.label,
        onclick: function () { setHistRange(p.from, p.to, p.id); }
      });
    };
    var presets = histPresets();
    if (!presets.length) presets = [{ id: 'all', label: 'toutes les mesures', from: null, to: null }];
    // in the corridors view "all" is every travel-time sample (the server's default range)
    if (S.view === 'corridors') presets[0] = { id: 'all', label: 'toutes les mesures', from: presets[0].from, to: presets[0].to };
    replace($('hist-presets'), null);
    presets.forEach(function (p) { $('hist-presets').appendChild(mk(p)); });
    var pp = periodPresets();
    $('hist-period-group').hidden = !pp.length;
    replace($('hist-period-presets'), null);
    pp.forEach(function (p) { $('hist-period-presets').appendChild(mk(p)); });
    ['hist-from', 'hist-to'].forEach(function (id) { $(id).setAttribute('aria-invalid', 'false'); });
    $('hist-from').value = r.from ? fmtDate(r.from) : '';
    $('hist-to').value = r.to ? fmtDate(r.to) : '';
    $('hist-range-error').hidden = true;
  }
  // what the server says it used (its UTC instants, as local dates)
  function renderRangeEcho(body) {
    var e = $('hist-range-echo');
    if (!body || !body.from) {
      e.textContent = body ? 'aucune donnée' : '';
      e.setAttribute('data-from', ''); e.setAttribute('data-to', '');
      return;
    }
    var a = localDate(parseUtc(body.from)), b = localDate(parseUtc(body.to));
    if (S.hrange.preset === 'all') { $('hist-from').value = fmtDate(a); $('hist-to').value = fmtDate(b); }
    e.setAttribute('data-from', body.from);
    e.setAttribute('data-to', body.to);
    e.setAttribute('data-first-day', a);
    e.setAttribute('data-last-day', b);
    e.textContent = 'Période calculée par le serveur : ' + fmtDateRange(a, b) + ' (' + plural(daysBetween(a, b) + 1, 'jour') + ', heure de Paris)';
  }
  // a date field: "jj/mm/aaaa" (Paris day), also "aaaa-mm-jj"; null if not a real date
  function dateInput(v) {
    v = (v || '').trim();
    var m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v), ds = null;
    if (m) ds = m[3] + '-' + m[2].padStart(2, '0') + '-' + m[1].padStart(2, '0');
    else if (/^\d{4}-\d{2}-\d{2}$/.test(v)) ds = v;
    return ds && validDate(ds) ? ds : null;
  }
  function setupHistControls() {
    $('hist-range-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var f = dateInput($('hist-from').value), t = dateInput($('hist-to').value), err = null;
      if (!f) err = ['hist-from', 'date de début invalide (jj/mm/aaaa)'];
      else if (!t) err = ['hist-to', 'date de fin invalide (jj/mm/aaaa)'];
      else if (f > t) err = ['hist-to', 'la fin précède le début'];
      else if (daysBetween(f, t) + 1 > MAX_RANGE_DAYS) err = ['hist-to', 'au plus 3 ans'];
      $('hist-from').setAttribute('aria-invalid', err && err[0] === 'hist-from' ? 'true' : 'false');
      $('hist-to').setAttribute('aria-invalid', err && err[0] === 'hist-to' ? 'true' : 'false');
      $('hist-range-error').hidden = !err;
      $('hist-range-error').textContent = err ? err[1] : '';
      if (err) { $(err[0]).focus(); return; }
      setHistRange(f, t);
    });
    $('hist-heatmap-metric').addEventListener('change', renderHistHeatmap);
    $('hist-hotspots-by').addEventListener('change', renderHistHotspots);
  }

  function importCommands(kinds) {
    var lines = {
      history: 'bouchon import --db ' + CMD_DB + ' --kind segment-history \\\n    --segments ' + H_DIR + '/ci_trafi_l_segments_2020-03.geojson \\\n    ' + H_DIR + '/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz',
      travel: 'bouchon import --db ' + CMD_DB + ' --kind travel-times \\\n    --corridors ' + H_DIR + '/ci_tpstj_a_corridors.geojson ' + H_DIR + '/ci_tpstj_a_hourly_2021-01_2022-01.csv.gz',
      periods: 'bouchon import --db ' + CMD_DB + ' --kind periods ' + H_DIR + '/lockdowns_fr.csv',
      stations: 'bouchon import --db ' + CMD_DB + ' --kind counts …/comptage_trafic_2021.json\nbouchon import --db ' + CMD_DB + ' --kind sensors …/pc_capte_p_2022-03-10T1040.json …/pc_capte_ponct_p.json'
    };
    return el('pre', { class: 'cmd' }, [el('code', { text: kinds.map(function (k) { return lines[k]; }).join('\n') })]);
  }
  // the empty state of a view: what is missing and the command that imports it
  function showEmpty(view, boxId, bodyId, title, text, kinds) {
    var box = $(boxId);
    box.hidden = false;
    $(bodyId).hidden = true;
    replace(box, el('div', { class: 'card empty-card' }, [
      el('h2', { text: title }),
      el('p', { text: text }),
      importCommands(kinds),
      el('p', { class: 'muted small', text: 'Remplacez ' + CMD_DB + ' par la base servie (bouchon serve --db …) ; la page se met à jour au prochain chargement.' })
    ]));
    setViewState(view, 'empty');
  }
  function hideEmpty(boxId, bodyId) { $(boxId).hidden = true; $(bodyId).hidden = false; }
  function noHistory(view, boxId, bodyId) {
    showEmpty(view, boxId, bodyId, 'Aucun historique importé',
      'La base ne contient pas encore l\u2019historique horaire des tronçons (2019–2022). Importez-le avec :', ['history']);
  }
  function noteBox(box, text) { replace(box, emptyNote(text)); }

  // ------------------------------------------------------------------ history: network view
  function loadHist() {
    if (!S.hmeta) return Promise.resolve();
    if (!hasHistory()) { noHistory('historique', 'hist-empty', 'hist-body'); return Promise.resolve(); }
    hideEmpty('hist-empty', 'hist-body');
    var key = histKey();
    if (S.hdata && S.hdata.key === key && S.hdata.done) { renderHistAll(); setViewState('historique', 'ready'); return Promise.resolve(); }
    var job = S.hdata = { key: key, daily: null, trend: null, profile: null, hotspots: null, errors: {}, done: false };
    setViewState('historique', 'loading');
    renderRangeEcho(null);
    renderHistAll();
    var p = histParams();
    var get = function (name, path, params, render) {
      return api(path, params).then(function (x) {
        if (S.hdata !== job) return;
        job[name] = x;
        noteError(path, null);
        if (name === 'daily') renderRangeEcho(x);
      }, function (e) {
        if (S.hdata !== job) return;
        job.errors[name] = e.message;
        noteError(path, e);
      }).then(function () { if (S.hdata === job && S.view === 'historique') render(); });
    };
    var hp = Object.assign({ limit: HIST_HOTSPOT_LIMIT }, p);
    return Promise.all([
      get('daily', 'history/daily', p, renderHistDaily),
      get('trend', 'history/trend', p, renderHistTrend),
      get('profile', 'history/profile', p, renderHistHeatmap),
      get('hotspots', 'history/hotspots', hp, renderHistHotspots)
    ]).then(function () {
      if (S.hdata !== job) return;
      job.done = true;
      setViewState('historique', Object.keys(job.errors).length ? 'error' : 'ready');
    });
  }
  function renderHistAll() { renderHistDaily(); renderHistTrend(); renderHistHeatmap(); renderHistHotspots(); }
  function histWait(box, name) {
    var job = S.hdata;
    var err = job && job.errors[name];
    box.setAttribute('data-state', err ? 'error' : 'loading');
    noteBox(box, err ? 'indisponible : ' + err : 'chargement…');
  }
  function idxAxis(v, step) { return fmtNum(v, decimalsOf(step)); }
  function periodBands() {
    return (S.hmeta && S.hmeta.periods || []).filter(function (p) { return validDate(p.start) && validDate(p.end); }).map(function (p) {
      return { x0: dayStart(p.start), x1: dayStart(addDays(p.end, 1)), label: p.label.toLowerCase() };
    });
  }
  function idxLegend(extra) {
    return el('div', { class: 'chart-legend' }, [
      el('span', null, [el('i', { class: 'bar-swatch' }), 'indice (toutes les heures)']),
      el('span', null, [el('i', { style: 'background:' + IDX_COLORS.am }), 'pointe du matin (7–10 h)']),
      el('span', null, [el('i', { style: 'background:' + IDX_COLORS.pm }), 'pointe du soir (17–20 h)']),
      el('span', { class: 'muted', text: extra })
    ]);
  }
  // the values behind a chart, as a table, built when opened (keyboard and screen-reader access)
  function dataTable(summary, headers, rowsOf) {
    var d = el('details', { class: 'chart-data' }, [el('summary', { text: summary })]);
    d.addEventListener('toggle', function () {
      if (!d.open || d.querySelector('table')) return;
      d.appendChild(el('div', { class: 'scroll chart-data-body' }, [table(headers, rowsOf())]));
    });
    return d;
  }

  function renderHistDaily() {
    var box = $('hist-daily');
    var job = S.hdata, x = job && job.daily;
    if (!x) { histWait(box, 'daily'); $('hist-daily-note').textContent = ''; return; }
    var days = x.days || [];
    if (!days.length) { box.setAttribute('data-state', 'empty'); noteBox(box, 'aucun jour sur la période'); return; }
    var items = days.map(function (d) {
      var t0 = dayStart(d.date), t1 = dayStart(addDays(d.date, 1));
      // a frozen day (the feed served one picture all day) is drawn grey, not as traffic
      return {
        x0: t0, x1: t1, value: d.index, am: d.am_index, pm: d.pm_index, d: d, color: d.frozen ? FROZEN_COLOR : null,
        attrs: { class: 'col day' + (isNum(d.index) ? '' : ' nodata') + (d.frozen ? ' frozen' : ''), 'data-date': d.date,
          'data-index': isNum(d.index) ? String(d.index) : '', 'data-hours': String(d.hours), 'data-frozen': d.frozen ? 'true' : 'false' }
      };
    });
    var nFrozen = days.filter(function (d) { return d.frozen; }).length;
    var withData = days.filter(function (d) { return isNum(d.index); });
    var ksh = withData.reduce(function (a, d) { return a + (d.known_segment_hours || 0); }, 0);
    var mean = ksh ? withData.reduce(function (a, d) { return a + d.index * d.known_segment_hours; }, 0) / ksh : null;
    $('hist-daily-note').textContent = plural(days.length, 'jour') + ' · ' + plural(withData.length, 'avec données', 'avec données') +
      (isNum(mean) ? ' · indice moyen ' + fmtIdx(mean) : '') + (nFrozen ? ' · ' + plural(nFrozen, 'jour figé', 'jours figés') : '');
    var from = items[0].x0, to = items[items.length - 1].x1;
    var chart = drawBars(box, {
      items: items, x0: from, x1: to, ticks: axisTicks(from, to), yFmt: idxAxis, bands: periodBands(),
      aria: 'Indice de congestion quotidien, ' + days.length + ' jours ' + fmtDateRange(days[0].date, days[days.length - 1].date),
      series: [{ key: 'am', color: IDX_COLORS.am, cls: 'line-am', width: days.length > 200 ? 1 : 1.6 }, { key: 'pm', color: IDX_COLORS.pm, cls: 'line-pm', width: days.length > 200 ? 1 : 1.6 }],
      tip: function (it) {
        var d = it.d;
        return fmtDayLong(d.date) + (d.hours !== 24 ? ' (journée de ' + d.hours + ' h)' : '') +
          (d.frozen ? ' — flux figé : toutes les heures identiques, ce n\u2019est pas du trafic observé' : '') + ' — ' + (isNum(d.index)
          ? 'indice ' + fmtIdx(d.index) + ' · matin ' + fmtIdx(d.am_index) + ' · soir ' + fmtIdx(d.pm_index) + ' · ' + fmtInt(d.known_segment_hours) + ' tronçon-heures connues'
          : 'aucune donnée');
      }
    });
    var frag = document.createDocumentFragment();
    var legend = idxLegend('0 = tout fluide, 1 = tout embouteillé · jours locaux (Europe/Paris)');
    if (nFrozen) {
      legend.insertBefore(el('span', { title: 'Toutes les heures du jour donnent exactement les mêmes chiffres : le flux ne se mettait plus à jour' },
        [el('i', { class: 'frozen-swatch' }), 'jour figé (flux non mis à jour)']), legend.lastChild);
    }
    frag.appendChild(legend);
    frag.appendChild(chart.frame.root);
    frag.appendChild(chart.tip);
    frag.appendChild(dataTable('Valeurs par jour (tableau)', [{ text: 'Jour' }, { text: 'Heures', cls: 'num' }, { text: 'Indice', cls: 'num' },
      { text: 'Matin', cls: 'num' }, { text: 'Soir', cls: 'num' }, { text: 'Tronçon-heures connues', cls: 'num' }, { text: 'Flux figé' }], function () {
      return days.map(function (d) {
        return el('tr', null, [td(fmtDayLong(d.date)), td(String(d.hours), 'num'), td(fmtIdx(d.index), 'num'), td(fmtIdx(d.am_index), 'num'),
          td(fmtIdx(d.pm_index), 'num'), td(fmtInt(d.known_segment_hours), 'num'), td(d.frozen ? 'oui' : '')]);
      });
    }));
    replace(box, frag);
    box.setAttribute('data-state', 'ready');
  }

  function renderHistTrend() {
    var box = $('hist-trend');
    var job = S.hdata, x = job && job.trend;
    if (!x) { histWait(box, 'trend'); $('hist-trend-note').textContent = ''; return; }
    var months = (x.months || []).filter(function (m) { return /^\d{4}-\d{2}$/.test(m.month); });
    $('hist-trend-note').textContent = plural(months.length, 'mois', 'mois') + ' · pointes : jours ouvrés';
    if (!months.length) { box.setAttribute('data-state', 'empty'); noteBox(box, 'aucun mois avec données sur la période'); return; }
    var items = months.map(function (m) {
      var y = +m.month.slice(0, 4), mo = +m.month.slice(5, 7);
      var t0 = parisToUtc(y, mo, 1, 0, 0), t1 = mo === 12 ? parisToUtc(y + 1, 1, 1, 0, 0) : parisToUtc(y, mo + 1, 1, 0, 0);
      return { x0: t0, x1: t1, value: m.index, am: m.am_index, pm: m.pm_index, m: m,
        attrs: { class: 'col month', 'data-month': m.month, 'data-index': isNum(m.index) ? String(m.index) : '' } };
    });
    var from = items[0].x0, to = items[items.length - 1].x1;
    var chart = drawBars(box, {
      items: items, x0: from, x1: to, ticks: axisTicks(from, to), yFmt: idxAxis, height: 200, bar: { color: '#e9a0a0' },
      aria: 'Tendance mensuelle de l\u2019indice de congestion, ' + months.length + ' mois',
      series: [{ key: 'am', color: IDX_COLORS.am, cls: 'line-am' }, { key: 'pm', color: IDX_COLORS.pm, cls: 'line-pm' }],
      tip: function (it) {
        var m = it.m;
        return DTF.monthLong.format(it.x0 + 86400e3) + ' — indice ' + fmtIdx(m.index) + ' · pondéré ' + fmtIdx(m.index_weighted) +
          ' · matin ' + fmtIdx(m.am_index) + ' · soir ' + fmtIdx(m.pm_index) + ' · ' + plural(m.days, 'jour');
      }
    });
    var frag = document.createDocumentFragment();
    frag.appendChild(idxLegend('par mois local'));
    frag.appendChild(chart.frame.root);
    frag.appendChild(chart.tip);
    frag.appendChild(dataTable('Valeurs par mois (tableau)', [{ text: 'Mois' }, { text: 'Indice', cls: 'num' }, { text: 'Pondéré', cls: 'num' },
      { text: 'Matin', cls: 'num' }, { text: 'Soir', cls: 'num' }, { text: 'Jours', cls: 'num' }], function () {
      return items.map(function (it) {
        var m = it.m;
        return el('tr', null, [td(DTF.monthLong.format(it.x0 + 86400e3)), td(fmtIdx(m.index), 'num'), td(fmtIdx(m.index_weighted), 'num'),
          td(fmtIdx(m.am_index), 'num'), td(fmtIdx(m.pm_index), 'num'), td(String(m.days), 'num')]);
      });
    }));
    replace(box, frag);
    box.setAttribute('data-state', 'ready');
  }

  function renderHistHeatmap() {
    var box = $('hist-heatmap');
    var job = S.hdata, pr = job && job.profile;
    if (!pr) { histWait(box, 'profile'); return; }
    if (!(pr.cells || []).length) { box.setAttribute('data-state', 'empty'); noteBox(box, 'aucune heure connue sur la période'); return; }
    var metric = $('hist-heatmap-metric').value;
    var vmax = 0;
    pr.cells.forEach(function (c) { if (isNum(c[metric])) vmax = Math.max(vmax, c[metric]); });
    var ys = yScale(vmax / 1.15);
    drawHeatmap(box, {
      cells: pr.cells, metric: metric, peaks: HIST_PEAKS, aria: 'Profil de l\u2019indice par jour de semaine et heure locale',
      scaleMax: Math.max(ys.step, Math.ceil(vmax / ys.step - 1e-9) * ys.step),
      label: metric === 'index' ? 'indice' : 'indice pondéré',
      fmtV: function (v) { return fmtNum(v, decimalsOf(ys.step)); },
      title: function (c) {
        return 'indice ' + fmtIdx(c.index) + ' · pondéré ' + fmtIdx(c.index_weighted) + ' · ' + fmtInt(c.known_segment_hours) +
          ' tronçon-heures connues sur ' + plural(c.hours, 'heure');
      },
      note: ' · heure de Paris'
    });
    box.appendChild(dataTable('Valeurs par jour de semaine et heure (tableau)', [{ text: 'Jour' }, { text: 'Heure' }, { text: 'Indice', cls: 'num' },
      { text: 'Pondéré', cls: 'num' }, { text: 'Tronçon-heures connues', cls: 'num' }], function () {
      return pr.cells.map(function (c) {
        return el('tr', null, [td(WEEKDAYS[c.weekday - 1]), td(c.hour + ' h–' + (c.hour + 1) + ' h'), td(fmtIdx(c.index), 'num'),
          td(fmtIdx(c.index_weighted), 'num'), td(fmtInt(c.known_segment_hours), 'num')]);
      });
    }));
    box.setAttribute('data-state', 'ready');
  }

  function renderHistHotspots() {
    var box = $('hist-hotspots');
    var job = S.hdata, hs = job && job.hotspots;
    if (!hs) { histWait(box, 'hotspots'); return; }
    var by = $('hist-hotspots-by').value;
    var list = hs[by] || [];
    if (!list.length) { box.setAttribute('data-state', 'empty'); noteBox(box, 'aucun tronçon avec assez d\u2019heures connues sur la période'); return; }
    var metric = by === 'by_peak_index' ? 'peak_index' : 'congested_hours';
    var max = Math.max.apply(null, list.map(function (h) { return h[metric] || 0; })) || 1;
    var rows = list.map(function (h, i) {
      var gid = h.ident ? S.gidByIdent.get(h.ident) : null;
      var name = h.ident || ('gid ' + h.gid);
      var sub = h.ident ? [h.commune, h.typevoie].filter(Boolean).join(' · ') : 'gid sans identifiant de tronçon (non rattaché)';
      var label = [el('div', { class: 'ident', text: name }), el('div', { class: 'sub', text: sub }),
        el('div', { class: 'bar' }, [el('span', { style: 'width:' + (100 * (h[metric] || 0) / max).toFixed(1) + '%' })])];
      var go = gid != null ? function () { S.pendingSelect = gid; location.hash = '#direct'; } : null;
      return el('tr', {
        'data-key': h.key, class: go ? 'clickable' : null, tabindex: go ? '0' : null, onclick: go,
        onkeydown: go ? function (e) { if (e.key === 'Enter') go(); } : null,
        title: go ? 'voir ' + h.ident + ' sur la carte en direct' : null
      }, [
        td(String(i + 1), 'rank'), td(label),
        td(fmtIdx(h.peak_index), 'num'), td(fmtIdx(h.index), 'num'),
        td(fmtInt(h.congested_hours), 'num'), td(fmtInt(h.known_segment_hours), 'num')
      ]);
    });
    replace(box, table([
      { text: '#', cls: 'rank' }, { text: 'Tronçon' },
      { text: 'Pointe', cls: 'num', title: 'indice moyen aux heures de pointe (7–10 h et 17–20 h) des jours ouvrés' },
      { text: 'Indice', cls: 'num', title: 'indice moyen, toutes heures' },
      { text: 'H. cong.', cls: 'num', title: 'heures congestionnées (indice ≥ ' + fmtNum(hs.congested_index, 1) + ')' },
      { text: 'Connues', cls: 'num', title: 'tronçon-heures connues (au moins ' + fmtInt(hs.min_known_segment_hours) + ' pour être classé)' }
    ], rows));
    box.setAttribute('data-state', 'ready');
  }

  // ------------------------------------------------------------------ corridors view
  var corridorMap = null, corridorLayer = null, corridorCtx = null, corridorCtxDrawn = false, corridorLayers = new Map();
  var TTI_SCALE = [1, 2.5];   // colour ramp: TTI 1 (free flow) to 2.5
  function ttiColor(t) { return isNum(t) ? heatColor((t - TTI_SCALE[0]) / (TTI_SCALE[1] - TTI_SCALE[0])) : STATE_COLORS.INCONNU; }

  function loadCorridors() {
    if (!S.hmeta) return Promise.resolve();
    if (!S.hmeta.has_travel_times) {
      showEmpty('corridors', 'corridor-empty', 'corridor-body', 'Aucun temps de parcours importé',
        'La base ne contient pas les temps de parcours des 16 corridors (ci_tpstj_a). Importez-les avec :', ['travel']);
      return Promise.resolve();
    }
    hideEmpty('corridor-empty', 'corridor-body');
    setupCorridorMap();
    var key = histKey();
    var geo = S.corrGeo ? Promise.resolve() : api('corridors.geojson').then(function (g) { S.corrGeo = g; noteError('corridors.geojson', null); },
      function (e) { noteError('corridors.geojson', e); });
    var data;
    if (S.corr && S.corr.key === key && S.corr.data) data = Promise.resolve();
    else {
      var job = S.corr = { key: key, data: null, error: null };
      setViewState('corridors', 'loading');
      renderCorridors();
      data = api('corridors', histParams()).then(function (x) { if (S.corr === job) { job.data = x; noteError('corridors', null); } },
        function (e) { if (S.corr === job) { job.error = e.message; noteError('corridors', e); } });
    }
    var job2 = S.corr;
    return Promise.all([geo, data]).then(function () {
      if (S.corr !== job2 || S.view !== 'corridors') return;
      corridorMap.invalidateSize();
      renderCorridors();
      renderCorridorMap();
      setViewState('corridors', job2.error ? 'error' : 'ready');
    });
  }

  function setupCorridorMap() {
    if (corridorMap) return;
    corridorMap = L.map('corridor-map', { zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 9, maxZoom: 18 });
    corridorMap.attributionControl.setPrefix('Leaflet');
    corridorMap.attributionControl.addAttribution('Données : Bordeaux Métropole (open data)');
    corridorMap.setView([44.84, -0.56], 12);
    corridorCtx = L.layerGroup().addTo(corridorMap);
    corridorLayer = L.featureGroup().addTo(corridorMap);
    var legend = L.control({ position: 'bottomleft' });
    legend.onAdd = function () {
      var div = L.DomUtil.create('div', 'map-legend');
      div.appendChild(el('div', { class: 'legend-title', text: 'Indice de temps de parcours (TTI)' }));
      div.appendChild(el('div', { class: 'legend-ramp' }, [el('span', { text: fmtNum(TTI_SCALE[0], 1) }),
        el('span', { class: 'ramp', style: 'background:' + heatRamp() }), el('span', { text: '≥ ' + fmtNum(TTI_SCALE[1], 1) })]));
      div.appendChild(el('div', { class: 'muted', text: '1 = temps libre ; 1,5 = 50 % plus long' }));
      return div;
    };
    legend.addTo(corridorMap);
    var t = tilesSetting();
    if (t && t.url) L.tileLayer(t.url, { maxZoom: 19, attribution: t.attribution, crossOrigin: false }).addTo(corridorMap);
  }

  function corridorById() {
    var m = new Map();
    (S.corr && S.corr.data && S.corr.data.corridors || []).forEach(function (c) { m.set(c.gid, c); });
    return m;
  }
  function renderCorridorMap() {
    if (!corridorMap || !S.corrGeo) return;
    if (!corridorCtxDrawn && S.network) {
      // the live network, thin and grey, for orientation
      corridorCtxDrawn = true;
      var r = L.svg({ padding: 0.3 });
      S.network.features.forEach(function (f) {
        var ll = latlngsOf(f.geometry);
        if (ll) L.polyline(ll, { renderer: r, interactive: false, color: '#b7c0ca', weight: 1.5, opacity: 0.8, className: 'ctx-seg' }).addTo(corridorCtx);
      });
    }
    corridorLayer.clearLayers();
    corridorLayers.clear();
    var byId = corridorById();
    var feats = (S.corrGeo.features || []).slice().sort(function (a, b) {
      var ta = (byId.get(a.properties.gid) || {}).tti, tb = (byId.get(b.properties.gid) || {}).tti;
      return (isNum(ta) ? ta : 0) - (isNum(tb) ? tb : 0);
    });
    feats.forEach(function (f) {
      var p = f.properties, c = byId.get(p.gid) || {};
      var ll = latlngsOf(f.geometry);
      if (!ll) return;
      var sel = S.corrSel === p.gid;
      var layer = L.polyline(ll, {
        renderer: L.svg({ padding: 0.3 }), className: 'corridor' + (sel ? ' selected' : ''), color: ttiColor(c.tti),
        weight: sel ? 9 : 6, opacity: S.corrSel == null || sel ? 0.95 : 0.45, lineCap: 'round', lineJoin: 'round'
      });
      layer.on('click', function () { selectCorridor(p.gid, false); });
      layer.bindTooltip(p.label + ' · TTI ' + fmtNum(c.tti, 2), { sticky: true, direction: 'top', opacity: 0.95 });
      corridorLayer.addLayer(layer);
      var path = layer.getElement();
      if (path) path.setAttribute('data-gid', String(p.gid));
      corridorLayers.set(p.gid, layer);
    });
    var sl = corridorLayers.get(S.corrSel);
    if (sl) sl.bringToFront();
    if (!S.corrFitted && corridorLayer.getBounds().isValid()) { S.corrFitted = true; corridorMap.fitBounds(corridorLayer.getBounds(), { padding: [20, 20] }); }
    $('corridor-map-note').textContent = plural(corridorLayers.size, 'corridor') + ' · cliquez pour le détail';
  }

  // the local hours with the highest TTI, among those with enough samples (a tenth of the busiest
  // hour's, at least 5: the history covers 06-20 h, a few live samples fall outside)
  function worstHours(c, n) {
    var hs = (c.hours || []).filter(function (h) { return isNum(h.tti) && h.samples > 0; });
    var most = Math.max.apply(null, hs.map(function (h) { return h.samples; }).concat([0]));
    var min = Math.max(5, most / 10);
    return { min: min, hours: hs.filter(function (h) { return h.samples >= min; }).sort(function (a, b) { return b.tti - a.tti; }).slice(0, n) };
  }

  function renderCorridors() {
    var box = $('corridor-list');
    var job = S.corr;
    if (!job || !job.data) {
      box.setAttribute('data-state', job && job.error ? 'error' : 'loading');
      noteBox(box, job && job.error ? 'indisponible : ' + job.error : 'chargement…');
      $('corridor-note').textContent = '';
      renderCorridorDetail();
      return;
    }
    var x = job.data, list = x.corridors || [];
    // the detail card shows the corridor with the highest TTI until one is chosen
    if (S.corrSel == null || !list.some(function (c) { return c.gid === S.corrSel; })) {
      var worst = list.filter(function (c) { return isNum(c.tti); }).sort(function (a, b) { return b.tti - a.tti; })[0];
      S.corrSel = worst ? worst.gid : null;
    }
    if (S.view === 'corridors') renderRangeEcho(x);
    var measured = list.filter(function (c) { return c.samples > 0; }).length;
    $('corridor-note').textContent = plural(list.length, 'corridor') + (x.from ? ' · mesures ' + fmtDateRange(localDate(parseUtc(x.from)), localDate(parseUtc(x.to))) : '') +
      (measured < list.length ? ' · ' + (list.length - measured) + ' sans mesure sur la période' : '');
    if (!list.length) { box.setAttribute('data-state', 'empty'); noteBox(box, 'aucun corridor'); return; }
    var rows = list.map(function (c) {
      var w = worstHours(c, 3);
      var bad = c.unhealthy ? (c.unhealthy.floor || 0) + (c.unhealthy.cap || 0) + (c.unhealthy.sentinel || 0) : 0;
      var pick = function () { selectCorridor(c.gid, true); };
      var valueCell = function (v, d, cls, text) {
        var cell = td(text != null ? text : fmtNum(v, d), 'num ' + cls);
        cell.setAttribute('data-value', isNum(v) ? String(v) : '');
        return cell;
      };
      var swatch = el('span', { class: 'swatch-dot', style: 'background:' + ttiColor(c.tti) });
      return el('tr', {
        'data-gid': String(c.gid), 'data-ident': c.ident != null ? String(c.ident) : null, class: 'clickable' + (S.corrSel === c.gid ? ' selected' : ''), tabindex: '0',
        'aria-selected': S.corrSel === c.gid ? 'true' : 'false', onclick: pick,
        onkeydown: function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); } }
      }, [
        td(String(c.gid), 'rank'),
        td([el('div', { class: 'corridor-label' }, [swatch, c.label || ('corridor ' + c.gid)]),
          el('div', { class: 'sub', text: fmtKmM(c.length_m, 1) + ' · ident ' + c.ident }),
          // a mirror carries the measurements of another corridor: not a second measurement
          c.mirror_of != null ? el('div', { class: 'sub mirror', 'data-mirror-of': String(c.mirror_of),
            title: fmtPct(c.mirror_share, 1) + ' des heures communes ont la même valeur',
            text: 'mêmes mesures que le corridor ' + c.mirror_of + ' (copie dans les données)' }) : null]),
        valueCell(c.tti, 2, 'tti'),
        valueCell(c.pti, 2, 'pti'),
        valueCell(c.buffer_index, 0, 'buffer', fmtPct(c.buffer_index, 0)),
        valueCell(c.congestion_level, 0, 'level', fmtSignedPct(c.congestion_level, 0)),
        valueCell(c.vs_usual, 2, 'usual'),
        td(w.hours.length ? w.hours.map(function (h) { return h.hour + NBSP + 'h' + NBSP + '(' + fmtNum(h.tti, 2) + ')'; }).join(' · ') : '—', 'worst',
          'heures locales au TTI le plus élevé (au moins ' + fmtInt(w.min) + ' mesures)'),
        td(fmtInt(c.samples), 'num', bad ? fmtInt(bad) + ' mesures écartées (plancher ' + fmtInt(c.unhealthy.floor) + ', plafond ' + fmtInt(c.unhealthy.cap) + ', valeur sentinelle ' + fmtInt(c.unhealthy.sentinel) + ')' : null)
      ]);
    });
    var notice = measured ? null : el('div', { class: 'notice' }, [
      'Aucune mesure de temps de parcours sur cette période. ',
      el('button', { type: 'button', class: 'btn-link', text: 'afficher toutes les mesures', onclick: function () { setHistRange(S.hmeta.first_day, S.hmeta.last_day, 'all'); } })
    ]);
    replace(box, notice);
    box.appendChild(table([
      { text: '#', cls: 'rank' }, { text: 'Corridor' },
      { text: 'TTI', cls: 'num', title: 'indice de temps de parcours : temps moyen / temps libre' },
      { text: 'PTI', cls: 'num', title: 'indice de planification : 95e centile / temps libre' },
      { text: 'Tampon', cls: 'num', title: 'indice tampon : (95e centile − moyenne) / moyenne' },
      { text: 'Congestion', cls: 'num', title: 'niveau de congestion : TTI − 1 (temps perdu par rapport au temps libre)' },
      { text: 'vs habituel', cls: 'num', title: 'temps mesuré / temps de référence de l\u2019heure (au-dessus de 1 : plus lent que d\u2019habitude)' },
      { text: 'Heures les pires' },
      { text: 'Mesures', cls: 'num', title: 'mesures horaires valides (les valeurs plancher, plafond et sentinelles sont écartées)' }
    ], rows));
    box.setAttribute('data-state', 'ready');
    renderCorridorDetail();
  }

  function selectCorridor(gid, zoom) {
    S.corrSel = gid;
    document.querySelectorAll('#corridor-list tr[data-gid]').forEach(function (tr) {
      var on = Number(tr.getAttribute('data-gid')) === gid;
      tr.classList.toggle('selected', on);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
    });
    renderCorridorMap();
    renderCorridorDetail();
    var l = corridorLayers.get(gid);
    if (zoom && l) corridorMap.fitBounds(l.getBounds(), { padding: [40, 40], maxZoom: 15 });
  }

  function renderCorridorDetail() {
    var box = $('corridor-detail');
    var c = corridorById().get(S.corrSel);
    $('corridor-detail-title').textContent = c ? c.label : 'Corridor';
    if (!c) { $('corridor-detail-note').textContent = ''; noteBox(box, 'choisissez un corridor (tableau ou carte) pour son profil horaire'); return; }
    var hs = (c.hours || []).slice().sort(function (a, b) { return a.hour - b.hour; });
    var last = (c.months || []).slice(-1)[0];
    $('corridor-detail-note').textContent = 'TTI ' + fmtNum(c.tti, 2) + ' · PTI ' + fmtNum(c.pti, 2) + ' · ' + plural(c.samples || 0, 'mesure');
    var frag = document.createDocumentFragment();
    var props = el('dl', { class: 'seg-props' }, [
      el('dt', { text: 'Longueur' }), el('dd', { text: fmtKmM(c.length_m, 2) }),
      el('dt', { text: 'Temps moyen' }), el('dd', { text: fmtDuration(c.mean_s) + ' (95e centile ' + fmtDuration(c.p95_s) + ')' }),
      el('dt', { text: 'Congestion' }), el('dd', { text: fmtSignedPct(c.congestion_level, 0) + ' par rapport au temps libre' }),
      el('dt', { text: 'vs habituel' }), el('dd', { text: fmtNum(c.vs_usual, 2) }),
      last ? el('dt', { text: 'Temps libre' }) : null,
      last ? el('dd', { text: fmtDuration(last.free_flow_s) + ' en ' + DTF.monthLong.format(dayStart(last.month + '-15')) +
        (last.free_flow_method === 'night' ? ' (nuit)' : ' (heure la plus fluide : ' + last.free_flow_hour + ' h)') }) : null
    ]);
    frag.appendChild(props);
    if (hs.length) {
      var chart = drawBars(box, {
        items: hs.map(function (h) {
          return { x0: h.hour, x1: h.hour + 1, value: h.tti, h: h, color: ttiColor(h.tti), attrs: { 'data-hour': String(h.hour) } };
        }),
        x0: 0, x1: 24, height: 170, ref: { value: 1, label: 'temps libre' },
        ticks: [0, 3, 6, 9, 12, 15, 18, 21].map(function (h) { return { x: h + 0.5, label: h + ' h' }; }),
        yFmt: function (v, step) { return fmtNum(v, decimalsOf(step)); },
        aria: 'TTI par heure locale du corridor ' + c.label,
        tip: function (it) {
          var h = it.h;
          return h.hour + ' h–' + (h.hour + 1) + ' h — TTI ' + fmtNum(h.tti, 2) + ' · temps moyen ' + fmtDuration(h.mean_s) + ' · vs habituel ' + fmtNum(h.vs_usual, 2) + ' · ' + plural(h.samples, 'mesure');
        }
      });
      frag.appendChild(el('div', { class: 'chart-legend' }, [el('span', { class: 'muted', text: 'TTI par heure locale (Europe/Paris)' })]));
      frag.appendChild(chart.frame.root);
      frag.appendChild(chart.tip);
    }
    replace(box, frag);
  }

  // ------------------------------------------------------------------ periods view
  function loadPeriods() {
    if (!S.hmeta) return Promise.resolve();
    if (!hasHistory()) { noHistory('periodes', 'period-empty', 'period-body'); return Promise.resolve(); }
    if (!(S.hmeta.periods || []).length) {
      showEmpty('periodes', 'period-empty', 'period-body', 'Aucune période enregistrée',
        'Les comparaisons avant / pendant / après portent sur les périodes de la table « period » (par exemple les confinements). Importez-les avec :', ['periods']);
      return Promise.resolve();
    }
    hideEmpty('period-empty', 'period-body');
    if (S.periods) { renderPeriods(); setViewState('periodes', 'ready'); return Promise.resolve(); }
    setViewState('periodes', 'loading');
    noteBox($('period-list'), 'chargement…');
    return api('history/periods').then(function (x) {
      S.periods = x;
      noteError('history/periods', null);
      renderPeriods();
      setViewState('periodes', 'ready');
    }, function (e) {
      noteError('history/periods', e);
      noteBox($('period-list'), 'indisponible : ' + e.message);
      setViewState('periodes', 'error');
    });
  }

  function changeText(ch) {
    return ch ? fmtSigned(ch.absolute, 3) + ' (' + fmtSignedPct(ch.relative, 1) + ')' : '—';
  }
  function changeEl(cls, label, ch) {
    var e = el('div', { class: 'change ' + cls + (ch && isNum(ch.absolute) ? (ch.absolute < 0 ? ' down' : ch.absolute > 0 ? ' up' : '') : '') }, [
      el('span', { class: 'change-label', text: label }), el('b', { class: 'change-value', text: changeText(ch) })
    ]);
    e.setAttribute('data-absolute', ch && isNum(ch.absolute) ? String(ch.absolute) : '');
    e.setAttribute('data-relative', ch && isNum(ch.relative) ? String(ch.relative) : '');
    return e;
  }
  // "Confinement 2020-03-17..2020-05-10" (a label the report made unique) -> "Confinement"
  function periodName(label) { return String(label || '').replace(/\s+\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}$/, '') || 'Période'; }

  function renderPeriods() {
    var box = $('period-list');
    var list = S.periods && S.periods.periods || [];
    $('period-intro').textContent = 'Pour chaque période de la table « period » : l\u2019indice de congestion du réseau pendant la période, ' +
      'comparé aux mêmes nombres de jours juste avant et juste après (pointes du matin et du soir : jours ouvrés). ' +
      'Indice moyen non pondéré, de 0 (tout fluide) à 1 (tout embouteillé).';
    if (!list.length) { noteBox(box, 'aucune période comparable (pas de données horaires autour des périodes)'); return; }
    var frag = document.createDocumentFragment();
    list.forEach(function (p, i) { frag.appendChild(periodCard(p, i)); });
    replace(box, frag);
    // the charts need their card's width: draw them once the cards are in the page
    list.forEach(function (p, i) { drawPeriodChart($('period-chart-' + i), p); });
  }

  function periodCard(p, i) {
    var b = p.before || {}, d = p.during || {}, a = p.after || {};
    var ndays = d.from && d.to ? daysBetween(d.from, d.to) + 1 : null;
    var win = function (name, cls, w) {
      return el('tr', { class: 'win-' + cls }, [
        td(el('strong', { text: name })), td(w.from ? fmtDateRange(w.from, w.to) : '—'), td(fmtInt(w.days_with_data), 'num'),
        td(fmtIdx(w.index), 'num idx'), td(fmtIdx(w.am_index), 'num'), td(fmtIdx(w.pm_index), 'num'), td(fmtInt(w.known_segment_hours), 'num')
      ]);
    };
    var link = b.from && a.to ? el('a', { class: 'btn-link', href: '#historique?du=' + b.from + '&au=' + a.to, text: 'voir avant / pendant / après dans l\u2019historique' }) : null;
    var dropsBox = el('div', { class: 'period-drops-body' });
    var sel = el('select', { 'aria-label': 'Plus fortes baisses par' }, [
      el('option', { value: 'top_communes', text: 'commune' }), el('option', { value: 'top_segments', text: 'tronçon' }), el('option', { value: 'top_typevoie', text: 'type de voie' })
    ]);
    sel.addEventListener('change', function () { renderDrops(dropsBox, p, sel.value); });
    renderDrops(dropsBox, p, 'top_communes');
    var card = el('article', { class: 'card period-card', id: 'period-' + i, 'data-label': periodName(p.label), 'data-start': d.from || '', 'data-end': d.to || '',
      'aria-labelledby': 'period-title-' + i }, [
      el('div', { class: 'card-head' }, [
        el('h2', { id: 'period-title-' + i, text: periodName(p.label) }),
        el('span', { class: 'card-note', text: (d.from ? fmtDateRange(d.from, d.to) : '') + (ndays ? ' · ' + plural(ndays, 'jour') : '') }),
        link
      ]),
      el('div', { class: 'period-grid' }, [
        el('div', { class: 'chart period-chart', id: 'period-chart-' + i }),
        el('div', null, [
          el('div', { class: 'changes' }, [
            changeEl('change-during', 'Pendant / avant', p.change_during),
            changeEl('change-after', 'Après / avant', p.change_after),
            changeEl('change-am-during', 'Matin, pendant / avant', p.change_am_during),
            changeEl('change-pm-during', 'Soir, pendant / avant', p.change_pm_during)
          ]),
          el('div', { class: 'table-wrap' }, [table([{ text: 'Fenêtre' }, { text: 'Jours' }, { text: 'Avec données', cls: 'num' }, { text: 'Indice', cls: 'num' },
            { text: 'Matin', cls: 'num' }, { text: 'Soir', cls: 'num' }, { text: 'Tronçon-h connues', cls: 'num' }],
            [win('Avant', 'before', b), win('Pendant', 'during', d), win('Après', 'after', a)])])
        ])
      ]),
      el('div', { class: 'period-drops' }, [
        el('div', { class: 'drops-head' }, [el('h3', { text: 'Plus fortes baisses pendant la période (vs avant)' }), el('label', { class: 'inline-select' }, ['par ', sel])]),
        dropsBox
      ])
    ]);
    return card;
  }

  function drawPeriodChart(box, p) {
    var w = [['avant', p.before], ['pendant', p.during], ['après', p.after]];
    var chart = drawBars(box, {
      items: w.map(function (x, k) {
        var v = x[1] || {};
        return { x0: k, x1: k + 1, value: v.index, am: v.am_index, pm: v.pm_index, name: x[0], v: v, color: k === 1 ? '#e9a0a0' : '#c9ced6' };
      }),
      x0: 0, x1: 3, height: 190, yFmt: idxAxis,
      ticks: w.map(function (x, k) { return { x: k + 0.5, label: x[0] }; }),
      series: [{ key: 'am', color: IDX_COLORS.am, cls: 'line-am' }, { key: 'pm', color: IDX_COLORS.pm, cls: 'line-pm' }],
      aria: 'Indice avant, pendant et après ' + periodName(p.label),
      tip: function (it) { return it.name + ' — indice ' + fmtIdx(it.value) + ' · matin ' + fmtIdx(it.am) + ' · soir ' + fmtIdx(it.pm); }
    });
    var frag = document.createDocumentFragment();
    frag.appendChild(el('div', { class: 'chart-legend' }, [
      el('span', null, [el('i', { class: 'bar-swatch' }), 'indice']),
      el('span', null, [el('i', { style: 'background:' + IDX_COLORS.am }), 'matin']),
      el('span', null, [el('i', { style: 'background:' + IDX_COLORS.pm }), 'soir'])
    ]));
    frag.appendChild(chart.frame.root);
    frag.appendChild(chart.tip);
    replace(box, frag);
  }

  function renderDrops(box, p, key) {
    var list = p[key] || [];
    if (!list.length) { noteBox(box, 'aucune baisse à classer : aucun groupe en baisse, ou pas assez d\u2019heures connues dans les deux fenêtres'); return; }
    var rows = list.map(function (x, i) {
      var name = key === 'top_segments' ? (x.ident || x.key) : x.key;
      var sub = key === 'top_segments' ? [x.commune, x.typevoie].filter(Boolean).join(' · ') : plural(x.segments || 0, 'tronçon');
      return el('tr', { 'data-key': x.key }, [
        td(String(i + 1), 'rank'), td([el('div', { class: 'ident', text: name }), el('div', { class: 'sub', text: sub })]),
        td(fmtIdx(x.index_before), 'num'), td(fmtIdx(x.index_during), 'num'),
        td(fmtSigned(x.change, 3), 'num'), td(fmtSignedPct(x.relative, 1), 'num')
      ]);
    });
    replace(box, table([{ text: '#', cls: 'rank' }, { text: key === 'top_segments' ? 'Tronçon' : key === 'top_communes' ? 'Commune' : 'Type de voie' },
      { text: 'Avant', cls: 'num' }, { text: 'Pendant', cls: 'num' }, { text: 'Écart', cls: 'num' }, { text: 'Relatif', cls: 'num' }], rows));
    box.appendChild(el('p', { class: 'muted small drops-note', text: (key === 'top_segments' ? 'Tronçons par identifiant, ou par gid quand il n\u2019est rattaché à aucun' : 'Tronçons rattachés à un identifiant (commune et type de voie connus)') + ', avec assez d\u2019heures connues dans les deux fenêtres ; seules les baisses sont classées ; indice moyen de la fenêtre.' }));
  }

  // ------------------------------------------------------------------ counting stations (main map)
  // A layer of the live map, off by default (the map is first about the segments' states): the
  // permanent loop sensors and the one-week campaigns, each toggled on its own.
  var stationGroups = {}, stationRenderer = null, stationCtl = null;
  var STATION_STYLE = {
    sensor: { radius: 4.5, color: '#ffffff', weight: 1.2, fillColor: '#1c6dd0', fillOpacity: 0.95 },
    campaign: { radius: 3.5, color: '#ffffff', weight: 0.8, fillColor: '#8d5cd6', fillOpacity: 0.75 }
  };
  var STATION_LABEL = { sensor: 'capteurs permanents', campaign: 'campagnes d\u2019une semaine' };

  function setupStations() {
    map.createPane('stations').style.zIndex = 450;
    stationRenderer = L.svg({ pane: 'stations', padding: 0.3 });
    stationGroups.sensor = L.layerGroup();
    stationGroups.campaign = L.layerGroup();
    stationCtl = L.control({ position: 'topleft' });
    stationCtl.onAdd = function () {
      var div = L.DomUtil.create('div', 'map-layers');
      div.id = 'station-control';
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var fs = el('fieldset', null, [el('legend', { text: 'Stations de comptage' })]);
      ['sensor', 'campaign'].forEach(function (k) {
        var id = 'layer-' + (k === 'sensor' ? 'sensors' : 'campaigns');
        var cb = el('input', { type: 'checkbox', id: id });
        cb.addEventListener('change', function () { toggleStations(k, cb.checked); });
        fs.appendChild(el('label', { class: 'layer-row', for: id }, [cb, el('span', { class: 'dot dot-' + k }), STATION_LABEL[k], el('b', { id: id + '-count' })]));
      });
      var search = el('input', { type: 'search', id: 'station-search', list: 'station-idents', placeholder: 'capteur (ex. Z05AE)', 'aria-label': 'Chercher un capteur par identifiant', spellcheck: 'false', autocomplete: 'off' });
      var form = el('form', { class: 'station-search', role: 'search' }, [search, el('datalist', { id: 'station-idents' })]);
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var v = search.value.trim().toUpperCase();
        ensureStations().then(function () {
          var f = (S.stations && S.stations.features || []).filter(function (x) { return x.properties.kind === 'sensor' && String(x.properties.ident).toUpperCase() === v; })[0];
          search.setAttribute('aria-invalid', f ? 'false' : 'true');
          if (!f) return;
          $('layer-sensors').checked = true;
          toggleStations('sensor', true);
          map.setView([f.geometry.coordinates[1], f.geometry.coordinates[0]], Math.max(map.getZoom(), 15));
          openStation(f);
        });
      });
      fs.appendChild(form);
      fs.appendChild(el('p', { class: 'layer-note', id: 'station-note', hidden: true }));
      div.appendChild(fs);
      return div;
    };
    stationCtl.addTo(map);
    $('station-close').addEventListener('click', closeStation);
    document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && S.stationSel) closeStation(); });
  }

  function renderStationControl() {
    if (!$('station-control')) return;
    var m = S.hmeta;
    var none = m && !m.has_stations;
    ['layer-sensors', 'layer-campaigns'].forEach(function (id) { $(id).disabled = !!none; });
    $('station-search').disabled = !!none;
    var note = $('station-note');
    note.hidden = !none;
    note.textContent = none ? 'aucune station importée : bouchon import --kind sensors (et --kind counts pour les comptages annuels)' : '';
  }

  var stationsPromise = null;
  function ensureStations() {
    if (S.stations) return Promise.resolve(S.stations);
    if (!stationsPromise) stationsPromise = api('stations').then(function (g) {
      S.stations = g;
      noteError('stations', null);
      buildStations();
      return g;
    }, function (e) { stationsPromise = null; noteError('stations', e); return null; });
    return stationsPromise;
  }
  function buildStations() {
    var n = { sensor: 0, campaign: 0 };
    var dl = $('station-idents');
    var opts = document.createDocumentFragment();
    (S.stations.features || []).forEach(function (f) {
      var p = f.properties, k = p.kind === 'sensor' ? 'sensor' : 'campaign';
      var c = f.geometry && f.geometry.coordinates;
      if (!c || !isNum(c[0]) || !isNum(c[1])) return;
      n[k]++;
      var mk = L.circleMarker([c[1], c[0]], Object.assign({ renderer: stationRenderer, pane: 'stations', className: 'station station-' + k }, STATION_STYLE[k]));
      mk.on('click', function (e) { L.DomEvent.stopPropagation(e); openStation(f); });
      mk.bindTooltip(k === 'sensor' ? p.ident + ' · ' + (p.commune || '') : 'campagne ' + (p.annee || '') + ' · ' + (p.orientation || ''), { direction: 'top', opacity: 0.95 });
      mk.on('add', function () {
        var path = mk.getElement();
        if (!path) return;
        path.setAttribute('data-kind', k);
        path.setAttribute('data-id', k === 'sensor' ? p.ident : String(p.gid));
      });
      stationGroups[k].addLayer(mk);
      if (k === 'sensor') opts.appendChild(el('option', { value: p.ident, text: (p.commune || '') + ' · ' + (p.type || '') }));
    });
    dl.appendChild(opts);
    $('layer-sensors-count').textContent = fmtInt(n.sensor);
    $('layer-campaigns-count').textContent = fmtInt(n.campaign);
    S.stationCounts = n;
  }
  function toggleStations(kind, on) {
    if (!on) { map.removeLayer(stationGroups[kind]); renderLegend(); return Promise.resolve(); }
    return ensureStations().then(function () {
      if ($(kind === 'sensor' ? 'layer-sensors' : 'layer-campaigns').checked) stationGroups[kind].addTo(map);
      // the permanent sensors stay above the (many) campaigns
      if (kind === 'campaign' && map.hasLayer(stationGroups.sensor)) stationGroups.sensor.eachLayer(function (l) { l.bringToFront(); });
      renderLegend();
    });
  }
  function stationLegendRows(div) {
    ['sensor', 'campaign'].forEach(function (k) {
      if (!stationGroups[k] || !map.hasLayer(stationGroups[k])) return;
      div.appendChild(el('div', { class: 'legend-row' }, [el('span', { class: 'dot dot-' + k }), STATION_LABEL[k],
        el('b', { text: S.stationCounts ? fmtInt(S.stationCounts[k]) : '' })]));
    });
  }

  function openStation(f) {
    if (S.selectedGid != null) closePanel();
    S.stationSel = f;
    var p = f.properties, sensor = p.kind === 'sensor';
    var panel = $('station-panel');
    panel.hidden = false;
    panel.setAttribute('data-kind', p.kind);
    panel.setAttribute('data-id', sensor ? p.ident : String(p.gid));
    $('station-kicker').textContent = sensor ? 'Capteur permanent' : 'Campagne de comptage (une semaine)';
    $('station-title').textContent = sensor ? p.ident : 'Campagne n°' + NBSP + p.gid;
    var row = function (k, v) { return [el('dt', { text: k }), el('dd', null, [v == null || v === '' ? '—' : String(v)])]; };
    var body = $('station-body');
    body.textContent = '';
    if (sensor) {
      var lc = p.latest_count;
      body.appendChild(el('dl', { class: 'seg-props' }, [].concat(
        row('Type', p.type), row('Commune', (p.commune || '—') + (p.code_commune ? ' (' + p.code_commune + ')' : '')), row('gid', p.gid),
        row('Dernier comptage', lc ? (isNum(lc.count) ? fmtInt(lc.count) + ' véh. / 5 min' : 'aucune valeur') + ' · ' + fmtDateTime(parseUtc(lc.at)) +
          (lc.flags & 1 ? ' · périmé' : '') + (lc.flags & 2 ? ' · manquant' : '') : null)
      )));
      var sec = el('div', { class: 'panel-section' }, [el('h4', { text: 'Comptages annuels' })]);
      var an = p.annual || [];
      if (!an.length) sec.appendChild(el('p', { class: 'muted small', text: S.hmeta && !S.hmeta.has_counts ? 'aucun comptage annuel importé (bouchon import --kind counts)' : 'aucun comptage annuel pour ce capteur' }));
      else {
        var names = [];
        var seen = {};
        an.forEach(function (a) {
          var n = a.nom_voie ? a.nom_voie.replace(/\s+/g, ' ').trim() : '';
          if (n && !seen[n.toLowerCase()]) { seen[n.toLowerCase()] = true; names.push(n); }
        });
        if (names.length) sec.appendChild(el('p', { class: 'small', text: names.join(' · ') }));
        sec.appendChild(table([{ text: 'Année' }, { text: 'Sens' }, { text: 'MJO', cls: 'num', title: 'moyenne journalière ouvrée (véhicules par jour)' },
          { text: 'HPM', cls: 'num', title: 'heure de pointe du matin (véhicules par heure)' }, { text: 'HPS', cls: 'num', title: 'heure de pointe du soir (véhicules par heure)' },
          { text: 'Évol.', cls: 'num', title: 'évolution de la MJO sur un an' }],
          an.map(function (a) {
            return el('tr', { 'data-year': String(a.year), 'data-sens': a.sens || '' }, [td(String(a.year)), td(a.sens || '—'),
              td(fmtInt(a.mjo_val), 'num mjo'), td(fmtInt(a.hpm_val), 'num hpm'), td(fmtInt(a.hps_val), 'num hps'),
              td(isNum(a.mjo_pct) ? fmtSigned(a.mjo_pct, 1) + NBSP + '%' : '—', 'num')]);
          })));
        sec.appendChild(el('p', { class: 'muted small', text: 'MJO : véhicules par jour ouvré ; HPM / HPS : véhicules à l\u2019heure de pointe du matin / du soir.' }));
      }
      body.appendChild(sec);
    } else {
      body.appendChild(el('dl', { class: 'seg-props' }, [].concat(
        row('Type', p.type), row('Année', p.annee), row('Semaine', p.start_day ? fmtDateRange(p.start_day, p.end_day || p.start_day) : null),
        row('Sens', p.orientation), row('Code INSEE', p.insee),
        row('TMJO (tous véh.)', isNum(p.tmjo_tv) ? fmtInt(p.tmjo_tv) + ' véh. / jour' : null),
        row('HPM', isNum(p.hpm_tv) ? fmtInt(p.hpm_tv) + ' véh. / h' : null), row('HPS', isNum(p.hps_tv) ? fmtInt(p.hps_tv) + ' véh. / h' : null),
        row('V85 (légers)', isNum(p.v85_vl) ? fmtInt(p.v85_vl) + ' km/h' : null)
      )));
    }
  }
  function closeStation() {
    S.stationSel = null;
    $('station-panel').hidden = true;
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
      resizeTimer = setTimeout(function () {
        if (S.view === 'direct') { renderTimeseries(); renderHeatmap(); }
        else if (S.view === 'historique') renderHistAll();
        else if (S.view === 'corridors') renderCorridorDetail();
        else if (S.view === 'periodes' && S.periods) renderPeriods();
      }, 150);
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
      api('summary', { history: 'false' }).then(function (s) { S.summary = s; noteError('summary', null); }, function (e) { noteError('summary', e); }),
      loadHealth()
    ]).then(function () {
      indexNetwork();
      fillFilterOptions();
      renderMap(first);
      // the history views link to (and draw) the live network: refresh them once it is known
      if (S.view === 'historique' && S.hdata && S.hdata.hotspots) renderHistHotspots();
      if (S.view === 'corridors') renderCorridorMap();
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
    renderLive();
  }
  // The header badge: the feed's health first (/api/v1/health), then the connection.
  // "en direct" only when the event stream is open AND the feed is fresh (status ok).
  function renderLive() {
    var e = $('live-status');
    var mode = S.live || 'off';
    var st = S.health ? S.health.status : null;
    var conn = mode === 'on' ? 'flux d\u2019événements /api/v1/events ouvert'
      : mode === 'poll' ? 'interrogation de /api/v1/health toutes les 30 s' : 'pas de connexion au serveur';
    var cls, text, why;
    if (!S.health && S.errors.health) { cls = 'off'; text = 'serveur injoignable'; why = '/api/v1/health ne répond pas'; }
    else if (st === 'down') { cls = 'down'; text = 'flux interrompu'; why = 'aucun état connu ou plus aucun changement reçu'; }
    else if (st === 'empty') { cls = 'down'; text = 'aucune donnée'; why = 'la base ne contient aucun relevé'; }
    else if (st === 'stale') { cls = 'stale'; text = 'flux en retard'; why = 'la donnée la plus récente est ancienne'; }
    else if (st === 'ok' && mode === 'on') { cls = 'on'; text = 'en direct'; why = 'flux à jour'; }
    else if (mode === 'poll') { cls = 'poll'; text = 'sondage 30 s'; why = st === 'ok' ? 'flux à jour' : 'état du flux inconnu'; }
    else if (mode === 'on') { cls = 'poll'; text = 'connecté'; why = 'état du flux pas encore connu'; }
    else { cls = 'off'; text = 'hors ligne'; why = 'état du flux inconnu'; }
    e.className = 'live live-' + cls;
    e.setAttribute('data-stream', mode);
    e.setAttribute('data-health', st || '');
    e.textContent = text;
    e.title = 'Flux : ' + why + ' ; ' + conn;
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
    setupHistControls();
    setLive('off');
    window.addEventListener('hashchange', onHash);
    var initial = parseHash();
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
      // the history overview (flags for the stations layer; the history views' ranges)
      return ensureMeta();
    }).then(function () {
      document.documentElement.setAttribute('data-ready', 'true');
    });
    if (initial.view !== 'direct') onHash();
    connectEvents();
    startPolling();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
