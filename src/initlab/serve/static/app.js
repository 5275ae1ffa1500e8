// initlab playground: the page. Plain JavaScript, no build step; charts by uPlot (vendored).
// Every number drawn here comes from the server's frames (initlab.experiments.live); the page
// only keeps the controls, the URL and the pictures in step.
"use strict";
(() => {
  const RUN_COLORS = ["#2f5bd3", "#d6336c", "#2f9e44", "#e67700"];
  const RUN_NAMES = ["A", "B", "C", "D"];
  const NEG = [44, 123, 182], POS = [240, 140, 0], MID = [247, 247, 247];  // diverging: blue < 0 < orange
  const HIST_COLS = 12, HISTORY = 1500;
  const $ = id => document.getElementById(id);

  const S = {                       // the page's state (window.playground, for tests and the console)
    hello: null, ws: null, connected: false, runs: [], accepted: [], selected: 0, info: [], gen: [],
    latest: [], history: [], initPoint: [], playing: false, renderTimes: [], renderParts: {}, errors: [], charts: {}, lastInput: 0, pending: [],
    hash: "", frames: 0,
  };
  window.playground = S;

  // ------------------------------------------------------------------------------ socket
  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws`);
    S.ws = ws;
    ws.onopen = () => { S.connected = true; };
    ws.onmessage = ev => onMessage(JSON.parse(ev.data));
    ws.onclose = ev => {
      S.connected = false;
      showError(`connection closed${ev.reason ? ": " + ev.reason : ""} — reload the page to reconnect`, true);
    };
  }
  function send(obj) { if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(obj)); }
  S.send = send;
  S.sendRaw = text => S.ws.send(text);

  function onMessage(m) {
    switch (m.type) {
      case "hello": onHello(m); break;
      case "run": onRun(m); break;
      case "frames": for (const f of m.frames) onFrame(f); scheduleRender(); break;
      case "state": S.playing = m.playing; showPlay(); break;
      case "error": onError(m); break;
      case "code": showCode(m); break;
      default: break;
    }
  }

  // ------------------------------------------------------------------------------ URL state
  // #data=spiral&depth=6&...&vs=init:lecun_normal;act:relu  (vs: a compared run, fields that differ)
  const KEYS = [["dataset", "data"], ["noise", "noise"], ["train_ratio", "ratio"], ["depth", "depth"],
    ["width", "width"], ["activation", "act"], ["scheme", "init"], ["bias", "bias"], ["optimizer", "opt"],
    ["lr", "lr"], ["momentum", "mom"], ["batch_size", "batch"], ["seed", "seed"], ["residual", "res"]];
  const NUMERIC = new Set(["noise", "train_ratio", "depth", "width", "lr", "momentum", "batch_size", "seed"]);

  const schemeText = (name, params) => {
    const p = Object.entries(params || {}).map(([k, v]) => `${k}=${v === null ? "null" : v}`);
    return p.length ? `${name}(${p.join(",")})` : name;
  };
  function value(text) {
    const t = text.trim();
    if (t === "null" || t === "") return null;
    if (t === "true" || t === "false") return t === "true";
    const n = Number(t);
    return Number.isFinite(n) && /^[-+.\d]/.test(t) ? n : t;
  }
  function parseScheme(text) {
    const m = /^([^()]+?)\s*(?:\((.*)\))?$/.exec(text.trim());
    if (!m) return { name: text, params: {} };
    const params = {};
    for (const item of (m[2] || "").split(",").filter(s => s.trim())) {
      const i = item.indexOf("=");
      if (i > 0) params[item.slice(0, i).trim()] = value(item.slice(i + 1));
    }
    return { name: m[1], params };
  }
  function fieldText(cfg, key) {
    if (key === "scheme") return schemeText(cfg.scheme, cfg.scheme_params);
    if (key === "bias") return schemeText(cfg.bias, cfg.bias_params);
    const v = cfg[key];
    return v === null || v === undefined ? "" : String(v);
  }
  function setField(cfg, key, text) {
    if (key === "scheme" || key === "bias") {
      const s = parseScheme(text);
      cfg[key] = s.name; cfg[key === "scheme" ? "scheme_params" : "bias_params"] = s.params;
    } else if (NUMERIC.has(key)) {
      cfg[key] = text === "" ? null : (Number.isFinite(Number(text)) ? Number(text) : text);
    } else if (key === "residual") {
      cfg[key] = text === "true" || text === "1";
    } else cfg[key] = text;
  }
  const enc = s => encodeURIComponent(s).replace(/%2C/g, ",").replace(/%3D/g, "=").replace(/%3A/g, ":")
    .replace(/%3B/g, ";");
  function encodeRuns(runs, selected = 0) {
    const base = runs[0];
    const parts = KEYS.filter(([k]) => !(k === "noise" && base.noise === null))
      .map(([k, s]) => `${s}=${enc(fieldText(base, k))}`);
    for (const r of runs.slice(1)) {
      const diff = KEYS.filter(([k]) => fieldText(r, k) !== fieldText(base, k)).map(([k, s]) => `${s}:${fieldText(r, k)}`);
      parts.push(`vs=${enc(diff.join(";"))}`);
    }
    if (selected) parts.push(`sel=${selected}`);
    return "#" + parts.join("&");
  }
  S.encodeRuns = encodeRuns;
  function decodeHash(hash) {
    const short = Object.fromEntries(KEYS.map(([k, s]) => [s, k]));
    const base = JSON.parse(JSON.stringify(S.hello.default));
    const vs = []; let sel = 0;
    for (const part of hash.replace(/^#/, "").split("&").filter(Boolean)) {
      const i = part.indexOf("=");
      const key = decodeURIComponent(i < 0 ? part : part.slice(0, i));
      const val = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
      if (key === "vs") vs.push(val);
      else if (key === "sel") sel = Number(val) || 0;
      else if (short[key]) setField(base, short[key], val);
      else throw new Error(`URL: got the key '${key}'; allowed: ${KEYS.map(k => k[1]).join(", ")}, vs, sel`);
    }
    const runs = [base];
    for (const v of vs) {
      const cfg = JSON.parse(JSON.stringify(base));
      for (const item of v.split(";").filter(Boolean)) {
        const j = item.indexOf(":");
        const key = item.slice(0, j);
        if (!short[key]) throw new Error(`URL: got the key '${key}' in vs; allowed: ${KEYS.map(k => k[1]).join(", ")}`);
        setField(cfg, short[key], item.slice(j + 1));
      }
      runs.push(cfg);
    }
    return { runs, sel: Math.min(Math.max(0, sel), runs.length - 1) };
  }
  function writeHash() {
    S.hash = encodeRuns(S.runs, S.selected);
    if (location.hash !== S.hash) history.replaceState(null, "", S.hash);
  }
  function claimOf(hash) {
    const c = S.hello && S.hello.claims.find(x => encodeRuns(x.runs) === hash);
    return c ? c.name : null;
  }
  function applyHash() {
    if (!location.hash || location.hash === S.hash) return;
    S.claim = claimOf(location.hash);
    let state;
    try { state = decodeHash(location.hash); } catch (e) { showError(e.message); return; }
    S.runs = state.runs; S.selected = state.sel;
    S.hash = location.hash;
    buildTabs(); writeControls(); sendRuns();
  }

  // ------------------------------------------------------------------------------ controls
  const catalogue = () => Object.fromEntries(S.hello.schemes.map(s => [s.name, s]));
  const SUGGEST = {
    mode: ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"], distribution: ["normal", "truncated_normal", "uniform"],
    nonlinearity: ["relu", "leaky_relu", "tanh", "sigmoid", "selu", "linear"],
  };

  function onHello(m) {
    S.hello = m;
    const ds = $("datasets");
    ds.innerHTML = "";
    for (const name of m.datasets) {
      const b = document.createElement("button");
      b.textContent = name; b.dataset.value = name;
      b.onclick = () => { current().dataset = name; if (!m.plane.includes(name)) current().noise = null; changed(); };
      ds.appendChild(b);
    }
    fillSelect($("activation"), m.activations);
    fillSelect($("scheme"), m.schemes.map(s => s.name));
    fillSelect($("bias"), m.schemes.map(s => s.name).filter(n => n !== "auto" && n !== "lsuv"));
    const seg = $("optimizer");
    seg.innerHTML = "";
    for (const [name, label] of [["sgd", "SGD + momentum"], ["adam", "Adam"]]) {
      if (!m.optimizers.includes(name)) continue;
      const b = document.createElement("button");
      b.textContent = label; b.dataset.value = name;
      b.onclick = () => { current().optimizer = name; changed(); };
      seg.appendChild(b);
    }
    const claims = $("claims");
    claims.innerHTML = "";
    for (const c of m.claims) {
      const a = document.createElement("a");
      a.href = encodeRuns(c.runs); a.textContent = c.name; a.title = c.claim;
      claims.appendChild(a);
    }
    if (location.hash) {
      try {
        const state = decodeHash(location.hash);
        S.runs = state.runs; S.selected = state.sel;
      } catch (e) { showError(e.message); }
    }
    if (!S.runs.length) S.runs = [JSON.parse(JSON.stringify(m.default))];
    S.hash = location.hash;
    S.claim = claimOf(location.hash);
    buildTabs(); writeControls(); sendRuns();
  }

  function fillSelect(sel, names) {
    sel.innerHTML = "";
    for (const n of names) { const o = document.createElement("option"); o.value = o.textContent = n; sel.appendChild(o); }
  }
  const current = () => S.runs[S.selected];

  function buildTabs() {
    const tabs = $("run-tabs");
    tabs.innerHTML = "";
    S.runs.forEach((_, i) => {
      const b = document.createElement("button");
      b.style.color = RUN_COLORS[i];
      b.className = i === S.selected ? "on" : "";
      b.innerHTML = `● ${RUN_NAMES[i]}` + (S.runs.length > 1 ? ` <span class="x" title="remove">×</span>` : "");
      b.onclick = ev => {
        if (ev.target.classList.contains("x")) { removeRun(i); return; }
        S.selected = i; buildTabs(); writeControls(); writeHash(); scheduleRender();
      };
      tabs.appendChild(b);
    });
    $("compare").disabled = S.runs.length >= (S.hello ? S.hello.max_runs : 4);
  }
  function addRun() {
    if (S.runs.length >= S.hello.max_runs) return;
    S.runs.push(JSON.parse(JSON.stringify(current())));
    S.selected = S.runs.length - 1;
    buildTabs(); writeControls(); sendRuns(); writeHash();
  }
  function removeRun(i) {
    if (S.runs.length < 2) return;
    for (const arr of [S.runs, S.accepted, S.info, S.gen, S.latest, S.history, S.initPoint]) arr.splice(i, 1);
    S.selected = Math.min(S.selected, S.runs.length - 1);
    S.gen = S.gen.map(() => -1);  // the server renumbers: wait for fresh runs
    buildTabs(); writeControls(); sendRuns(); writeHash(); scheduleRender();
  }

  const log2 = x => Math.log2(x), log10 = x => Math.log10(x);
  const fmt = (x, d = 3) => x === null || x === undefined ? "–" : (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : (+x).toPrecision(d));
  function tick(v) {
    // axis labels: 0.01, 0.1, 1, 10 … and 1e-5 style below 0.001 or above 10⁴
    if (v === null || v === undefined) return "";
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e4 || a < 1e-3) {
      const e = Math.floor(Math.log10(a) + 1e-9), m = v / 10 ** e;
      return Math.abs(m - Math.round(m)) < 1e-6 ? `${Math.round(m) === 1 ? "" : Math.round(m) + "·"}1e${e}`.replace("·1e", "e") : v.toExponential(1);
    }
    return String(+v.toPrecision(3));
  }

  function writeControls() {
    if (!S.hello) return;
    const c = current();
    for (const b of $("datasets").children) b.classList.toggle("on", b.dataset.value === c.dataset);
    const plane = S.hello.plane.includes(c.dataset);
    document.querySelectorAll(".plane-only").forEach(e => { e.style.display = plane ? "" : "none"; });
    const noise = c.noise === null ? defaultNoise(c.dataset) : c.noise;
    $("noise").value = noise; $("noise-out").textContent = fmt(noise, 2);
    $("ratio").value = c.train_ratio; $("ratio-out").textContent = `${Math.round(c.train_ratio * 100)}%`;
    $("depth").value = c.depth; $("depth-n").value = c.depth;
    $("width").value = log2(c.width); $("width-n").value = c.width;
    $("activation").value = c.activation;
    $("residual").checked = !!c.residual;
    fillSelect($("scheme"), S.hello.schemes.filter(s => !s.residual || c.residual).map(s => s.name));
    $("scheme").value = c.scheme;
    const sch = catalogue()[c.scheme];
    $("scheme-formula").textContent = sch ? sch.formula : "";
    $("scheme-formula").title = sch ? `${sch.formula} — ${sch.source}` : "";
    paramInputs($("scheme-params"), c.scheme, c.scheme_params, "scheme_params");
    const sigma = c.scheme === "random_normal" && c.scheme_params.std !== undefined ? c.scheme_params.std : null;
    if (sigma) { $("sigma").value = log10(sigma); }
    $("sigma-out").textContent = sigma ? fmt(sigma, 2) : "";
    $("bias").value = c.bias;
    paramInputs($("bias-params"), c.bias, c.bias_params, "bias_params");
    for (const b of $("optimizer").children) b.classList.toggle("on", b.dataset.value === c.optimizer);
    $("lr").value = log10(c.lr); $("lr-n").value = c.lr;
    $("momentum").value = c.momentum; $("momentum-out").textContent = fmt(c.momentum, 2);
    $("batch").value = log2(c.batch_size); $("batch-n").value = c.batch_size;
    $("seed").value = c.seed;
  }
  function defaultNoise(name) { return { circle: 0.05, xor: 0.05, gaussians: 0.5, spiral: 0.05 }[name] ?? 0; }

  function paramInputs(box, scheme, params, key) {
    const sch = catalogue()[scheme];
    const sig = `${scheme}|${JSON.stringify(params)}`;
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    box.innerHTML = "";
    if (!sch) return;
    for (const [name, def] of Object.entries(sch.params)) {
      const lab = document.createElement("label");
      const inp = document.createElement("input");
      const v = name in params ? params[name] : def;
      inp.value = v === null ? "" : v;
      inp.placeholder = def === null ? "null" : String(def);
      inp.dataset.name = name;
      if (SUGGEST[name]) {
        const listId = `sugg-${name}`;
        if (!$(listId)) {
          const dl = document.createElement("datalist"); dl.id = listId;
          for (const s of SUGGEST[name]) { const o = document.createElement("option"); o.value = s; dl.appendChild(o); }
          document.body.appendChild(dl);
        }
        inp.setAttribute("list", listId);
      }
      inp.onchange = () => {
        const out = {};
        for (const i of box.querySelectorAll("input")) {
          const d = sch.params[i.dataset.name];
          const val = i.value === "" ? null : value(i.value);
          if (val !== d) out[i.dataset.name] = val;
        }
        current()[key] = out;
        box.dataset.sig = `${scheme}|${JSON.stringify(out)}`;
        changed();
      };
      lab.append(name, inp);
      box.appendChild(lab);
    }
  }

  function readNumber(id, fallback) { const v = Number($(id).value); return Number.isFinite(v) ? v : fallback; }
  function bindControls() {
    const c = () => current();
    const on = (id, ev, fn) => $(id).addEventListener(ev, () => { fn(); changed(); });
    on("noise", "input", () => { c().noise = readNumber("noise", 0); });
    on("ratio", "input", () => { c().train_ratio = readNumber("ratio", 0.5); });
    on("depth", "input", () => { c().depth = readNumber("depth", 4); });
    on("depth-n", "change", () => { c().depth = readNumber("depth-n", 4); });
    on("width", "input", () => { c().width = Math.max(2, Math.round(2 ** readNumber("width", 3))); });
    on("width-n", "change", () => { c().width = readNumber("width-n", 8); });
    on("activation", "change", () => { c().activation = $("activation").value; });
    on("residual", "change", () => {
      c().residual = $("residual").checked;
      const sch = catalogue()[c().scheme];
      if (!c().residual && sch && sch.residual) { c().scheme = "auto"; c().scheme_params = {}; }
    });
    on("scheme", "change", () => { c().scheme = $("scheme").value; c().scheme_params = {}; });
    on("sigma", "input", () => {
      c().scheme = "random_normal"; c().scheme_params = { std: +(10 ** readNumber("sigma", -1)).toPrecision(3) };
    });
    on("bias", "change", () => { c().bias = $("bias").value; c().bias_params = {}; });
    on("lr", "input", () => { c().lr = +(10 ** readNumber("lr", -2)).toPrecision(2); });
    on("lr-n", "change", () => { c().lr = readNumber("lr-n", 0.01); });
    on("momentum", "input", () => { c().momentum = readNumber("momentum", 0.9); });
    on("batch", "input", () => { c().batch_size = Math.round(2 ** readNumber("batch", 5)); });
    on("batch-n", "change", () => { c().batch_size = readNumber("batch-n", 32); });
    on("seed", "change", () => { c().seed = readNumber("seed", 0); });
    on("new-seed", "click", () => { c().seed = Math.floor(Math.random() * 100000); });
    $("play").onclick = () => send({ type: S.playing ? "pause" : "play" });
    $("step").onclick = () => send({ type: "step", n: 1 });
    $("reset").onclick = () => send({ type: "reset" });
    $("speed").onchange = () => { const v = $("speed").value; send({ type: "speed", steps_per_second: v ? Number(v) : null }); };
    $("compare").onclick = addRun;
    $("code").onclick = () => send({ type: "code", run: S.selected });
    $("share").onclick = () => copy(location.href, "link copied");
    $("error-close").onclick = hideError;
    $("modal-close").onclick = () => { $("modal").hidden = true; };
    $("modal").onclick = ev => { if (ev.target === $("modal")) $("modal").hidden = true; };
    $("modal-copy").onclick = () => copy($("modal-body").textContent, "copied");
    $("phase").onclick = onPhaseClick;
    window.addEventListener("hashchange", applyHash);
    window.addEventListener("resize", () => { for (const k of Object.keys(S.charts)) delete S.charts[k]; ["prof-act", "prof-grad", "loss", "acc"].forEach(id => { $(id).innerHTML = ""; }); scheduleRender(); });
    document.addEventListener("keydown", ev => {
      const t = ev.target;
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
      if (ev.key === " ") { ev.preventDefault(); $("play").click(); }
      else if (ev.key === "ArrowRight") { ev.preventDefault(); $("step").click(); }
      else if (ev.key === "r" && !ev.ctrlKey && !ev.metaKey) { $("reset").click(); }
      else if (ev.key === "Escape") { $("modal").hidden = true; }
    });
  }

  let sendTimer = null;
  function changed() {
    S.lastInput = performance.now();
    S.claim = null;
    writeControls(); writeHash();
    if (!sendTimer) sendTimer = setTimeout(() => { sendTimer = null; sendRuns(); }, 60);
  }
  function sendRuns() { send({ type: "runs", runs: S.runs }); }

  function copy(text, note) {
    const done = () => showError(note, false, true);
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
    else {
      const ta = document.createElement("textarea"); ta.value = text; document.body.appendChild(ta); ta.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selectable */ }
      ta.remove();
    }
  }

  // ------------------------------------------------------------------------------ messages
  function onRun(m) {
    const i = m.run;
    S.info[i] = m.info; S.gen[i] = m.gen; S.accepted[i] = m.info.config;
    S.latest[i] = null; S.history[i] = []; S.initPoint[i] = null;
    // the server's config wins unless the user is typing; a run the server changed on request (a phase click) always
    if ((S.pending[i] || performance.now() - S.lastInput > 400) && S.runs[i]) {
      S.pending[i] = false;
      S.runs[i] = JSON.parse(JSON.stringify(m.info.config));
      if (i === S.selected) writeControls();
      writeHash();
    }
    if (i === S.selected) clearInvalid();
    scheduleRender();
  }
  function onFrame(f) {
    if (f.gen !== S.gen[f.run]) return;
    S.frames += 1;
    S.latest[f.run] = f;
    if (f.step === 0 || !S.initPoint[f.run]) S.initPoint[f.run] = f.phase_point;
    const h = S.history[f.run] || (S.history[f.run] = []);
    const last = h[h.length - 1];
    const point = { step: f.step, trl: f.train.loss, tra: f.train.acc, tel: f.test.loss, tea: f.test.acc };
    if (last && last.step === f.step) h[h.length - 1] = point; else h.push(point);
    if (h.length > HISTORY) S.history[f.run] = h.filter((_, k) => k % 2 === 0 || k > h.length - 200);
  }
  function onError(m) {
    S.errors.push(m);
    showError(m.message);
    if (m.field) {
      const f = m.field.replace(/^runs\[\d+\]\./, "");
      const id = { dataset: "datasets", train_ratio: "ratio", batch_size: "batch-n", depth: "depth-n", width: "width-n",
        lr: "lr-n", scheme_params: "scheme-params", bias_params: "bias-params", optimizer: "optimizer" }[f] || f;
      const run = /^runs\[(\d+)\]/.exec(m.field);
      if ($(id) && (!run || Number(run[1]) === S.selected)) { $(id).classList.add("invalid"); setTimeout(clearInvalid, 4000); }
    }
    // a refused config leaves the server's runs as they were: show them again
    if (m.rejected && m.run !== undefined && S.accepted[m.run]) {
      S.runs[m.run] = JSON.parse(JSON.stringify(S.accepted[m.run]));
    } else if (m.field && m.field.startsWith("runs") && S.accepted.length) {
      S.runs = S.accepted.filter(Boolean).map(c => JSON.parse(JSON.stringify(c)));
      S.selected = Math.min(S.selected, S.runs.length - 1);
      buildTabs();
    } else return;
    S.lastInput = 0;
    writeControls();
    writeHash();
  }
  function clearInvalid() { document.querySelectorAll(".invalid").forEach(e => e.classList.remove("invalid")); }
  let errTimer = null;
  function showError(text, sticky = false, note = false) {
    $("error-text").textContent = text;
    $("error").hidden = false;
    $("error").style.color = note ? "var(--ink)" : "";
    clearTimeout(errTimer);
    if (!sticky) errTimer = setTimeout(hideError, note ? 1500 : 8000);
  }
  function hideError() { $("error").hidden = true; }
  function showCode(m) {
    $("modal-title").textContent = `Run ${RUN_NAMES[m.run]} as a PyTorch + initlab script`;
    $("modal-body").textContent = m.script; $("modal-body").hidden = false;
    $("modal-canvas").hidden = true; $("modal-copy").hidden = false;
    $("modal").hidden = false;
  }
  function showPlay() {
    $("play").classList.toggle("playing", S.playing);
    $("play").setAttribute("aria-label", S.playing ? "pause" : "play");
  }

  // ------------------------------------------------------------------------------ drawing
  let frameRequested = false;
  function scheduleRender() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      const t0 = performance.now();
      performance.mark("render-start");
      render();
      performance.mark("render-end");
      performance.measure("render", "render-start", "render-end");
      S.renderTimes.push(performance.now() - t0);
      if (S.renderTimes.length > 500) S.renderTimes.splice(0, 250);
      performance.clearMarks(); performance.clearMeasures("render-old");
    });
  }
  S.render = scheduleRender;

  function render() {
    const f = S.latest[S.selected], info = S.info[S.selected];
    $("epoch").textContent = f ? f.epoch + (f.epoch_progress ? ` · ${Math.round(100 * f.epoch_progress)}%` : "") : "0";
    $("stepcount").textContent = f ? f.step : "0";
    $("first-loss").textContent = f && f.first_loss !== null ? f.first_loss.toFixed(6) : "–";
    $("test-acc").textContent = f && f.test.acc !== null ? `${(100 * f.test.acc).toFixed(1)}%` : "–";
    const parts = S.renderParts;
    const timed = (name, fn) => { const t = performance.now(); fn(); parts[name] = (parts[name] || 0) + performance.now() - t; };
    timed("profiles", drawProfiles);
    timed("histograms", () => drawHistograms(f));
    timed("bars", () => drawBars(f));
    timed("phase", () => drawPhase(info));
    timed("output", () => drawOutput(f, info));
    timed("curves", () => drawCurves(info));
    timed("text", () => { drawFindings(); drawLegend(); drawAbout(info); });
  }
  function drawAbout(info) {
    const c = S.runs[S.selected];
    if (!c || !S.hello) return;
    const sch = catalogue()[c.scheme];
    const claim = S.claim ? S.hello.claims.find(x => x.name === S.claim) : null;
    const params = info ? `${info.parameters.toLocaleString()} parameters` : "";
    const shape = c.residual ? `${c.depth} residual blocks × ${c.width} ${c.activation}` : `${c.depth} × ${c.width} ${c.activation}`;
    const text = `<b>Run ${RUN_NAMES[S.selected]}</b>: ${shape} MLP on ${c.dataset}, ${params}.<br>` +
      `<b>${schemeText(c.scheme, c.scheme_params)}</b>: ${sch ? `${sch.formula} <small>(${sch.source})</small>` : ""}` +
      (claim ? `<div class="claimtext"><b>Claim “${claim.name}”</b>: ${claim.claim}</div>` : "");
    if ($("about").dataset.text !== text) { $("about").innerHTML = text; $("about").dataset.text = text; }
    $("hist-run").textContent = S.runs.length > 1 ? `· run ${RUN_NAMES[S.selected]}` : "";
  }

  // log-scaled axes plot log10(value) on a linear scale with ticks at whole decades: values span
  // 1e-30 … 1e30 in a vanishing or exploding net, beyond what a decimal tick generator handles
  const lg = v => (v !== null && v !== undefined && v > 0 && Number.isFinite(v) ? Math.log10(v) : null);
  function decadeLabel(e) {
    if (e >= -3 && e <= 3) return String(+(10 ** e).toPrecision(1));
    return `1e${e}`;
  }
  function linRange(u, min, max) {
    // one point (or none) gives an empty span, which cannot be divided into ticks
    if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
    if (max - min < 1e-9) return [min - 0.5, max + 0.5];
    return [min, max];
  }
  function decadeRange(u, min, max) {
    if (!Number.isFinite(min) || !Number.isFinite(max)) return [-1, 1];
    let lo = Math.floor(min + 1e-9), hi = Math.ceil(max - 1e-9);
    if (hi - lo < 1) { lo -= 0.5; hi += 0.5; }
    return [lo, hi];
  }
  function decadeSplits(u, axis, min, max) {
    const step = Math.max(1, Math.ceil((max - min) / 5));
    const out = [];
    for (let e = Math.ceil(min - 1e-9); e <= max + 1e-9; e += step) out.push(e);
    return out;
  }
  function chartOpts(el, series, { logY = false, yRange = null, xLabel = "" } = {}) {
    const w = Math.max(120, el.clientWidth), h = Math.max(80, el.clientHeight);
    const axis = { stroke: "#6b7385", grid: { stroke: "#eef0f4", width: 1 }, ticks: { stroke: "#e3e6ec", width: 1 }, font: "11px system-ui", size: 36 };
    const yAxis = logY ? { ...axis, size: 48, splits: decadeSplits, values: (u, v) => v.map(decadeLabel) }
      : { ...axis, size: 48, values: (u, v) => v.map(tick) };
    return {
      width: w, height: h, legend: { show: false }, cursor: { show: true, points: { show: false }, drag: { x: false, y: false } },
      scales: { x: { time: false, range: linRange }, y: { range: logY ? decadeRange : (yRange || linRange) } },
      axes: [{ ...axis, label: xLabel, labelSize: 14, labelFont: "11px system-ui", size: 30 }, yAxis],
      series: [{}, ...series],
    };
  }
  function ensureChart(key, el, series, opts) {
    const sig = JSON.stringify(series.map(s => [s.stroke, s.dash || 0])) + JSON.stringify(opts);
    let c = S.charts[key];
    if (!c || c._sig !== sig) {
      if (c) c.destroy();
      el.innerHTML = "";
      c = new uPlot(chartOpts(el, series, opts), [[], ...series.map(() => [])], el);
      c._sig = sig;
      S.charts[key] = c;
    }
    return c;
  }

  function drawProfiles() {
    const runs = S.runs.map((_, i) => i).filter(i => S.latest[i]);
    const maxL = Math.max(1, ...runs.map(i => S.latest[i].layers.length));
    const xs = Array.from({ length: maxL }, (_, k) => k + 1);
    for (const [key, el, q] of [["pa", $("prof-act"), "act_std"], ["pg", $("prof-grad"), "grad_std"]]) {
      const series = [], data = [xs];
      for (const i of runs) {
        const L = S.latest[i].layers;
        const col = RUN_COLORS[i];
        series.push({ stroke: col, width: 2, points: { show: L.length <= 20, size: 4, fill: col }, spanGaps: false });
        series.push({ stroke: col, width: 1.5, dash: [5, 4], points: { show: false } });
        data.push(xs.map(x => (x <= L.length ? lg(L[x - 1][q]) : null)));
        data.push(xs.map(x => (x <= L.length ? lg(L[x - 1]["pred_" + q]) : null)));
        const st = q === "act_std" ? (S.latest[i].stream || []) : [];
        if (st.length) {  // the residual stream after block b sits at its last layer: x = 1 + 2b (stem = 1)
          const at = new Map(st.map(e => [1 + 2 * e.block, e]));
          series.push({ stroke: col, width: 2, dash: [2, 3], points: { show: false }, spanGaps: true });
          series.push({ stroke: col, width: 1, dash: [1, 5], points: { show: false }, spanGaps: true });
          data.push(xs.map(x => (at.has(x) ? lg(at.get(x).std) : null)));
          data.push(xs.map(x => (at.has(x) ? lg(at.get(x).pred_std) : null)));
        }
      }
      const chart = ensureChart(key, el, series, { logY: true, xLabel: "layer (last: output)" });
      chart.setData(data);
    }
  }

  function spread(n, k) {
    if (n <= k) return Array.from({ length: n }, (_, i) => i);
    const out = new Set();
    for (let i = 0; i < k; i++) out.add(Math.round(i * (n - 1) / (k - 1)));
    return [...out];
  }
  const HIST_ROWS = [["act", "activations"], ["grad", "gradients"], ["weight", "weights"]];
  let histSig = "";
  function drawHistograms(f) {
    const box = $("hists");
    if (!f) { box.innerHTML = ""; histSig = ""; return; }
    const n = f.hist.length, shown = spread(n, HIST_COLS);
    const sig = `${S.selected}|${n}`;
    if (sig !== histSig) {
      histSig = sig;
      box.innerHTML = "";
      box.style.gridTemplateColumns = `64px repeat(${shown.length}, minmax(0, 1fr))`;
      box.appendChild(document.createElement("div"));
      for (const l of shown) {
        const d = document.createElement("div"); d.className = "lab";
        d.textContent = l === n - 1 ? "out" : `${l + 1}`;
        box.appendChild(d);
      }
      for (const [key, label] of HIST_ROWS) {
        const d = document.createElement("div"); d.className = "rowlab"; d.textContent = label; box.appendChild(d);
        for (const l of shown) {
          const c = document.createElement("canvas");
          c.width = 64; c.height = 44; c.dataset.layer = l; c.dataset.kind = key;
          c.onclick = () => enlargeHistogram(l);
          box.appendChild(c);
        }
      }
    }
    for (const c of box.querySelectorAll("canvas")) drawHistogram(c, f.hist[+c.dataset.layer][c.dataset.kind], false);
  }
  function drawHistogram(canvas, h, axes, y0 = 0, height = null) {
    // one histogram into the band [y0, y0 + height) of the canvas; axes: labelled, for the enlarged view
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = height === null ? canvas.height : height;
    if (height === null) ctx.clearRect(0, 0, W, H);
    if (!h || h.lo === null) { ctx.fillStyle = "#c92a2a"; ctx.font = "10px system-ui"; ctx.fillText(h ? "non-finite" : "–", 4, y0 + 14); return; }
    const pad = axes ? 40 : 1, bottom = axes ? 24 : 1, top = axes ? 18 : 0;
    const max = Math.max(...h.counts, 1), k = h.counts.length, bw = (W - 2 * pad) / k;
    const span = Math.max(Math.abs(h.lo), Math.abs(h.hi)) || 1;
    for (let i = 0; i < k; i++) {
      const centre = h.lo + (i + 0.5) * (h.hi - h.lo) / k;
      ctx.fillStyle = diverging(centre / span, 0.35);
      const bh = (H - bottom - top - 2) * h.counts[i] / max;
      ctx.fillRect(pad + i * bw, y0 + H - bottom - bh, Math.max(1, bw - (axes ? 1 : 0.3)), bh);
    }
    if (axes) {
      ctx.fillStyle = "#1d2330"; ctx.font = "12px system-ui";
      ctx.fillText(fmt(h.lo), pad, y0 + H - 6);
      ctx.textAlign = "right"; ctx.fillText(fmt(h.hi), W - pad, y0 + H - 6); ctx.fillText(String(max), pad - 4, y0 + top + 10);
      ctx.textAlign = "left";
      if (h.lo < 0 && h.hi > 0) {
        const x0 = pad + (W - 2 * pad) * (-h.lo) / (h.hi - h.lo);
        ctx.strokeStyle = "#6b7385"; ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(x0, y0 + top); ctx.lineTo(x0, y0 + H - bottom); ctx.stroke(); ctx.setLineDash([]);
        ctx.textAlign = "center"; ctx.fillText("0", x0, y0 + H - 6); ctx.textAlign = "left";
      }
    }
  }
  function enlargeHistogram(layer) {
    // the three histograms of one layer, one above the other
    const f = S.latest[S.selected];
    if (!f) return;
    const name = layer === f.hist.length - 1 ? "output layer" : `layer ${layer + 1}`;
    $("modal-title").textContent = `${name} · step ${f.step}` + (S.runs.length > 1 ? ` · run ${RUN_NAMES[S.selected]}` : "");
    $("modal-body").hidden = true; $("modal-copy").hidden = true;
    const c = $("modal-canvas"); c.hidden = false; c.height = 3 * 150;
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    HIST_ROWS.forEach(([kind, label], r) => {
      const h = f.hist[layer][kind];
      ctx.fillStyle = "#1d2330"; ctx.font = "600 12px system-ui";
      const n = h && h.lo !== null ? h.counts.reduce((a, b) => a + b, 0) : 0;
      ctx.fillText(`${label}: ${n} values` + (h && h.nonfinite ? `, ${h.nonfinite} non-finite` : ""), 40, r * 150 + 13);
      drawHistogram(c, h, true, r * 150, 150);
    });
    $("modal").hidden = false;
  }

  function diverging(t, floor = 0) {
    // t in [-1, 1] → blue … light … orange (TensorFlow Playground's convention)
    const a = Math.min(1, Math.abs(t || 0));
    const end = (t || 0) < 0 ? NEG : POS;
    const s = floor + (1 - floor) * a;
    const rgb = MID.map((m, i) => Math.round(m + (end[i] - m) * s));
    return `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
  }
  function divergingRGB(t) {
    const a = Math.min(1, Math.abs(t));
    const end = t < 0 ? NEG : POS;
    return MID.map((m, i) => Math.round(m + (end[i] - m) * a));
  }

  function fit(c) {
    // the canvas's drawing size follows its laid-out width (crisp at any column width)
    const w = Math.round(c.clientWidth);
    if (w > 0 && c.width !== w) c.width = w;
    return c;
  }
  function drawBars(f) {
    const c = fit($("bars")), ctx = c.getContext("2d");
    const W = c.width, H = c.height;
    ctx.clearRect(0, 0, W, H);
    if (!f) return;
    const hidden = f.layers.filter(l => l.hidden);
    c.dataset.distinct = hidden.map(l => l.distinct_units).join(",");
    const rows = [["distinct units", l => (l.units ? l.distinct_units / l.units : null), "#2f5bd3"],
      ["dead", l => l.frac_dead, "#495057"], ["saturated", l => l.frac_saturated, "#e67700"]];
    const left = 78, top = 4, rh = (H - top - 16) / 3, n = hidden.length, bw = (W - left - 4) / Math.max(1, n);
    ctx.font = "11px system-ui";
    rows.forEach(([label, get, col], r) => {
      const y0 = top + r * rh;
      ctx.fillStyle = "#6b7385"; ctx.textAlign = "right"; ctx.fillText(label, left - 6, y0 + rh / 2 + 4);
      ctx.fillStyle = "#f1f3f5"; ctx.fillRect(left, y0 + 3, W - left - 4, rh - 8);
      hidden.forEach((l, i) => {
        const v = get(l);
        const bh = v === null ? 0 : (rh - 8) * Math.min(1, v);
        const bad = r === 0 && l.distinct_units === 1 && l.units > 1;
        ctx.fillStyle = v === null ? "#dee2e6" : (bad ? "#c92a2a" : col);
        if (v === null) ctx.fillRect(left + i * bw + bw * 0.15, y0 + rh - 6, bw * 0.7, 1);
        else ctx.fillRect(left + i * bw + bw * 0.12, y0 + rh - 5 - bh, Math.max(1, bw * 0.76), bh);
        if (r === 0 && n <= 12 && l.distinct_units !== null) {
          ctx.fillStyle = bh > 14 ? "#fff" : "#1d2330"; ctx.textAlign = "center";
          ctx.fillText(String(l.distinct_units), left + (i + 0.5) * bw, bh > 14 ? y0 + rh - 9 : y0 + rh - 8 - bh);
        }
      });
    });
    ctx.fillStyle = "#6b7385"; ctx.textAlign = "left";
    ctx.fillText("layer 1", left, H - 3); ctx.textAlign = "right"; ctx.fillText(`layer ${n}`, W - 4, H - 3); ctx.textAlign = "left";
    $("bars-note").textContent = barsNote(hidden, S.runs[S.selected]);
  }
  function barsNote(hidden, cfg) {
    const sym = hidden.find(l => l.distinct_units === 1 && l.units > 1);
    if (sym) {
      const all = hidden.every(l => l.distinct_units === 1);
      return `${sym.name}: 1 of ${sym.units} units is distinct — the layer acts as one neuron${all && hidden.length > 1 ? " (every layer)" : ""}`;
    }
    const dead = hidden.reduce((a, l) => (l.frac_dead !== null && (!a || l.frac_dead > a.frac_dead) ? l : a), null);
    if (dead && dead.frac_dead > 0.5) return `${dead.name}: ${Math.round(100 * dead.frac_dead)}% of units output 0 for every example (dead)`;
    const sat = hidden.reduce((a, l) => (l.frac_saturated !== null && (!a || l.frac_saturated > a.frac_saturated) ? l : a), null);
    if (sat && sat.frac_saturated > 0.2) return `${sat.name}: ${Math.round(100 * sat.frac_saturated)}% of outputs sit on the flat ends of ${cfg ? cfg.activation : "the activation"}`;
    const dup = hidden.find(l => l.distinct_units !== null && l.distinct_units < l.units);
    if (dup) return `${dup.name}: ${dup.distinct_units} of ${dup.units} units are distinct`;
    return "every unit distinct; none dead or saturated";
  }

  // phase diagram: log10 χ₁ over (σ_w², σ_b²), ordered (blue) | chaotic (orange), the critical line, the runs' points
  const PH = { left: 40, right: 8, top: 8, bottom: 30 };
  let phaseCache = { key: "", img: null };
  function drawPhase(info) {
    const c = fit($("phase")), ctx = c.getContext("2d");
    const W = c.width, H = c.height;
    ctx.clearRect(0, 0, W, H);
    if (!info) return;
    const p = info.phase, pw = W - PH.left - PH.right, ph = H - PH.top - PH.bottom;
    const nw = p.sigma_w2.length, nb = p.sigma_b2.length;
    const key = `${p.activation}|${nw}|${nb}`;
    if (phaseCache.key !== key) {
      const off = document.createElement("canvas"); off.width = nw; off.height = nb;
      const octx = off.getContext("2d"), img = octx.createImageData(nw, nb);
      for (let i = 0; i < nb; i++) for (let j = 0; j < nw; j++) {
        const v = p.log10_chi1[i][j];
        const rgb = v === null ? [220, 220, 220] : divergingRGB(Math.max(-1, Math.min(1, v / 1.0)) * 0.8);
        const o = 4 * ((nb - 1 - i) * nw + j);
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
      octx.putImageData(img, 0, 0);
      phaseCache = { key, img: off };
    }
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(phaseCache.img, PH.left, PH.top, pw, ph);
    const wMax = p.sigma_w2[nw - 1], bMax = p.sigma_b2[nb - 1];
    const X = w2 => PH.left + pw * w2 / wMax, Y = b2 => PH.top + ph * (1 - b2 / bMax);
    // the edge of chaos (χ₁ = 1): a line where it runs over σ_b², a dot where it is a single point
    // (ReLU and the identity: only at σ_b = 0)
    const pieces = [[]];
    p.critical_sigma_w2.forEach((w2, i) => {
      if (w2 === null || w2 > wMax) { if (pieces[pieces.length - 1].length) pieces.push([]); return; }
      pieces[pieces.length - 1].push([X(w2), Y(p.sigma_b2[i])]);
    });
    ctx.strokeStyle = ctx.fillStyle = "#1d2330"; ctx.lineWidth = 1.5;
    for (const pts of pieces) {
      if (pts.length === 1) { ctx.beginPath(); ctx.arc(pts[0][0], pts[0][1], 3.5, 0, 2 * Math.PI); ctx.fill(); continue; }
      ctx.beginPath();
      pts.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    }
    ctx.fillStyle = "#1d2330"; ctx.font = "11px system-ui";
    ctx.textAlign = "center";
    for (const t of niceTicks(wMax, 5)) { ctx.fillText(fmt(t, 2), X(t), H - 16); }
    ctx.fillText("σ_w²", PH.left + pw / 2, H - 3);
    ctx.textAlign = "right";
    for (const t of [0, 0.25, 0.5]) ctx.fillText(String(t), PH.left - 4, Y(t) + 4);
    ctx.save(); ctx.translate(10, PH.top + ph / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center"; ctx.fillText("σ_b²", 0, 0); ctx.restore();
    ctx.textAlign = "left"; ctx.fillStyle = "rgba(29,35,48,.75)";
    ctx.fillText("ordered", PH.left + 6, PH.top + 14);
    ctx.textAlign = "right"; ctx.fillText("chaotic", PH.left + pw - 6, PH.top + 14); ctx.textAlign = "left";
    let note = "";
    S.runs.forEach((cfg, i) => {
      const f = S.latest[i];
      if (!f || !f.phase_point || f.phase_point.sigma_w2 === null || !S.info[i] || S.info[i].phase.activation !== p.activation) return;
      const start = S.initPoint[i] || f.phase_point;
      const now = f.phase_point;
      const inside = pt => pt.sigma_w2 <= wMax && pt.sigma_b2 <= bMax;
      // the initialization: a ring; where training has moved the weights since: a dot
      if (f.step > 0) {
        ctx.beginPath(); ctx.arc(X(Math.min(now.sigma_w2, wMax)), Y(Math.min(now.sigma_b2, bMax)), 3, 0, 2 * Math.PI);
        ctx.fillStyle = RUN_COLORS[i]; ctx.globalAlpha = inside(now) ? 0.9 : 0.4; ctx.fill(); ctx.globalAlpha = 1;
      }
      ctx.beginPath(); ctx.arc(X(Math.min(start.sigma_w2, wMax)), Y(Math.min(start.sigma_b2, bMax)), i === S.selected ? 6.5 : 5, 0, 2 * Math.PI);
      ctx.lineWidth = 3; ctx.strokeStyle = RUN_COLORS[i]; ctx.stroke();
      ctx.lineWidth = 1; ctx.strokeStyle = "#fff"; ctx.stroke();
      if (i === S.selected) {
        const chi = lookupChi(p, start.sigma_w2, start.sigma_b2);
        note = `init: σ_w² = ${fmt(start.sigma_w2)}, σ_b² = ${fmt(start.sigma_b2)}` + (!inside(start) ? " (beyond the chart)" : "") +
          (chi !== null ? ` · χ₁ ≈ ${fmt(chi, 2)} ` + (Math.abs(Math.log10(chi)) < 0.05 ? "— the edge of chaos" : chi < 1 ? "— ordered: inputs become alike with depth" : "— chaotic: nearby inputs decorrelate") : "");
      }
    });
    $("phase-note").textContent = note || `${p.activation}: click a point to initialize there`;
  }
  function niceTicks(max, n) {
    const step0 = max / n, mag = 10 ** Math.floor(Math.log10(step0));
    const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= step0);
    const out = [];
    for (let t = 0; t <= max + 1e-9; t += step) out.push(+t.toPrecision(6));
    return out;
  }
  function lookupChi(p, w2, b2) {
    const nw = p.sigma_w2.length, nb = p.sigma_b2.length;
    const j = Math.round((w2 / p.sigma_w2[nw - 1]) * nw) - 1, i = Math.round(b2 / p.sigma_b2[nb - 1] * (nb - 1));
    if (j < 0 || j >= nw || i < 0 || i >= nb) return null;
    const v = p.log10_chi1[i][j];
    return v === null ? null : 10 ** v;
  }
  function onPhaseClick(ev) {
    const info = S.info[S.selected];
    if (!info) return;
    const c = $("phase"), r = c.getBoundingClientRect();
    const x = (ev.clientX - r.left) * c.width / r.width, y = (ev.clientY - r.top) * c.height / r.height;
    const p = info.phase, pw = c.width - PH.left - PH.right, ph = c.height - PH.top - PH.bottom;
    const w2 = p.sigma_w2[p.sigma_w2.length - 1] * (x - PH.left) / pw, b2 = p.sigma_b2[p.sigma_b2.length - 1] * (1 - (y - PH.top) / ph);
    if (w2 <= 0 || b2 < -0.01 || x > c.width - PH.right || y < PH.top) return;
    S.lastInput = 0; S.pending[S.selected] = true;
    send({ type: "phase", run: S.selected, sigma_w2: +w2.toPrecision(3), sigma_b2: +Math.max(0, b2).toPrecision(3) });
  }

  // output: decision boundary and neurons (2-D), or the confusion matrix (10 classes)
  const b64 = s => Uint8Array.from(atob(s), ch => ch.charCodeAt(0));
  let boundaryImg = null, pointsKey = "";
  function drawOutput(f, info) {
    const c = $("boundary"), ctx = c.getContext("2d"), W = c.width, H = c.height;
    const nc = $("neurons"), nctx = nc.getContext("2d");
    ctx.clearRect(0, 0, W, H); nctx.clearRect(0, 0, nc.width, nc.height);
    if (!f || !info) return;
    if (info.data.plane && f.boundary) {
      $("out-caption").innerHTML = "decision boundary <small>● train ○ test</small>";
      const n = f.boundary.size, p = b64(f.boundary.p1);
      if (!boundaryImg || boundaryImg.width !== n) { boundaryImg = document.createElement("canvas"); boundaryImg.width = boundaryImg.height = n; }
      const bctx = boundaryImg.getContext("2d"), img = bctx.createImageData(n, n);
      for (let k = 0; k < n * n; k++) {
        const rgb = divergingRGB(((p[k] / 255) - 0.5) * 2 * 0.75);
        img.data[4 * k] = rgb[0]; img.data[4 * k + 1] = rgb[1]; img.data[4 * k + 2] = rgb[2]; img.data[4 * k + 3] = 255;
      }
      bctx.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(boundaryImg, 0, 0, W, H);
      ctx.drawImage(pointsLayer(info, W, H), 0, 0);
      drawNeurons(nctx, nc, f.neurons);
    } else if (f.confusion) {
      $("out-caption").innerHTML = "confusion <small>test set, row = true class</small>";
      drawConfusion(ctx, W, H, f.confusion);
      drawClassBars(nctx, nc, f.confusion, info.data.chance);
    }
  }
  // the data points change only with the data set: drawn once into a layer of their own
  let pointsCache = { key: null, canvas: null };
  function pointsLayer(info, W, H) {
    const key = `${info.data.name}|${info.data.n_train}|${info.config.noise}|${W}|${H}`;
    if (pointsCache.key === key) return pointsCache.canvas;
    const c = document.createElement("canvas"); c.width = W; c.height = H;
    const ctx = c.getContext("2d");
    const e = info.data.extent, X = v => (v + e) / (2 * e) * W, Y = v => (e - v) / (2 * e) * H;
    for (const [pts, test] of [[info.data.train, false], [info.data.test, true]]) {
      for (const [x, y, lab] of pts) {
        ctx.beginPath(); ctx.arc(X(x), Y(y), 2.3, 0, 2 * Math.PI);
        const col = lab ? `rgb(${POS})` : `rgb(${NEG})`;
        if (test) { ctx.strokeStyle = col; ctx.lineWidth = 1.2; ctx.stroke(); }
        else { ctx.fillStyle = col; ctx.fill(); ctx.strokeStyle = "#fff"; ctx.lineWidth = 0.6; ctx.stroke(); }
      }
    }
    pointsCache = { key, canvas: c };
    return c;
  }
  let neuronSheet = null;
  function drawNeurons(ctx, c, nr) {
    if (!nr) return;
    const v = new Int8Array(b64(nr.values).buffer), n = nr.size, L = nr.layers.length, U = nr.units;
    const depth = S.runs[S.selected].depth;
    $("neurons-caption").innerHTML = `neurons <small>${L < depth ? `${L} of ${depth} layers` : `${L} layers`} × ${U} units</small>`;
    // every tile into one image (layer l, unit u at column l, row u), then scaled tile by tile
    if (!neuronSheet || neuronSheet.width !== L * n || neuronSheet.height !== U * n) {
      neuronSheet = document.createElement("canvas"); neuronSheet.width = L * n; neuronSheet.height = U * n;
    }
    const sctx = neuronSheet.getContext("2d"), img = sctx.createImageData(L * n, U * n), W = L * n;
    for (let l = 0; l < L; l++) for (let u = 0; u < U; u++) {
      const base = (l * U + u) * n * n;
      for (let k = 0; k < n * n; k++) {
        const rgb = divergingRGB(v[base + k] / 127);
        const o = 4 * ((u * n + Math.floor(k / n)) * W + l * n + (k % n));
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
    }
    sctx.putImageData(img, 0, 0);
    const top = 14, gap = 3;
    const tile = Math.floor(Math.min((c.width - gap * (L - 1)) / L, (c.height - top - gap * (U - 1)) / U));
    ctx.font = "10px system-ui"; ctx.fillStyle = "#6b7385"; ctx.textAlign = "center";
    ctx.imageSmoothingEnabled = true;
    for (let l = 0; l < L; l++) {
      ctx.fillText(String(nr.layers[l]), l * (tile + gap) + tile / 2, 10);
      for (let u = 0; u < U; u++) ctx.drawImage(neuronSheet, l * n, u * n, n, n, l * (tile + gap), top + u * (tile + gap), tile, tile);
    }
    ctx.textAlign = "left";
  }
  function drawConfusion(ctx, W, H, m) {
    const k = m.length, cell = Math.floor(Math.min(W, H - 4) / k);
    ctx.font = "9px system-ui"; ctx.textAlign = "center";
    for (let i = 0; i < k; i++) {
      const total = m[i].reduce((a, b) => a + b, 0) || 1;
      for (let j = 0; j < k; j++) {
        const share = m[i][j] / total;
        const base = i === j ? [47, 158, 68] : [201, 42, 42];
        const a = i === j ? share : Math.min(1, share * 3);
        ctx.fillStyle = `rgba(${base},${a * 0.85 + (m[i][j] ? 0.08 : 0)})`;
        ctx.fillRect(j * cell, i * cell, cell - 1, cell - 1);
        if (m[i][j] && cell >= 18) { ctx.fillStyle = a > 0.5 ? "#fff" : "#1d2330"; ctx.fillText(String(m[i][j]), j * cell + cell / 2, i * cell + cell / 2 + 3); }
      }
    }
    ctx.textAlign = "left";
  }
  function drawClassBars(ctx, c, m, chance) {
    $("neurons-caption").innerHTML = "accuracy per class <small>┄ chance</small>";
    const k = m.length, W = c.width, H = c.height, bottom = 16, bw = W / k;
    ctx.font = "10px system-ui"; ctx.textAlign = "center";
    for (let i = 0; i < k; i++) {
      const total = m[i].reduce((a, b) => a + b, 0) || 1, acc = m[i][i] / total;
      ctx.fillStyle = "#f1f3f5"; ctx.fillRect(i * bw + 2, 4, bw - 4, H - bottom - 4);
      ctx.fillStyle = "#2f9e44"; ctx.fillRect(i * bw + 2, H - bottom - (H - bottom - 4) * acc, bw - 4, (H - bottom - 4) * acc);
      ctx.fillStyle = "#6b7385"; ctx.fillText(String(i), i * bw + bw / 2, H - 4);
    }
    const y = H - bottom - (H - bottom - 4) * chance;
    ctx.strokeStyle = "#1d2330"; ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(W, y); ctx.stroke(); ctx.setLineDash([]);
    ctx.textAlign = "left";
  }

  function drawCurves(info) {
    const runs = S.runs.map((_, i) => i).filter(i => S.history[i] && S.history[i].length);
    const steps = [...new Set(runs.flatMap(i => S.history[i].map(p => p.step)))].sort((a, b) => a - b);
    for (const [key, el, tr, te, log] of [["loss", $("loss"), "trl", "tel", true], ["acc", $("acc"), "tra", "tea", false]]) {
      const series = [], data = [steps];
      for (const i of runs) {
        const col = RUN_COLORS[i], at = new Map(S.history[i].map(p => [p.step, p]));
        series.push({ stroke: col, width: 2, spanGaps: true, points: { show: false } });
        series.push({ stroke: col, width: 1.5, dash: [5, 4], spanGaps: true, points: { show: false } });
        data.push(steps.map(s => (at.has(s) ? (log ? lg(at.get(s)[tr]) : at.get(s)[tr]) : null)));
        data.push(steps.map(s => (at.has(s) ? (log ? lg(at.get(s)[te]) : at.get(s)[te]) : null)));
      }
      const chart = ensureChart(key, el, series, log ? { logY: true, xLabel: "step" } : { yRange: [0, 1], xLabel: "step" });
      chart.setData(data);
    }
  }

  function runLabels() {
    // what tells the runs apart: the fields whose values differ, shortest first
    const keys = KEYS.map(k => k[0]).filter(k => new Set(S.runs.map(r => fieldText(r, k))).size > 1);
    return S.runs.map(r => keys.map(k => fieldText(r, k)).join(", ") || "same config");
  }
  function drawLegend() {
    const el = $("legend");
    const html = S.runs.length < 2 ? "" : runLabels().map((l, i) =>
      `<span style="color:${RUN_COLORS[i]}">● ${RUN_NAMES[i]}</span> ${escapeHtml(l)}`).join(" &nbsp; ");
    if (el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; }
  }
  const escapeHtml = t => t.replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  function drawFindings() {
    const ul = $("findings");
    const frames = S.runs.map((_, i) => S.latest[i]).filter(Boolean);
    const key = JSON.stringify(frames.map(f => [f.run, f.gen, f.findings.map(x => [x.kind, x.message, x.apply])]));
    if (ul.dataset.key === key) return;
    ul.dataset.key = key;
    ul.innerHTML = "";
    for (const f of frames) {
      for (const x of f.findings) {
        const li = document.createElement("li");
        li.className = x.kind === "healthy" ? "healthy" : "bad";
        if (S.runs.length > 1) {
          const tag = document.createElement("span");
          tag.className = "tag"; tag.style.color = RUN_COLORS[f.run]; tag.textContent = `● ${RUN_NAMES[f.run]} `;
          li.appendChild(tag);
        }
        const b = document.createElement("b"); b.textContent = x.kind;
        li.append(b, ": ", x.message);
        if (x.kind !== "healthy") {
          const fix = document.createElement("div"); fix.className = "fix";
          fix.textContent = x.apply ? `fix: ${schemeText(x.apply.scheme, x.apply.scheme_params)}`
            : x.in_place ? "the run already starts from the scheme the fix names: this came with training"
            : x.fix === null ? "no initialization fixes this" : "";
          if (x.apply) {
            const btn = document.createElement("button");
            btn.textContent = "apply fix";
            btn.onclick = () => {
              Object.assign(S.runs[f.run], JSON.parse(JSON.stringify(x.apply)));
              S.lastInput = 0; S.claim = null; writeControls(); writeHash(); sendRuns();
            };
            fix.append(" ", btn);
          }
          li.appendChild(fix);
        }
        ul.appendChild(li);
      }
    }
  }

  bindControls();
  connect();
})();
