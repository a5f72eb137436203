// Baton's live view: polls /api/live (the admin token as a bearer token) and draws the cluster:
// the router, each destination host, and every connection move as a dot travelling between them.
// Plain SVG and DOM, no build step.
(() => {
  "use strict";
  const svgNs = "http://www.w3.org/2000/svg";
  const $ = id => document.getElementById(id);
  const pollMs = 500, sparkPoints = 120;
  const colors = { handoff: "--handoff", pass: "--pass", stay: "--stay", return: "--return", relay: "--relay", local: "--local", adaptive: "--handoff" };
  const hosts = new Map();   // name -> { g, x, y }
  const samplesOf = new Map(); // name -> requests/s samples
  let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("baton-token");
  let cursor = 0, last = null, dots = 0, totalMoves = 0;

  if (location.hash) window.history.replaceState(null, "", location.pathname + location.search); // the token leaves the address bar
  if (token) sessionStorage.setItem("baton-token", token);

  function el(name, attrs, parent) {
    const e = document.createElementNS(svgNs, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  function color(how) {
    const v = colors[how] || "--router";
    return getComputedStyle(document.documentElement).getPropertyValue(v).trim();
  }

  // Where dots start and end: the facing edges, so that they never cover a name.
  function position(name) {
    if (name === "router") return { x: 496, y: 210 };
    const h = hosts.get(name);
    return h ? { x: h.x - 88, y: h.y } : { x: 496, y: 210 };
  }

  // One host box per destination name, in a column on the right, re-laid out when the set changes.
  function layoutHosts(names) {
    const known = [...hosts.keys()];
    if (known.length === names.length && names.every(n => hosts.has(n))) return;
    const group = $("hosts"), links = $("links");
    group.replaceChildren(); links.replaceChildren(); hosts.clear();
    el("line", { x1: 90, y1: 210, x2: 420, y2: 210 }, links);
    const step = Math.min(90, 380 / Math.max(names.length, 1));
    names.forEach((name, i) => {
      const x = 830, y = 210 + (i - (names.length - 1) / 2) * step;
      el("line", { x1: 420, y1: 210, x2: x, y2: y }, links);
      const g = el("g", { class: "host", "data-name": name, transform: `translate(${x},${y})` }, group);
      el("rect", { x: -80, y: -Math.min(34, step / 2 - 4), width: 160, height: Math.min(68, step - 8), rx: 8 }, g);
      const t = el("text", { dy: -2 }, g); t.textContent = name;
      const sub = el("text", { class: "sub", dy: 14 }, g); sub.textContent = "";
      hosts.set(name, { g, x, y, sub });
    });
  }

  // A dot from one place to another (a stay pulses at its host).
  function animate(move) {
    totalMoves++;
    if (dots > 150) return; // counts still count; the map just skips what it cannot draw
    const from = position(move.from), to = position(move.to);
    const pulse = move.from === move.to; // a stay, or a request the router answered itself
    const dot = el("circle", { class: "dot", r: pulse ? 7 : 5, fill: color(move.how), cx: from.x, cy: from.y }, $("dots"));
    dots++;
    const start = performance.now(), length = 700;
    function step(now) {
      const t = Math.min(1, (now - start) / length), e = t * (2 - t);
      if (pulse) dot.setAttribute("r", 5 + 10 * t), dot.setAttribute("opacity", 1 - t);
      else dot.setAttribute("cx", from.x + (to.x - from.x) * e), dot.setAttribute("cy", from.y + (to.y - from.y) * e);
      if (t < 1) requestAnimationFrame(step); else { dot.remove(); dots--; }
    }
    requestAnimationFrame(step);
  }

  function spark(samples) {
    const w = 120, h = 24, max = Math.max(1, ...samples);
    const pts = samples.map((v, i) => `${(i / (sparkPoints - 1)) * w},${h - (v / max) * h}`).join(" ");
    return `<svg class="spark" width="${w}" height="${h}"><polyline points="${pts}"></polyline></svg>`;
  }

  function render(s) {
    const seconds = last ? (Date.parse(s.at) - Date.parse(last.at)) / 1000 : 0;
    const reset = last && last.since !== s.since;
    const byName = new Map();
    for (const d of s.destinations) {
      const e = byName.get(d.name) || { ...d, clusters: [] };
      e.clusters.push(d.cluster);
      if (d.health === "unhealthy") e.health = "unhealthy";
      if (!d.available) e.available = false;
      byName.set(d.name, e);
    }
    layoutHosts([...byName.keys()]);
    const prev = new Map((last && !reset ? last.destinations : []).map(d => [d.name, d]));
    const rows = [];
    for (const [name, d] of byName) {
      const p = prev.get(name);
      const rps = p && seconds > 0 ? Math.max(0, (d.requests - p.requests) / seconds) : 0;
      const samples = samplesOf.get(name) || [];
      samples.push(rps); while (samples.length < sparkPoints) samples.unshift(0); if (samples.length > sparkPoints) samples.shift();
      samplesOf.set(name, samples);
      const n = p ? d.transactions - p.transactions : 0;
      const mean = n > 0 ? ((d.transactionSeconds - p.transactionSeconds) / n) * 1000 : null;
      const h = hosts.get(name);
      h.g.classList.toggle("unhealthy", d.health === "unhealthy" || (!d.available && !d.draining));
      h.g.classList.toggle("draining", d.draining);
      h.sub.textContent = `${rps.toFixed(0)}/s · ${d.connections} conn${d.draining ? " · draining" : ""}`;
      rows.push(`<tr data-name="${name}"><td>${name}</td><td>${d.clusters.join(", ")}</td><td>${d.transfer}</td>` +
        `<td class="health-${d.health}">${d.health}${d.draining ? ' <span class="draining">draining</span>' : ""}${d.available ? "" : " (not chosen)"}</td>` +
        `<td class="num">${rps.toFixed(1)}</td><td>${spark(samples)}</td><td class="num">${mean === null ? "—" : mean.toFixed(2) + " ms"}</td>` +
        `<td class="num">${d.active}</td><td class="num">${d.connections}</td></tr>`);
    }
    document.querySelector("#destinations tbody").innerHTML = rows.join("");
    const t = s.totals, lt = last && !reset ? last.totals : null;
    $("stat-rps").textContent = lt && seconds > 0 ? Math.max(0, (t.requests - lt.requests) / seconds).toFixed(0) : "0";
    $("stat-handoffs").textContent = t.handoffs;
    $("stat-passes").textContent = t.passes;
    $("stat-stays").textContent = t.stays;
    $("stat-returns").textContent = t.returns;
    $("stat-connections").textContent = s.connections;
    $("since").textContent = new Date(s.since).toLocaleTimeString();
    for (const m of s.moves) animate(m);
    cursor = s.cursor;
    last = s;
  }

  async function poll() {
    if (!token) { $("token-form").hidden = false; $("status").textContent = "give the admin token to watch"; return; }
    try {
      const r = await fetch(`api/live?since=${cursor}`, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
      if (r.status === 401) {
        sessionStorage.removeItem("baton-token"); token = null;
        $("status").textContent = "the router refused the token"; $("status").classList.add("error");
        $("token-form").hidden = false;
        return;
      }
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      render(await r.json());
      $("status").textContent = "live"; $("status").classList.remove("error");
    } catch (e) {
      $("status").textContent = `cannot reach the router: ${e.message}`; $("status").classList.add("error");
    }
    setTimeout(poll, pollMs);
  }

  $("token-form").addEventListener("submit", e => {
    e.preventDefault();
    token = $("token-input").value.trim();
    sessionStorage.setItem("baton-token", token);
    $("token-form").hidden = true;
    $("status").classList.remove("error");
    poll();
  });
  poll();
})();
