// The Strata web page: browse regions, datasets and arrays; look at rows, histograms and heat
// maps; search runs and saved iterations; define derived data, run updates, register
// applications; copy code snippets. Plain JavaScript over the JSON API (docs/http.md).
'use strict';

const main = document.getElementById('main');
const statusBar = document.getElementById('status');
const tokenInput = document.getElementById('token');
tokenInput.value = sessionStorage.getItem('strata-token') || '';
tokenInput.addEventListener('change', () => sessionStorage.setItem('strata-token', tokenInput.value));

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const enc = encodeURIComponent;
const plural = (n, what) => `${n} ${what}${n === 1 ? '' : /(s|ch|sh|x)$/.test(what) ? 'es' : 's'}`;

async function api(path, opts = {}) {
  const headers = opts.body ? { 'Content-Type': 'application/json' } : {};
  // the token goes with every request: a server on a non-loopback address wants it for reads too
  if (tokenInput.value) headers.Authorization = 'Bearer ' + tokenInput.value;
  const res = await fetch('/api' + path, { ...opts, headers });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? `${body.error.status} ${body.error.code}: ${body.error.message}` : res.statusText);
  return body;
}

function fail(e) {
  main.insertAdjacentHTML('beforeend', `<p class="err">${esc(e.message || e)}</p>`);
}

// ---- numbers for people -----------------------------------------------------------------------
function fmtBytes(n) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  n = Number(n);
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return i ? `${n.toFixed(1)} ${u[i]}` : `${n} ${u[i]}`;
}
// a number in at most 4 significant digits, as people write it (1.5e+6 -> 1.5e6)
// (integers as they are, up to 15 digits: an id or a timestamp must not lose its digits)
const fmtNum = (v) => (v === null || v === undefined ? ''
  : Number.isInteger(Number(v)) && Math.abs(v) < 1e15 ? String(Number(v))
  : Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? Number(v).toExponential(2).replace('e+', 'e')
  : String(+Number(v).toPrecision(4)));
// TICKS nice values covering [lo, hi]
function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw)), step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// ---- colours --------------------------------------------------------------------------------
// A perceptual dark-blue -> teal -> yellow ramp (viridis-like), and a diverging blue -> white ->
// red one for data around zero; t in [0, 1].
const MAPS = {
  viridis: [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
  diverging: [[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]],
};
const RAMP = MAPS.viridis;
function colour(t, ramp = RAMP) {
  t = Math.min(1, Math.max(0, t));
  const x = t * (ramp.length - 1), i = Math.min(ramp.length - 2, Math.floor(x)), f = x - i;
  return ramp[i].map((a, k) => Math.round(a + f * (ramp[i + 1][k] - a)));
}

// ---- drawing --------------------------------------------------------------------------------
// Plots keep margins for their axes: the area inside is where data are drawn.
const HIST = { left: 56, right: 16, top: 22, bottom: 30 };
function axes(g, w, h, m, xt, yt, xs, ys) {
  g.strokeStyle = '#888'; g.fillStyle = '#222'; g.font = '11px sans-serif'; g.lineWidth = 1;
  g.beginPath(); g.moveTo(m.left - 0.5, m.top); g.lineTo(m.left - 0.5, h - m.bottom + 0.5); g.lineTo(w - m.right, h - m.bottom + 0.5); g.stroke();
  g.textAlign = 'center';
  xt.forEach((v) => { const x = xs(v); g.fillRect(x, h - m.bottom, 1, 4); g.fillText(fmtNum(v), x, h - m.bottom + 15); });
  g.textAlign = 'right';
  yt.forEach((v) => { const y = ys(v); g.fillRect(m.left - 4, y, 4, 1); g.fillText(fmtNum(v), m.left - 6, y + 4); });
  g.textAlign = 'left';
}

function drawHistogram(canvas, stats) {
  const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height, m = HIST;
  g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
  const hist = stats.histogram, top = Math.max(1, ...hist), bw = (w - m.left - m.right) / hist.length;
  const ih = h - m.top - m.bottom, lo = stats.min ?? 0, hi = stats.max ?? 0;
  g.fillStyle = 'rgb(59,82,139)';
  hist.forEach((c, i) => {
    const bh = ih * c / top;
    g.fillRect(m.left + i * bw + 1, h - m.bottom - bh, bw - 2, bh);
  });
  const xs = (v) => m.left + (hi > lo ? (v - lo) / (hi - lo) : 0) * (w - m.left - m.right);
  axes(g, w, h, m, ticks(lo, hi), ticks(0, top, 4), xs, (c) => h - m.bottom - ih * c / top);
  g.fillStyle = '#222';
  g.fillText(`n=${stats.count} mean=${fmtNum(stats.mean)} std=${fmtNum(stats.std)}   (rows per bin)`, m.left, 14);
  canvas.onmousemove = (e) => {
    const i = Math.floor((e.offsetX - m.left) / bw);
    if (i < 0 || i >= hist.length) return;
    const b0 = lo + (hi - lo) * i / hist.length, b1 = lo + (hi - lo) * (i + 1) / hist.length;
    statusBar.textContent = `bin ${i}: [${fmtNum(b0)}, ${fmtNum(b1)}${i === hist.length - 1 ? ']' : ')'}: ${hist[i]} rows`;
  };
}

function drawLine(canvas, values, x0 = 0) {
  const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height, m = HIST;
  g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
  const vs = values.filter((v) => v !== null && Number.isFinite(+v)).map(Number);
  const lo = Math.min(...vs), hi = Math.max(...vs), span = hi > lo ? hi - lo : 1, n = Math.max(1, values.length - 1);
  const xs = (i) => m.left + (w - m.left - m.right) * (i - x0) / n, ys = (v) => h - m.bottom - (h - m.top - m.bottom) * (v - lo) / span;
  g.strokeStyle = 'rgb(33,145,140)'; g.lineWidth = 1.5; g.beginPath();
  let on = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(+v)) { on = false; return; }
    on ? g.lineTo(xs(x0 + i), ys(+v)) : g.moveTo(xs(x0 + i), ys(+v));
    on = true;
  });
  g.stroke();
  axes(g, w, h, m, ticks(x0, x0 + n), ticks(lo, hi, 4), xs, ys);
  g.fillStyle = '#222'; g.fillText('value by row', m.left, 14);
  canvas.onmousemove = (e) => {
    const i = Math.round((e.offsetX - m.left) / (w - m.left - m.right) * n);
    if (i >= 0 && i < values.length) statusBar.textContent = `row ${x0 + i}: ${values[i]}`;
  };
}

// A heat map of a 2-D grid (row-major DATA of ROWS x COLS cells, each STEP elements of the slice
// from (R0, C0)) with index axes and a colour bar on the right. O: {map, scale, lo, hi}.
const HEAT = { left: 52, top: 8, right: 104, bottom: 30 };
const HEAT_BAR = HEAT.right; // (for older tests: the map is narrower than the canvas by this)
function heatT(v, o) {
  if (o.scale === 'log' && o.lo > 0) return Math.log(v / o.lo) / Math.log(o.hi / o.lo || 2);
  return (v - o.lo) / (o.hi > o.lo ? o.hi - o.lo : 1);
}
function drawHeat(canvas, grid, o) {
  const g = canvas.getContext('2d'), m = HEAT, cw = canvas.width, ch = canvas.height;
  const w = cw - m.left - m.right, h = ch - m.top - m.bottom, ramp = MAPS[o.map] || RAMP;
  g.fillStyle = '#fff'; g.fillRect(0, 0, cw, ch);
  const img = g.createImageData(w, h), { rows, cols, data } = grid;
  for (let y = 0; y < h; y++) {
    const r = Math.min(rows - 1, Math.floor(y * rows / h));
    for (let x = 0; x < w; x++) {
      const v = data[r * cols + Math.min(cols - 1, Math.floor(x * cols / w))];
      const [R, G, B] = v === null ? [255, 255, 255] : colour(heatT(v, o), ramp);
      const k = 4 * (y * w + x);
      img.data[k] = R; img.data[k + 1] = G; img.data[k + 2] = B; img.data[k + 3] = 255;
    }
  }
  g.putImageData(img, m.left, m.top);
  // index axes: rows down the left, columns along the bottom
  const rs = (i) => m.top + (i - grid.r0) * h / (rows * grid.sr), cs = (j) => m.left + (j - grid.c0) * w / (cols * grid.sc);
  axes(g, cw, ch, m, ticks(grid.c0, grid.c0 + cols * grid.sc - 1).filter((j) => j === Math.round(j)),
       ticks(grid.r0, grid.r0 + rows * grid.sr - 1).filter((i) => i === Math.round(i)), cs, rs);
  // the colour bar with its ticks (log: the ticks of the data's range, placed on the log scale)
  const bx = m.left + w + 10;
  for (let y = 0; y < h; y++) {
    const [R, G, B] = colour(1 - y / (h - 1), ramp);
    g.fillStyle = `rgb(${R},${G},${B})`; g.fillRect(bx, m.top + y, 14, 1);
  }
  g.fillStyle = '#222'; g.font = '11px sans-serif'; g.textAlign = 'left';
  // the ends, and the nice ticks between that are not too close to them (labels 14 px apart)
  const ypos = (v) => m.top + (1 - Math.min(1, Math.max(0, heatT(v, o)))) * (h - 1);
  const inner = ticks(o.lo, o.hi, 4).filter((v) => v > o.lo && v < o.hi && ypos(v) - ypos(o.hi) > 14 && ypos(o.lo) - ypos(v) > 14);
  const tv = o.hi > o.lo ? [o.lo, ...inner, o.hi] : [o.lo];
  tv.forEach((v) => {
    const y = ypos(v);
    g.fillRect(bx + 14, y, 4, 1);
    g.fillText(fmtNum(v), bx + 20, Math.min(ch - 4, Math.max(m.top + 9, y + 4)));
  });
}

// ---- views ----------------------------------------------------------------------------------
async function viewRegions() {
  const d = await api('/regions');
  main.innerHTML = '<h2>Regions</h2><div class="cards">' + d.regions.map((r) =>
    `<a class="card region" href="#/region/${enc(r.name)}"><b>${esc(r.name)}</b><br>${plural(r.datasets, 'dataset')}, ${plural(r.arrays, 'N-d array')}, ${plural(r.plain ?? 0, 'array')}</a>`).join('') + '</div>';
}

async function viewRegion(region) {
  const d = await api(`/regions/${enc(region)}/datasets`);
  const runs = await api(`/apps/${enc(region)}/runs`).catch(() => null); // an application's region
  const none = (what) => `<p class="none">no ${what}</p>`;
  main.innerHTML = `<h2>Region ${esc(region)}</h2><h3>Datasets</h3>
    ${d.datasets.length ? `<table><tr><th class="l">name</th><th>rows</th><th>batches</th><th>version</th><th>bytes</th><th class="l">columns</th></tr>
    ${d.datasets.map((s) => `<tr><td class="l"><a class="dataset" href="#/dataset/${enc(region)}/${enc(s.name)}">${esc(s.name)}</a></td><td>${s.rows}</td><td>${s.batches}</td><td>${s.version}</td><td>${fmtBytes(s.bytes)}</td><td class="l">${s.columns.map((c) => esc(c.name + ':' + c.dtype)).join(', ')}</td></tr>`).join('')}</table>` : none('datasets')}
    <h3>N-d arrays</h3>
    ${d.arrays.length ? `<table><tr><th class="l">name</th><th class="l">dtype</th><th class="l">shape</th><th>bytes</th></tr>
    ${d.arrays.map((a) => `<tr><td class="l"><a class="array" href="#/array/${enc(region)}/${enc(a.name)}">${esc(a.name)}</a></td><td class="l">${a.dtype}</td><td class="l">${a.dims.join(' × ')}</td><td>${fmtBytes(a.bytes)}</td></tr>`).join('')}</table>` : none('N-d arrays')}
    <h3>Arrays</h3>
    ${runs ? `<h3>Runs</h3><table id="runs"><tr><th>run</th><th class="l">status</th><th>processes</th><th class="l">attributes</th></tr>
    ${runs.runs.map((x) => `<tr><td><a class="run" href="#/run/${enc(region)}/${x.run}">${x.run}</a></td><td class="l">${esc(x.status)}</td><td>${x.nprocs}</td><td class="l">${Object.entries(x.attrs).map(([k, v]) => esc(`${k}=${v}`)).join(', ')}</td></tr>`).join('')}</table>` : ''}
    ${(d.plain || []).length ? `<table id="plain"><tr><th class="l">name</th><th class="l">dtype</th><th>length</th><th>bytes</th></tr>
    ${d.plain.map((a) => `<tr><td class="l"><a class="plain" href="#/plain/${enc(region)}/${enc(a.name)}">${esc(a.name)}</a></td><td class="l">${a.dtype}</td><td>${a.length}</td><td>${fmtBytes(a.bytes)}</td></tr>`).join('')}</table>` : none('arrays')}`;
}

// The lineage as a layered graph, left to right: a dataset's layer is one more than that of
// everything it reads; a node's incoming edges are labelled in a column left of it, one line
// each, with what the edge does; nodes link to their datasets; stale ones are orange.
const truncate = (t, n) => (t.length > n ? t.slice(0, n - 1) + '…' : t);
function lineageSvg(d) {
  const key = (r, n) => r + '/' + n, nodes = new Map(), edges = [];
  nodes.set(key(d.region, d.name), { fresh: true, computed: true });
  d.lineage.forEach((l) => {
    const k = key(l.region, l.name);
    if (l.src_name && !nodes.has(key(l.src_region, l.src_name))) nodes.set(key(l.src_region, l.src_name), { fresh: true, computed: true });
    const n = nodes.get(k) ?? { fresh: true, computed: true };
    n.fresh = n.fresh && l.fresh;
    n.computed = n.computed && l.computed !== false;
    nodes.set(k, n);
    if (l.src_name) {
      const what = l.column ? `${l.op} .${l.column}` : `${l.op} ${l.args}`.trim();
      edges.push({ a: key(l.src_region, l.src_name), b: k, label: what, fresh: l.fresh });
    }
  });
  // layers: longest path from a source
  const layer = new Map([...nodes.keys()].map((n) => [n, 0]));
  for (let pass = 0; pass < nodes.size; pass++)
    edges.forEach((e) => { if (e.a !== e.b && layer.get(e.b) <= layer.get(e.a)) layer.set(e.b, layer.get(e.a) + 1); });
  const into = new Map([...nodes.keys()].map((n) => [n, edges.filter((e) => e.b === n && e.a !== n)]));
  const NODE_W = 170, LABEL_W = 170, LINE = 14, cols = Math.max(...layer.values()) + 1, pos = new Map();
  let H = 0;
  for (let c = 0; c < cols; c++) {
    let y = 10;
    [...nodes.keys()].filter((n) => layer.get(n) === c).forEach((n) => {
      const block = Math.max(26, LINE * into.get(n).length + 8);
      pos.set(n, [10 + c * (NODE_W + LABEL_W), y, block]);
      y += block + 14;
    });
    H = Math.max(H, y);
  }
  const W = 20 + cols * (NODE_W + LABEL_W);
  let s = `<svg id="lineage" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" font-size="11">`;
  nodes.forEach((_, n) => {
    const [x, y, block] = pos.get(n);
    into.get(n).forEach((e, k) => {
      const [xa, ya, ba] = pos.get(e.a), ly = y + 12 + LINE * k, colr = e.fresh ? '#080' : '#b60';
      s += `<path d="M${xa + NODE_W} ${ya + ba / 2} C${xa + NODE_W + 40} ${ya + ba / 2} ${x - LABEL_W - 10} ${ly - 4} ${x - LABEL_W + 2} ${ly - 4} L${x} ${ly - 4}" fill="none" stroke="${colr}"/>`;
      s += `<text class="edge" x="${x - 4}" y="${ly - 6}" text-anchor="end"><title>${esc(e.label)}</title>${esc(truncate(e.label, 26))}</text>`;
    });
    const st = nodes.get(n), fresh = st.fresh, [r, ...rest] = n.split('/');
    const mark = !st.computed ? ' (never computed)' : fresh ? '' : ' (stale)';
    s += `<a href="#/dataset/${enc(r)}/${enc(rest.join('/'))}"><rect x="${x}" y="${y + (block - 24) / 2}" width="${NODE_W}" height="24" rx="4" fill="${fresh ? '#e8f5e8' : '#fdebd0'}" stroke="${fresh ? '#080' : '#b60'}"/>`;
    s += `<text class="node" x="${x + 6}" y="${y + (block - 24) / 2 + 16}"><title>${esc(n + mark)}</title>${esc(truncate(n + mark, 27))}</text></a>`;
  });
  return s + '</svg>';
}

async function viewDataset(region, name, asOf = 0) {
  const q = asOf ? `?as_of=${asOf}` : '', qa = asOf ? `&as_of=${asOf}` : '';
  const d = await api(`/datasets/${enc(region)}/${enc(name)}${q}`);
  const numeric = d.columns.filter((c) => c.dtype !== 'str');
  main.innerHTML = `<h2>Dataset ${esc(region)}/${esc(name)}</h2>
    <p>version <select id="asof">${d.versions.slice().reverse().map((v) => `<option value="${v.version}" ${v.version === d.version ? 'selected' : ''}>${v.version}${v.version === d.versions[d.versions.length - 1].version ? ' (latest)' : ''}</option>`).join('')}</select>,
    ${d.rows} rows in ${plural(d.batches, 'batch')}, ${fmtBytes(d.bytes)}</p>
    <h3>Schema</h3><table id="schema"><tr><th class="l">column</th><th class="l">dtype</th><th class="l">ready</th></tr>
    ${d.columns.map((c) => `<tr><td class="l">${esc(c.name)}</td><td class="l">${c.dtype}</td><td class="l ${c.ready ? 'fresh' : 'stale'}">${c.ready ? 'yes' : 'not computed: run an update'}</td></tr>`).join('')}</table>
    <h3>Rows</h3><div id="rows"></div>
    <h3>Look</h3>
    <label>column <select id="hcol">${numeric.map((c) => `<option>${esc(c.name)}</option>`).join('')}</select></label>
    <button id="hist">histogram</button> <button id="line">line plot (this page)</button>
    <a id="npy" href="#">download the column (NPY)</a><br>
    <canvas id="plot" width="640" height="260"></canvas>
    <h3>Batches</h3><table><tr><th>seq</th><th>first row</th><th>rows</th><th>version</th><th class="l">min … max</th></tr>
    ${d.batch_list.map((b) => `<tr><td>${b.seq}</td><td>${b.first_row}</td><td>${b.rows}</td><td>${b.version}</td><td class="l">${Object.entries(b.stats).filter(([, v]) => 'min' in v).map(([k, v]) => `${esc(k)} ${fmtNum(v.min)}…${fmtNum(v.max)}`).join('; ')}</td></tr>`).join('')}</table>
    <h3>Versions</h3><table><tr><th>version</th><th>batches added</th><th>rows added</th><th>total rows</th></tr>
    ${d.versions.map((v) => `<tr><td>${v.version}</td><td>${v.batches_added}</td><td>${v.rows_added}</td><td>${v.total_rows}</td></tr>`).join('')}</table>
    <h3>Lineage</h3><div class="scroll">${d.lineage.length ? lineageSvg(d) : '<p>not derived, and nothing derives from it</p>'}</div>
    <h3>Code</h3><div id="code"></div>`;
  document.getElementById('asof').onchange = (e) => {
    const v = +e.target.value, latest = d.versions[d.versions.length - 1].version;
    viewDataset(region, name, v === latest ? 0 : v).catch(fail);
  };
  let pageRows = null, sortBy = -1, desc = false;
  // each column's range over the batches, for the head of the row table
  const range = new Map();
  d.batch_list.forEach((b) => Object.entries(b.stats).forEach(([k, v]) => {
    if (!('min' in v)) return;
    const r = range.get(k);
    range.set(k, r ? [Math.min(r[0], v.min), Math.max(r[1], v.max)] : [v.min, v.max]);
  }));
  const headStats = (c) => (range.has(c.name) ? `${fmtNum(range.get(c.name)[0])} … ${fmtNum(range.get(c.name)[1])}` : '');
  const drawRows = (off, p) => {
    const order = p.rows.map((_, i) => i);
    if (sortBy >= 0) order.sort((i, j) => {
      const a = p.rows[i][sortBy], b = p.rows[j][sortBy];
      const c = a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
      return desc ? -c : c;
    });
    document.getElementById('rows').innerHTML = `<div class="scroll"><table id="rowtable"><tr><th>#</th>${p.columns.map((c, k) => `<th class="sort ${c.ready === false ? 'stale' : ''}" data-k="${k}" title="${c.ready === false ? 'not computed for every batch yet: run an update' : 'sort this page'}">${esc(c.name)}${c.ready === false ? ' (not computed)' : ''}${k === sortBy ? (desc ? ' ▼' : ' ▲') : ''}</th>`).join('')}</tr>
      <tr class="colstats"><td>min … max</td>${p.columns.map((c) => `<td>${headStats(c)}</td>`).join('')}</tr>
      ${order.map((i) => `<tr><td>${off + i}</td>${p.rows[i].map((v) => `<td>${v === null ? '' : esc(v)}</td>`).join('')}</tr>`).join('')}</table></div>
      <button id="prev" ${off === 0 ? 'disabled' : ''}>previous</button> rows ${off}–${off + p.rows.length - 1} of ${p.total}
      <button id="next" ${off + 20 >= p.total ? 'disabled' : ''}>next</button> <a id="csv" href="#">download this page (CSV)</a>,
      the dataset as <a id="parquet" href="/api/datasets/${enc(region)}/${enc(name)}/export?format=parquet${qa}">Parquet</a>
      or <a id="arrow" href="/api/datasets/${enc(region)}/${enc(name)}/export?format=arrow${qa}">Arrow</a>`;
    document.querySelectorAll('#rowtable th.sort').forEach((th) => { th.onclick = () => { const k = +th.dataset.k; desc = k === sortBy ? !desc : false; sortBy = k; drawRows(off, p); }; });
    document.getElementById('prev').onclick = () => showRows(Math.max(0, off - 20)).catch(fail);
    document.getElementById('next').onclick = () => showRows(off + 20).catch(fail);
    document.getElementById('csv').onclick = (e) => {
      e.preventDefault();
      const cell = (v) => (v === null ? '' : /[",\n\r]/.test(String(v)) ? '"' + String(v).replaceAll('"', '""') + '"' : String(v));
      const text = [p.columns.map((c) => cell(c.name)).join(','), ...p.rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      a.download = `${name}-${off}.csv`;
      a.click();
    };
  };
  const showRows = async (off) => {
    const p = await api(`/datasets/${enc(region)}/${enc(name)}/rows?offset=${off}&limit=20${qa}`);
    pageRows = p;
    drawRows(off, p);
  };
  await showRows(0);
  const npyLink = () => {
    const c = document.getElementById('hcol').value;
    document.getElementById('npy').href = `/api/datasets/${enc(region)}/${enc(name)}/columns/${enc(c)}?format=npy${qa}`;
  };
  npyLink();
  document.getElementById('hist').onclick = async () => {
    const c = document.getElementById('hcol').value;
    const st = await api(`/datasets/${enc(region)}/${enc(name)}/columns/${enc(c)}/stats${q}`).catch(fail);
    if (st) drawHistogram(document.getElementById('plot'), st);
  };
  document.getElementById('line').onclick = () => {
    const c = document.getElementById('hcol').value, k = pageRows.columns.findIndex((x) => x.name === c);
    drawLine(document.getElementById('plot'), pageRows.rows.map((r) => r[k]), pageRows.offset);
  };
  document.getElementById('hcol').onchange = () => {
    npyLink();
    showCode(region, name, `&column=${enc(document.getElementById('hcol').value)}`).catch(fail);
  };
  await showCode(region, name);
}

async function viewPlain(region, name, off = 0) {
  const a = await api(`/plain/${enc(region)}/${enc(name)}`);
  main.innerHTML = `<h2>Array ${esc(region)}/${esc(name)}</h2>
    <p>${a.dtype}, ${a.length} elements, ${fmtBytes(a.bytes)}</p>
    <h3>Values</h3><div id="values"></div>
    ${a.dtype !== 'str' ? `<h3>Look</h3><button id="hist">histogram</button> <button id="line">line plot (this page)</button><br>
    <canvas id="plot" width="640" height="260"></canvas>` : ''}
    <h3>Code</h3><div id="code"></div>`;
  let page = null;
  const show = async (o) => {
    if (a.dtype === 'str') { document.getElementById('values').innerHTML = '<p>(strings: read them with the C or Python snippet)</p>'; return; }
    page = await api(`/plain/${enc(region)}/${enc(name)}/values?start=${o}&count=100`);
    document.getElementById('values').innerHTML = `<div class="scroll"><table id="valtable"><tr><th>index</th><th>value</th></tr>
      ${page.data.map((v, i) => `<tr><td>${o + i}</td><td>${v === null ? '' : esc(v)}</td></tr>`).join('')}</table></div>
      <button id="prev" ${o === 0 ? 'disabled' : ''}>previous</button> ${o}–${o + page.data.length - 1} of ${a.length}
      <button id="next" ${o + 100 >= a.length ? 'disabled' : ''}>next</button>`;
    document.getElementById('prev').onclick = () => show(Math.max(0, o - 100)).catch(fail);
    document.getElementById('next').onclick = () => show(o + 100).catch(fail);
  };
  await show(off);
  if (a.dtype !== 'str') {
    document.getElementById('hist').onclick = async () => {
      const st = await api(`/plain/${enc(region)}/${enc(name)}/stats`).catch(fail);
      if (st) drawHistogram(document.getElementById('plot'), st);
    };
    document.getElementById('line').onclick = () => drawLine(document.getElementById('plot'), page.data, page.start);
  }
  await showCode(region, name);
}

// The snippets of an object; EXTRA narrows them: '&column=C' (a dataset's column),
// '&start=..&count=..' (a region of an array).
async function showCode(region, name, extra = '') {
  const el = document.getElementById('code');
  if (!el) return;
  const [c, sh, py] = await Promise.all(['c', 'shell', 'python'].map((l) => api(`/codegen/${enc(region)}/${enc(name)}?lang=${l}${extra}`)));
  el.innerHTML = `${extra ? `<p>for ${esc(decodeURIComponent(extra.slice(1)).replaceAll('&', ', '))}</p>` : ''}<button id="copy-c">copy C</button> <button id="copy-shell">copy shell</button> <button id="copy-python">copy Python</button>
    <pre class="code" id="code-c">${esc(c.code)}</pre><pre class="code" id="code-shell">${esc(sh.code)}</pre><pre class="code" id="code-python">${esc(py.code)}</pre>`;
  const copy = (text) => (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject(new Error('no clipboard')))
    .then(() => { statusBar.textContent = 'copied'; }, () => { statusBar.textContent = 'select the text to copy it'; });
  document.getElementById('copy-c').onclick = () => copy(c.code);
  document.getElementById('copy-shell').onclick = () => copy(sh.code);
  document.getElementById('copy-python').onclick = () => copy(py.code);
}

// A 2-D slice of an N-d array as a heat map: the server reduces it to the canvas (the mean of
// each cell's elements, computed from the chunks the slice needs), and a zoom reads the smaller
// region again, at full resolution once it fits. A slider picks the step of the first dimension.
async function viewArray(region, name) {
  const a = await api(`/arrays/${enc(region)}/${enc(name)}`);
  const nd = a.dims.length, lead = nd > 2 ? nd - 2 : 0;
  const narrow = window.innerWidth < 700, cw = narrow ? Math.max(320, window.innerWidth - 40) : 720, chh = narrow ? 360 : 520;
  main.innerHTML = `<h2>N-d array ${esc(region)}/${esc(name)}</h2>
    <p>${a.dtype}, shape ${a.dims.join(' × ')}, ${a.layout}${a.layout === 'chunked' ? ' (chunks ' + a.chunk.join(' × ') + ')' : ''}, tier ${esc(a.tier)}, ${fmtBytes(a.bytes)}</p>
    <h3>Heat map</h3>
    <form id="slice">${lead ? `<label>step <input id="step" name="i0" type="range" min="0" max="${a.dims[0] - 1}" value="0"> <output id="stepv">0</output> of ${a.dims[0] - 1}</label>` : ''}
    ${a.dims.slice(1, lead).map((d, k) => `<label>index ${k + 1} <input name="i${k + 1}" type="number" min="0" max="${d - 1}" value="0"></label>`).join('')}
    <label>rows <input name="r0" type="number" min="0" value="0"> + <input name="rn" type="number" min="1" value="${a.dims[nd - 2] ?? 1}"></label>
    <label>columns <input name="c0" type="number" min="0" value="0"> + <input name="cn" type="number" min="1" value="${a.dims[nd - 1]}"></label>
    <label>colours <select name="map"><option>viridis</option><option>diverging</option></select></label>
    <label>scale <select name="scale"><option>linear</option><option>log</option></select></label>
    <button>draw</button> <button type="button" id="reset">whole slice</button></form>
    <p>drag on the map to zoom into a region (read again, at full resolution once it fits); hover for values</p>
    <canvas id="heat" width="${cw}" height="${chh}"></canvas>
    <h3>Code</h3><div id="code"></div>`;
  const form = document.getElementById('slice'), canvas = document.getElementById('heat');
  const mw = canvas.width - HEAT.left - HEAT.right, mh = canvas.height - HEAT.top - HEAT.bottom;
  let shown = null, grid = null;
  const draw = async () => {
    const f = new FormData(form), ix = [];
    for (let k = 0; k < lead; k++) ix.push(+f.get('i' + k));
    const r0 = +f.get('r0'), rn = +f.get('rn'), c0 = +f.get('c0'), cn = +f.get('cn');
    const start = [...ix, ...(nd >= 2 ? [r0] : []), c0].join(','), count = [...ix.map(() => 1), ...(nd >= 2 ? [rn] : []), cn].join(',');
    const t0 = performance.now();
    const [pv, st] = await Promise.all([
      api(`/arrays/${enc(region)}/${enc(name)}/preview?start=${start}&count=${count}&width=${mw}&height=${mh}&reduce=mean`),
      api(`/arrays/${enc(region)}/${enc(name)}/stats?start=${start}&count=${count}`)]);
    shown = { r0: nd >= 2 ? r0 : 0, rn: nd >= 2 ? rn : 1, c0, cn };
    grid = { rows: pv.shape[0], cols: pv.shape[1], data: pv.data, r0: shown.r0, c0, sr: pv.step[0], sc: pv.step[1] };
    const scale = f.get('scale'), o = { map: f.get('map'), scale, lo: st.min, hi: st.max };
    drawHeat(canvas, grid, o);
    canvas.dataset.drawn = String(Math.round(performance.now() - t0));
    const res = pv.step[0] > 1 || pv.step[1] > 1 ? `, shown as the mean of ${pv.step[0]} × ${pv.step[1]} elements per cell` : '';
    statusBar.textContent = `region start ${start} count ${count}: min ${st.min} max ${st.max} mean ${fmtNum(st.mean)}${res}${scale === 'log' && !(st.min > 0) ? ' (log scale needs positive values: linear)' : ''}`;
    const whole = start.split(',').every((v) => v === '0') && count === a.dims.join(',');
    await showCode(region, name, whole ? '' : `&start=${start}&count=${count}`);
  };
  form.onsubmit = (e) => { e.preventDefault(); draw().catch(fail); };
  form.querySelectorAll('select').forEach((el) => { el.onchange = () => draw().catch(fail); });
  const step = document.getElementById('step');
  if (step) step.oninput = () => { document.getElementById('stepv').textContent = step.value; };
  if (step) step.onchange = () => draw().catch(fail);
  document.getElementById('reset').onclick = () => {
    form.r0.value = 0; form.c0.value = 0; form.rn.value = a.dims[nd - 2] ?? 1; form.cn.value = a.dims[nd - 1];
    draw().catch(fail);
  };
  const cellAt = (x, y) => (grid && x >= HEAT.left && x < HEAT.left + mw && y >= HEAT.top && y < HEAT.top + mh
    ? [Math.floor((y - HEAT.top) * grid.rows / mh), Math.floor((x - HEAT.left) * grid.cols / mw)] : null);
  canvas.onmousemove = (e) => {
    const c = cellAt(e.offsetX, e.offsetY);
    if (!c) return;
    const v = grid.data[c[0] * grid.cols + c[1]], i = grid.r0 + c[0] * grid.sr, j = grid.c0 + c[1] * grid.sc;
    statusBar.textContent = grid.sr > 1 || grid.sc > 1
      ? `rows ${i}–${i + grid.sr - 1}, columns ${j}–${j + grid.sc - 1}: mean ${fmtNum(v)}`
      : `row ${i}, column ${j}: ${v}`;
  };
  let from = null;
  canvas.onmousedown = (e) => { from = [e.offsetX, e.offsetY]; };
  canvas.onmouseup = (e) => {
    if (!from || !shown) return;
    const x0 = Math.max(HEAT.left, Math.min(from[0], e.offsetX)) - HEAT.left, x1 = Math.min(HEAT.left + mw, Math.max(from[0], e.offsetX)) - HEAT.left;
    const y0 = Math.max(HEAT.top, Math.min(from[1], e.offsetY)) - HEAT.top, y1 = Math.min(HEAT.top + mh, Math.max(from[1], e.offsetY)) - HEAT.top;
    from = null;
    if (x1 - x0 < 4 || y1 - y0 < 4) return;
    form.c0.value = shown.c0 + Math.floor(x0 * shown.cn / mw); form.cn.value = Math.max(1, Math.ceil((x1 - x0) * shown.cn / mw));
    form.r0.value = shown.r0 + Math.floor(y0 * shown.rn / mh); form.rn.value = Math.max(1, Math.ceil((y1 - y0) * shown.rn / mh));
    draw().catch(fail);
  };
  await draw();
}

// A run of an application: its attributes, what it saved (each dataset's statistics across its
// saved iterations as a small plot of min, mean and max), and the I/O planner's choice for a
// read of one of them (explain).
async function viewRun(app, run) {
  const [rs, found] = await Promise.all([api(`/apps/${enc(app)}/runs?where=${enc('run = ' + run)}`),
    api(`/find?app=${enc(app)}&where=${enc('run = ' + run)}`)]);
  const r = rs.runs[0];
  if (!r) throw new Error(`404 ENOTFOUND: application ${app} has no run ${run}`);
  const by = new Map();
  found.results.forEach((x) => { if (!by.has(x.dataset)) by.set(x.dataset, []); by.get(x.dataset).push(x); });
  const dsets = [...by.keys()];
  main.innerHTML = `<h2>Run ${esc(app)}/${run}</h2>
    <p>${esc(r.status)}, ${plural(r.nprocs, 'process')}, by ${esc(r.user || '?')} on ${esc(r.host || '?')}, started ${new Date(r.started_ns / 1e6).toISOString()}</p>
    <h3>Attributes</h3><table id="attrs">${Object.entries(r.attrs).map(([k, v]) => `<tr><th class="l">${esc(k)}</th><td class="l">${esc(v)}</td></tr>`).join('')}</table>
    <h3>Saved datasets</h3>${dsets.length ? '' : '<p class="none">nothing saved</p>'}
    ${dsets.map((d, i) => `<h4>${esc(d)}: ${plural(by.get(d).length, 'iteration')}</h4><canvas class="spark" id="spark${i}" width="420" height="140"></canvas>
      <table><tr><th>iteration</th><th>min</th><th>mean</th><th>max</th><th>std</th><th>bytes</th><th class="l">strategy</th><th class="l">array</th></tr>
      ${by.get(d).map((x) => `<tr><td>${x.iteration}</td><td>${fmtNum(x.min)}</td><td>${fmtNum(x.mean)}</td><td>${fmtNum(x.max)}</td><td>${fmtNum(x.std)}</td><td>${fmtBytes(x.bytes)}</td><td class="l">${esc(x.strategy)}</td><td class="l"><a href="#/array/${enc(x.app)}/${enc(x.array)}">${esc(x.array)}</a></td></tr>`).join('')}</table>`).join('')}
    <h3>Explain a read</h3>
    <form id="explain"><label>dataset <select name="dataset">${dsets.map((d) => `<option>${esc(d)}</option>`).join('')}</select></label>
      <label>pattern <input name="pattern" value="(BLOCK,BLOCK,*)"></label> <label>processes <input name="procs" type="number" min="1" value="4"></label>
      <button>explain</button></form><div id="plan"></div>`;
  dsets.forEach((d, i) => {
    const xs = by.get(d).slice().sort((a, b) => a.iteration - b.iteration), c = document.getElementById('spark' + i);
    const g = c.getContext('2d'), m = HIST, w = c.width, h = c.height;
    g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
    const lo = Math.min(...xs.map((x) => x.min)), hi = Math.max(...xs.map((x) => x.max)), span = hi > lo ? hi - lo : 1;
    const i0 = xs[0].iteration, i1 = xs[xs.length - 1].iteration;
    const px = (it) => m.left + (w - m.left - m.right) * (i1 > i0 ? (it - i0) / (i1 - i0) : 0.5);
    const py = (v) => h - m.bottom - (h - m.top - m.bottom) * (v - lo) / span;
    [['min', '#3b528b'], ['mean', '#21918c'], ['max', '#b60']].forEach(([k, col]) => {
      g.strokeStyle = col; g.beginPath();
      xs.forEach((x, j) => (j ? g.lineTo(px(x.iteration), py(x[k])) : g.moveTo(px(x.iteration), py(x[k]))));
      g.stroke();
      xs.forEach((x) => { g.fillStyle = col; g.fillRect(px(x.iteration) - 1.5, py(x[k]) - 1.5, 3, 3); });
    });
    axes(g, w, h, m, ticks(i0, i1, 4).filter((v) => v === Math.round(v)), ticks(lo, hi, 3), px, py);
    g.fillStyle = '#222'; g.fillText('min, mean, max by iteration', m.left, 14);
  });
  document.getElementById('explain').onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const p = await api(`/explain?app=${enc(app)}&run=${run}&dataset=${enc(f.get('dataset'))}&pattern=${enc(f.get('pattern'))}&procs=${+f.get('procs')}`).catch(fail);
    if (p) document.getElementById('plan').innerHTML = `<table id="plantable"><tr><th class="l">strategy</th><td class="l"><b>${esc(p.strategy)}</b>${p.prefetch ? ', prefetch' : ''}${p.prestage ? ', prestage' : ''}</td></tr>
      <tr><th class="l">why</th><td class="l">${esc(p.reason)}</td></tr><tr><th class="l">requests</th><td class="l">${p.requests}</td></tr>
      <tr><th class="l">bytes read / useful</th><td class="l">${fmtBytes(p.bytes)} / ${fmtBytes(p.useful)}</td></tr><tr><th class="l">estimate</th><td class="l">${fmtNum(p.estimate)} s</td></tr></table>`;
  };
}

// Storage tiers: capacity, what is used (a bar), files and staged copies.
async function viewTiers() {
  const d = await api('/tiers');
  // what lives on each tier: the N-d arrays whose data goes there (datasets and plain arrays
  // live on the pool's own tier, default, unless migrated batch by batch)
  const regions = (await api('/regions')).regions;
  const lists = await Promise.all(regions.map((r) => api(`/regions/${enc(r.name)}/datasets`)));
  const lives = new Map(d.tiers.map((t) => [t.name, []]));
  lists.forEach((l) => l.arrays.forEach((a) => lives.get(a.tier)?.push(`<a href="#/array/${enc(l.region)}/${enc(a.name)}">${esc(l.region + '/' + a.name)}</a>`)));
  main.innerHTML = `<h2>Storage tiers</h2><div class="scroll"><table id="tiers"><tr><th class="l">tier</th><th class="l">kind</th><th>used</th><th>capacity</th><th class="l"></th><th>files</th><th>staged</th><th class="l">N-d arrays there</th><th class="l">path</th></tr>
    ${d.tiers.map((t) => `<tr><td class="l">${esc(t.name)}</td><td class="l">${esc(t.kind)}</td><td>${fmtBytes(t.used)}</td><td>${t.capacity ? fmtBytes(t.capacity) : 'unlimited'}</td>
      <td class="l">${t.capacity ? `<progress max="1" value="${Math.min(1, t.used / t.capacity)}"></progress>` : ''}</td><td>${t.files}</td><td>${fmtBytes(t.staged)}</td>
      <td class="l">${(lives.get(t.name) || []).join(', ') || '–'}</td><td class="l">${esc(t.path)}</td></tr>`).join('')}</table></div>`;
}

async function viewSearch() {
  const d = await api('/regions');
  main.innerHTML = `<h2>Search</h2>
    <form id="runs"><h3>Runs of an application</h3>
      <label>application <select name="app">${d.regions.map((r) => `<option>${esc(r.name)}</option>`).join('')}</select></label>
      <label>where <input name="where" size="40" placeholder="grid = 512 and iterations > 100"></label> <button>find runs</button></form>
    <form id="find"><h3>Saved datasets</h3>
      <label>application <select name="app">${d.regions.map((r) => `<option>${esc(r.name)}</option>`).join('')}</select></label>
      <label>dataset <input name="dataset" placeholder="temperature"></label>
      <label>where <input name="where" size="40" placeholder="max > 1e6 and iteration >= 100"></label> <button>find datasets</button></form>
    <div id="results"></div>`;
  const out = document.getElementById('results');
  document.getElementById('runs').onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await api(`/apps/${enc(f.get('app'))}/runs?where=${enc(f.get('where'))}`).catch(fail);
    if (!r) return;
    const keys = r.runs.length ? Object.keys(r.runs[0].attrs) : [];
    out.innerHTML = `<table id="result"><tr><th>run</th><th class="l">status</th><th>procs</th>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>
      ${r.runs.map((x) => `<tr><td><a class="run" href="#/run/${enc(f.get('app'))}/${x.run}">${x.run}</a></td><td class="l">${esc(x.status)}</td><td>${x.nprocs}</td>${keys.map((k) => `<td>${esc(x.attrs[k])}</td>`).join('')}</tr>`).join('')}</table><p>${plural(r.runs.length, 'run')}</p>`;
  };
  document.getElementById('find').onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await api(`/find?app=${enc(f.get('app'))}&dataset=${enc(f.get('dataset'))}&where=${enc(f.get('where'))}`).catch(fail);
    if (!r) return;
    out.innerHTML = `<table id="result"><tr><th>run</th><th class="l">dataset</th><th>iteration</th><th>min</th><th>max</th><th>mean</th><th>std</th><th class="l">array</th></tr>
      ${r.results.map((x) => `<tr><td><a href="#/run/${enc(x.app)}/${x.run}">${x.run}</a></td><td class="l">${esc(x.dataset)}</td><td>${x.iteration}</td><td>${x.min.toPrecision(6)}</td><td>${x.max.toPrecision(6)}</td><td>${x.mean.toPrecision(6)}</td><td>${x.std.toPrecision(6)}</td>
      <td class="l"><a href="#/array/${enc(x.app)}/${enc(x.array)}">${esc(x.array)}</a></td></tr>`).join('')}</table><p>${plural(r.results.length, 'saved dataset')}</p>`;
  };
}

async function viewAct() {
  main.innerHTML = `<h2>Act</h2><p>These change the pool: put the token (the pool's serve.token) in the box at the top.</p>
    <form id="derive"><h3>Define a derived dataset</h3>
      <label>region <input name="region" required></label> <label>name <input name="name" required></label>
      <label>from <input name="src_name" required placeholder="parent dataset"></label>
      <label>op <select name="op"><option>filter</option><option>sort</option><option>sort_runs</option><option>topk</option><option>groupby</option></select></label>
      <label>expr <input name="expr" placeholder="fare > 1000"></label> <label>keys <input name="keys"></label> <label>k <input name="k" type="number" min="0"></label>
      <label><input name="desc" type="checkbox"> descending</label> <button>define</button></form>
    <form id="update"><h3>Run an update</h3>
      <label>region <input name="region"></label> <label>name <input name="name"></label> <label><input name="full" type="checkbox"> full</label> <button>update</button>
      <progress id="progress" max="1" value="0"></progress> <span id="job"></span></form>
    <form id="register"><h3>Register an application</h3>
      <label>application <input name="app" required></label>
      <label>attributes <input name="attrs" size="40" placeholder="grid:int, dt:float, label:text"></label> <button>register</button></form>
    <div id="out"></div>`;
  const out = document.getElementById('out');
  const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body) });
  document.getElementById('derive').onsubmit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    const body = { region: f.region, name: f.name, src_name: f.src_name, op: f.op, desc: !!f.desc };
    for (const k of ['expr', 'keys']) if (f[k]) body[k] = f[k];
    if (f.k) body.k = +f.k;
    const r = await post('/derive', body).catch(fail);
    if (r) out.innerHTML = `<p>defined ${esc(r.region)}/${esc(r.name)}: run an update to compute it</p>`;
  };
  document.getElementById('update').onsubmit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target)), body = { full: !!f.full };
    if (f.region) body.region = f.region;
    if (f.name) body.name = f.name;
    let j = await post('/update', body).catch(fail);
    while (j && j.state === 'running') {
      document.getElementById('progress').value = j.total ? j.done / j.total : 0;
      document.getElementById('job').textContent = `${j.object} ${j.done}/${j.total} batches, ${j.rows} rows`;
      await new Promise((ok) => setTimeout(ok, 200));
      j = await api('/jobs/' + j.job).catch(fail);
    }
    if (j) {
      document.getElementById('progress').value = 1;
      const msg = j.message && j.message !== j.state ? ` (${j.message})` : '';
      document.getElementById('job').textContent = `${j.state}${msg}: ${j.stats.incremental} incremental, ${j.stats.refreshed} refreshed, ${j.stats.fresh} fresh, ${j.stats.rows_written} rows written`;
    }
  };
  document.getElementById('register').onsubmit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    const attrs = f.attrs.split(',').map((s) => s.trim()).filter(Boolean).map((s) => { const [name, type] = s.split(':'); return { name, type: type || 'text' }; });
    const r = await post('/apps', { app: f.app, attrs }).catch(fail);
    if (r) out.innerHTML = `<p>registered ${esc(r.app)}: ${r.schema.map((a) => esc(a.name + ':' + a.type)).join(', ')}</p>`;
  };
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  statusBar.textContent = '';
  try {
    if (parts[0] === 'region') await viewRegion(parts[1]);
    else if (parts[0] === 'dataset') await viewDataset(parts[1], parts[2]);
    else if (parts[0] === 'array') await viewArray(parts[1], parts[2]);
    else if (parts[0] === 'plain') await viewPlain(parts[1], parts[2]);
    else if (parts[0] === 'run') await viewRun(parts[1], parts[2]);
    else if (parts[0] === 'tiers') await viewTiers();
    else if (parts[0] === 'search') await viewSearch();
    else if (parts[0] === 'act') await viewAct();
    else await viewRegions();
  } catch (e) {
    main.innerHTML = '';
    fail(e);
  }
  document.body.dataset.ready = location.hash || '#/';
}
window.addEventListener('hashchange', route);
route();
