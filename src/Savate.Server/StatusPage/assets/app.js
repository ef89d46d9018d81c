// Savate status page: polls /status.json, lists the mounts, draws a small chart of listeners and bitrate,
// and plays a mount with mpegts.js. Every text a source or the config controls (mount paths, titles, codecs)
// goes into the DOM through textContent or attribute setters, never through HTML: it cannot inject markup.
(function () {
  'use strict';
  var REFRESH_MS = 2000;
  var HISTORY = 60; // points: two minutes at one refresh every 2 s
  var history = {}; // path -> [{listeners, bitrate}]
  var rows = {};    // path -> row elements
  var players = {}; // path -> {player, video, panel}
  var tbody = document.querySelector('#mounts tbody');

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function stateOf(m) {
    if (m.state === 'live') { return 'live'; }
    if (m.state === 'fallback' || m.state === 'grace') { return m.state; }
    return 'off';
  }

  function formatBitrate(bits) {
    if (!bits) { return '-'; }
    if (bits >= 1e6) { return (bits / 1e6).toFixed(2) + ' Mbit/s'; }
    return Math.round(bits / 1e3) + ' kbit/s';
  }

  function streamUrl(path) {
    return location.origin + path.split('/').map(encodeURIComponent).join('/');
  }

  function drawChart(canvas, points) {
    var ratio = window.devicePixelRatio || 1;
    var w = 160, h = 36;
    canvas.width = w * ratio; canvas.height = h * ratio;
    var ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, w, h);
    function line(key, color) {
      var max = 1;
      points.forEach(function (p) { max = Math.max(max, p[key]); });
      ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
      points.forEach(function (p, i) {
        var x = (HISTORY - points.length + i) * (w / (HISTORY - 1));
        var y = h - 2 - (p[key] / max) * (h - 4);
        if (i === 0) { ctx.moveTo(x, y); } else { ctx.lineTo(x, y); }
      });
      ctx.stroke();
    }
    line('bitrate', '#7aa6da');
    line('listeners', '#2a7a2a');
  }

  function createRow(m) {
    var tr = el('tr');
    tr.dataset.mount = m.path;
    var cells = {
      mount: el('td', 'mount'), state: el('td'), codecs: el('td', 'codecs'), resolution: el('td', 'resolution'),
      bitrate: el('td', 'num bitrate'), listeners: el('td', 'num listeners'), chart: el('td'), actions: el('td')
    };
    cells.mountName = el('strong', null, m.path);
    cells.mount.appendChild(cells.mountName);
    cells.title = el('div', 'title');
    cells.mount.appendChild(cells.title);
    cells.stateBadge = el('span', 'state');
    cells.state.appendChild(cells.stateBadge);
    cells.canvas = el('canvas', 'chart');
    cells.canvas.title = 'green: listeners, blue: bitrate';
    cells.chart.appendChild(cells.canvas);
    var play = el('button', 'play', 'Play');
    play.type = 'button';
    play.addEventListener('click', function () { togglePlayer(m.path, m.format); });
    cells.actions.appendChild(play);
    cells.play = play;
    ['mount', 'state', 'codecs', 'resolution', 'bitrate', 'listeners', 'chart', 'actions'].forEach(function (k) { tr.appendChild(cells[k]); });
    tbody.appendChild(tr);
    return cells;
  }

  function update(doc) {
    var seen = {};
    document.getElementById('summary').textContent =
      doc.server.listeners + ' listeners, ' + doc.server.sources + ' sources, up ' + doc.server.uptime_seconds + ' s';
    doc.mounts.forEach(function (m) {
      seen[m.path] = true;
      var cells = rows[m.path] || (rows[m.path] = createRow(m));
      var state = stateOf(m);
      cells.stateBadge.textContent = state === 'fallback' ? 'fallback (' + m.playing.replace(/^fallback /, '') + ')' : state;
      cells.stateBadge.className = 'state ' + state;
      cells.title.textContent = m.title || '';
      cells.codecs.textContent = (m.codecs || []).join(', ') || '-';
      cells.bitrate.textContent = formatBitrate(m.input_bitrate);
      cells.listeners.textContent = String(m.listeners);
      cells.play.disabled = state === 'off' && !players[m.path];
      var p = players[m.path];
      cells.resolution.textContent = p && p.video.videoWidth ? p.video.videoWidth + '\u00d7' + p.video.videoHeight : '-';
      var h = history[m.path] || (history[m.path] = []);
      h.push({ listeners: m.listeners, bitrate: m.input_bitrate });
      if (h.length > HISTORY) { h.shift(); }
      drawChart(cells.canvas, h);
    });
    Object.keys(rows).forEach(function (path) {
      if (!seen[path]) {
        rows[path].mount.parentNode.remove();
        delete rows[path];
        delete history[path];
      }
    });
  }

  function copyField(label, value) {
    var row = el('div');
    var input = el('input');
    input.readOnly = true;
    input.value = value;
    input.setAttribute('aria-label', label);
    var button = el('button', null, 'Copy');
    button.type = 'button';
    button.addEventListener('click', function () {
      input.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(value).catch(function () { document.execCommand('copy'); }); }
      else { document.execCommand('copy'); }
    });
    row.appendChild(input);
    row.appendChild(button);
    return row;
  }

  function togglePlayer(path, format) {
    var existing = players[path];
    if (existing) {
      existing.player.destroy();
      existing.panel.remove();
      delete players[path];
      rows[path].play.textContent = 'Play';
      return;
    }
    var panel = el('div', 'player');
    panel.dataset.mount = path;
    panel.appendChild(el('strong', null, path));
    var video = el('video');
    video.muted = true;
    video.controls = true;
    video.autoplay = true;
    video.playsInline = true;
    panel.appendChild(video);
    var url = streamUrl(path);
    var urls = el('div', 'urls');
    urls.appendChild(copyField('ffplay command', 'ffplay ' + url));
    urls.appendChild(copyField('VLC command', 'vlc ' + url));
    panel.appendChild(urls);
    var status = el('div', 'player-status');
    panel.appendChild(status);
    document.getElementById('players').appendChild(panel);
    var player = mpegts.createPlayer({ type: format === 'mpegts' ? 'mpegts' : 'flv', isLive: true, url: url },
      { enableWorker: false, liveBufferLatencyChasing: true });
    player.on(mpegts.Events.ERROR, function (type, detail, info) {
      status.textContent = 'Error: ' + type + ' ' + detail + (info && info.msg ? ' (' + info.msg + ')' : '');
      panel.dataset.error = status.textContent;
    });
    video.addEventListener('error', function () {
      status.textContent = 'Error: media element ' + (video.error ? video.error.code + ' ' + video.error.message : '');
      panel.dataset.error = status.textContent;
    });
    player.attachMediaElement(video);
    player.load();
    var started = player.play();
    if (started && started.catch) { started.catch(function () { /* autoplay refused: the controls remain */ }); }
    players[path] = { player: player, video: video, panel: panel };
    rows[path].play.textContent = 'Stop';
  }

  function refresh() {
    fetch('/status.json', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (doc) { document.getElementById('error').hidden = true; update(doc); })
      .catch(function (e) {
        var error = document.getElementById('error');
        error.hidden = false;
        error.textContent = 'Cannot read /status.json: ' + e.message;
      })
      .then(function () { setTimeout(refresh, REFRESH_MS); });
  }

  if (!window.mpegts || !mpegts.isSupported()) {
    document.getElementById('error').hidden = false;
    document.getElementById('error').textContent = 'This browser cannot play the streams here (no Media Source Extensions).';
  }
  refresh();
})();
