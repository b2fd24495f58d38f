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
const plural = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;

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

// ---- colours --------------------------------------------------------------------------------
// A perceptual dark-blue -> teal -> yellow ramp (viridis-like), t in [0, 1].
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  t = Math.min(1, Math.max(0, t));
  const x = t * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
  return RAMP[i].map((a, k) => Math.round(a + f * (RAMP[i + 1][k] - a)));
}

// ---- drawing --------------------------------------------------------------------------------
function drawHistogram(canvas, stats) {
  const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height, pad = 30;
  g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
  const hist = stats.histogram, top = Math.max(1, ...hist), bw = (w - 2 * pad) / hist.length;
  g.fillStyle = 'rgb(59,82,139)';
  hist.forEach((c, i) => {
    const bh = (h - 2 * pad) * c / top;
    g.fillRect(pad + i * bw + 1, h - pad - bh, bw - 2, bh);
  });
  g.fillStyle = '#222'; g.font = '11px sans-serif';
  g.fillText(String(stats.min), pad, h - 10);
  const mx = String(stats.max);
  g.fillText(mx, w - pad - g.measureText(mx).width, h - 10);
  g.fillText(`n=${stats.count} mean=${(+stats.mean).toPrecision(6)} std=${(+stats.std).toPrecision(6)}`, pad, 14);
}

function drawLine(canvas, values) {
  const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height, pad = 20;
  g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
  const lo = Math.min(...values), hi = Math.max(...values), span = hi > lo ? hi - lo : 1;
  g.strokeStyle = 'rgb(33,145,140)'; g.beginPath();
  values.forEach((v, i) => {
    const x = pad + (w - 2 * pad) * i / Math.max(1, values.length - 1), y = h - pad - (h - 2 * pad) * (v - lo) / span;
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke();
}

// A heat map of a 2-D region (row-major DATA of ROWS x COLS) with a colour bar on the right.
// The map is HEAT_BAR pixels narrower than the canvas.
const HEAT_BAR = 72;
function drawHeat(canvas, data, rows, cols, lo, hi) {
  const g = canvas.getContext('2d'), w = canvas.width - HEAT_BAR, h = canvas.height;
  g.fillStyle = '#fff'; g.fillRect(0, 0, canvas.width, h);
  const img = g.createImageData(w, h), span = hi > lo ? hi - lo : 1;
  for (let y = 0; y < h; y++) {
    const r = Math.min(rows - 1, Math.floor(y * rows / h));
    for (let x = 0; x < w; x++) {
      const c = Math.min(cols - 1, Math.floor(x * cols / w));
      const v = data[r * cols + c];
      const [R, G, B] = v === null ? [255, 255, 255] : colour((v - lo) / span);
      const o = 4 * (y * w + x);
      img.data[o] = R; img.data[o + 1] = G; img.data[o + 2] = B; img.data[o + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
  for (let y = 0; y < h; y++) {
    const [R, G, B] = colour(1 - y / (h - 1));
    g.fillStyle = `rgb(${R},${G},${B})`; g.fillRect(w + 8, y, 14, 1);
  }
  g.fillStyle = '#222'; g.font = '10px sans-serif';
  const label = (v) => String(+v.toPrecision(6));
  g.fillText(label(hi), w + 26, 10); g.fillText(label(lo), w + 26, h - 2);
}

// ---- views ----------------------------------------------------------------------------------
async function viewRegions() {
  const d = await api('/regions');
  main.innerHTML = '<h2>Regions</h2><div class="cards">' + d.regions.map((r) =>
    `<a class="card region" href="#/region/${enc(r.name)}"><b>${esc(r.name)}</b><br>${r.datasets} datasets, ${r.arrays} arrays</a>`).join('') + '</div>';
}

async function viewRegion(region) {
  const d = await api(`/regions/${enc(region)}/datasets`);
  main.innerHTML = `<h2>Region ${esc(region)}</h2><h3>Datasets</h3>
    <table><tr><th class="l">name</th><th>rows</th><th>batches</th><th>version</th><th>bytes</th><th class="l">columns</th></tr>
    ${d.datasets.map((s) => `<tr><td class="l"><a class="dataset" href="#/dataset/${enc(region)}/${enc(s.name)}">${esc(s.name)}</a></td><td>${s.rows}</td><td>${s.batches}</td><td>${s.version}</td><td>${s.bytes}</td><td class="l">${s.columns.map((c) => esc(c.name + ':' + c.dtype)).join(', ')}</td></tr>`).join('')}</table>
    <h3>N-d arrays</h3>
    <table><tr><th class="l">name</th><th class="l">dtype</th><th class="l">shape</th><th>bytes</th></tr>
    ${d.arrays.map((a) => `<tr><td class="l"><a class="array" href="#/array/${enc(region)}/${enc(a.name)}">${esc(a.name)}</a></td><td class="l">${a.dtype}</td><td class="l">${a.dims.join(' × ')}</td><td>${a.bytes}</td></tr>`).join('')}</table>`;
}

function lineageSvg(d) {
  // nodes: this dataset and every dataset in its lineage; edges src -> dst; stale ones orange
  const nodes = new Map(), edges = [];
  const key = (r, n) => r + '/' + n;
  nodes.set(key(d.region, d.name), true);
  d.lineage.forEach((l) => {
    if (l.src_name) nodes.set(key(l.src_region, l.src_name), nodes.get(key(l.src_region, l.src_name)) ?? true);
    const k = key(l.region, l.name);
    nodes.set(k, (nodes.get(k) ?? true) && l.fresh);
    if (l.src_name) edges.push([key(l.src_region, l.src_name), k, l.column ? `${l.op} .${l.column}` : l.op, l.fresh]);
  });
  const names = [...nodes.keys()], pos = new Map();
  names.forEach((n, i) => pos.set(n, [20 + 190 * (i % 4), 30 + 70 * Math.floor(i / 4)]));
  const H = 70 * Math.ceil(names.length / 4) + 20;
  let s = `<svg id="lineage" width="780" height="${H}" xmlns="http://www.w3.org/2000/svg" font-size="11">`;
  const onPair = new Map(); // labels of several edges between the same two nodes are stacked
  edges.forEach(([a, b, label, fresh]) => {
    if (a === b) return;
    const [x1, y1] = pos.get(a), [x2, y2] = pos.get(b), k = onPair.get(a + '>' + b) ?? 0;
    onPair.set(a + '>' + b, k + 1);
    s += `<line x1="${x1 + 75}" y1="${y1 + 12}" x2="${x2 + 75}" y2="${y2 + 12}" stroke="${fresh ? '#080' : '#b60'}"/>`;
    s += `<text x="${(x1 + x2) / 2 + 75}" y="${(y1 + y2) / 2 - 4 - 12 * k}" text-anchor="middle">${esc(label)}</text>`;
  });
  names.forEach((n) => {
    const [x, y] = pos.get(n), fresh = nodes.get(n);
    s += `<rect x="${x}" y="${y}" width="150" height="24" rx="4" fill="${fresh ? '#e8f5e8' : '#fdebd0'}" stroke="${fresh ? '#080' : '#b60'}"/>`;
    s += `<text x="${x + 6}" y="${y + 16}">${esc(n)}${fresh ? '' : ' (stale)'}</text>`;
  });
  return s + '</svg>';
}

async function viewDataset(region, name, offset = 0) {
  const d = await api(`/datasets/${enc(region)}/${enc(name)}`);
  const numeric = d.columns.filter((c) => c.dtype !== 'str');
  main.innerHTML = `<h2>Dataset ${esc(region)}/${esc(name)}</h2>
    <p>version ${d.version}, ${d.rows} rows in ${d.batches} batches, ${d.bytes} bytes</p>
    <h3>Schema</h3><table><tr><th class="l">column</th><th class="l">dtype</th><th class="l">ready</th></tr>
    ${d.columns.map((c) => `<tr><td class="l">${esc(c.name)}</td><td class="l">${c.dtype}</td><td class="l ${c.ready ? 'fresh' : 'stale'}">${c.ready ? 'yes' : 'not computed'}</td></tr>`).join('')}</table>
    <h3>Rows</h3><div id="rows"></div>
    <h3>Look</h3>
    <label>column <select id="hcol">${numeric.map((c) => `<option>${esc(c.name)}</option>`).join('')}</select></label>
    <button id="hist">histogram</button> <button id="line">line plot (this page)</button><br>
    <canvas id="plot" width="640" height="240"></canvas>
    <h3>Batches</h3><table><tr><th>seq</th><th>first row</th><th>rows</th><th>version</th><th class="l">min … max</th></tr>
    ${d.batch_list.map((b) => `<tr><td>${b.seq}</td><td>${b.first_row}</td><td>${b.rows}</td><td>${b.version}</td><td class="l">${Object.entries(b.stats).filter(([, v]) => 'min' in v).map(([k, v]) => `${esc(k)} ${v.min}…${v.max}`).join('; ')}</td></tr>`).join('')}</table>
    <h3>Versions</h3><table><tr><th>version</th><th>batches added</th><th>rows added</th><th>total rows</th></tr>
    ${d.versions.map((v) => `<tr><td>${v.version}</td><td>${v.batches_added}</td><td>${v.rows_added}</td><td>${v.total_rows}</td></tr>`).join('')}</table>
    <h3>Lineage</h3>${d.lineage.length ? lineageSvg(d) : '<p>not derived, and nothing derives from it</p>'}
    <h3>Code</h3><div id="code"></div>`;
  let pageRows = null;
  const showRows = async (off) => {
    const p = await api(`/datasets/${enc(region)}/${enc(name)}/rows?offset=${off}&limit=20`);
    pageRows = p;
    document.getElementById('rows').innerHTML = `<table id="rowtable"><tr><th>#</th>${p.columns.map((c) => `<th>${esc(c.name)}</th>`).join('')}</tr>
      ${p.rows.map((r, i) => `<tr><td>${off + i}</td>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`).join('')}</table>
      <button id="prev" ${off === 0 ? 'disabled' : ''}>previous</button> rows ${off}–${off + p.rows.length - 1} of ${p.total}
      <button id="next" ${off + 20 >= p.total ? 'disabled' : ''}>next</button>`;
    document.getElementById('prev').onclick = () => showRows(Math.max(0, off - 20)).catch(fail);
    document.getElementById('next').onclick = () => showRows(off + 20).catch(fail);
  };
  await showRows(offset);
  document.getElementById('hist').onclick = async () => {
    const c = document.getElementById('hcol').value;
    const st = await api(`/datasets/${enc(region)}/${enc(name)}/columns/${enc(c)}/stats`).catch(fail);
    if (st) drawHistogram(document.getElementById('plot'), st);
  };
  document.getElementById('line').onclick = () => {
    const c = document.getElementById('hcol').value, k = pageRows.columns.findIndex((x) => x.name === c);
    drawLine(document.getElementById('plot'), pageRows.rows.map((r) => r[k]));
  };
  document.getElementById('hcol').onchange = () =>
    showCode(region, name, `&column=${enc(document.getElementById('hcol').value)}`).catch(fail);
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

async function viewArray(region, name) {
  const a = await api(`/arrays/${enc(region)}/${enc(name)}`);
  const nd = a.dims.length;
  main.innerHTML = `<h2>N-d array ${esc(region)}/${esc(name)}</h2>
    <p>${a.dtype}, shape ${a.dims.join(' × ')}, ${a.layout}${a.layout === 'chunked' ? ' (chunks ' + a.chunk.join(' × ') + ')' : ''}, tier ${esc(a.tier)}, ${a.bytes} bytes</p>
    <h3>Heat map</h3>
    <form id="slice">${nd > 2 ? a.dims.slice(0, nd - 2).map((d, k) => `<label>index ${k} <input name="i${k}" type="number" min="0" max="${d - 1}" value="0"></label>`).join('') : ''}
    <label>rows <input name="r0" type="number" min="0" value="0"> + <input name="rn" type="number" min="1" value="${a.dims[nd - 2] ?? 1}"></label>
    <label>columns <input name="c0" type="number" min="0" value="0"> + <input name="cn" type="number" min="1" value="${a.dims[nd - 1]}"></label>
    <button>draw</button> <button type="button" id="reset">whole slice</button></form>
    <p>drag on the map to zoom into a region (read again at full resolution)</p>
    <canvas id="heat" width="560" height="400"></canvas>
    <h3>Code</h3><div id="code"></div>`;
  const form = document.getElementById('slice'), canvas = document.getElementById('heat');
  let shown = null;
  const draw = async () => {
    const f = new FormData(form), lead = [];
    for (let k = 0; k < nd - 2; k++) lead.push(+f.get('i' + k));
    const r0 = +f.get('r0'), rn = +f.get('rn'), c0 = +f.get('c0'), cn = +f.get('cn');
    const start = [...lead, ...(nd >= 2 ? [r0] : []), c0].join(','), count = [...lead.map(() => 1), ...(nd >= 2 ? [rn] : []), cn].join(',');
    const [reg, st] = await Promise.all([api(`/arrays/${enc(region)}/${enc(name)}/region?start=${start}&count=${count}`), api(`/arrays/${enc(region)}/${enc(name)}/stats?start=${start}&count=${count}`)]);
    shown = { r0, rn: nd >= 2 ? rn : 1, c0, cn };
    drawHeat(canvas, reg.data, shown.rn, cn, st.min, st.max);
    statusBar.textContent = `region start ${start} count ${count}: min ${st.min} max ${st.max} mean ${st.mean}`;
    const whole = start.split(',').every((v) => v === '0') && count === a.dims.join(',');
    await showCode(region, name, whole ? '' : `&start=${start}&count=${count}`);
  };
  form.onsubmit = (e) => { e.preventDefault(); draw().catch(fail); };
  document.getElementById('reset').onclick = () => {
    form.r0.value = 0; form.c0.value = 0; form.rn.value = a.dims[nd - 2] ?? 1; form.cn.value = a.dims[nd - 1];
    draw().catch(fail);
  };
  let from = null;
  canvas.onmousedown = (e) => { from = [e.offsetX, e.offsetY]; };
  canvas.onmouseup = (e) => {
    if (!from || !shown) return;
    const w = canvas.width - HEAT_BAR, h = canvas.height;
    const x0 = Math.min(from[0], e.offsetX), x1 = Math.max(from[0], e.offsetX), y0 = Math.min(from[1], e.offsetY), y1 = Math.max(from[1], e.offsetY);
    from = null;
    if (x1 - x0 < 4 || y1 - y0 < 4 || x0 >= w) return;
    form.c0.value = shown.c0 + Math.floor(x0 * shown.cn / w); form.cn.value = Math.max(1, Math.ceil((Math.min(x1, w) - x0) * shown.cn / w));
    form.r0.value = shown.r0 + Math.floor(y0 * shown.rn / h); form.rn.value = Math.max(1, Math.ceil((y1 - y0) * shown.rn / h));
    draw().catch(fail);
  };
  await draw();
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
      ${r.runs.map((x) => `<tr><td>${x.run}</td><td class="l">${esc(x.status)}</td><td>${x.nprocs}</td>${keys.map((k) => `<td>${esc(x.attrs[k])}</td>`).join('')}</tr>`).join('')}</table><p>${plural(r.runs.length, 'run')}</p>`;
  };
  document.getElementById('find').onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const r = await api(`/find?app=${enc(f.get('app'))}&dataset=${enc(f.get('dataset'))}&where=${enc(f.get('where'))}`).catch(fail);
    if (!r) return;
    out.innerHTML = `<table id="result"><tr><th>run</th><th class="l">dataset</th><th>iteration</th><th>min</th><th>max</th><th>mean</th><th>std</th><th class="l">array</th></tr>
      ${r.results.map((x) => `<tr><td>${x.run}</td><td class="l">${esc(x.dataset)}</td><td>${x.iteration}</td><td>${x.min.toPrecision(6)}</td><td>${x.max.toPrecision(6)}</td><td>${x.mean.toPrecision(6)}</td><td>${x.std.toPrecision(6)}</td>
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
      document.getElementById('job').textContent = `${j.state}: ${j.message}; ${j.stats.incremental} incremental, ${j.stats.refreshed} refreshed, ${j.stats.fresh} fresh, ${j.stats.rows_written} rows written`;
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
