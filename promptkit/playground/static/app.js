// promptkit playground: everything shown here comes from the JSON API (promptkit/playground/api.py).
// Offsets are UTF-16 units, as JavaScript strings count them.
"use strict";

const $ = (id) => document.getElementById(id);
const ROLES = ["prompt", "negative_prompt"];
const RANK = { info: 0, warning: 1, error: 2 };
const ENDED = {
  break: "ended by BREAK", full: "full (75 tokens)", end: "last chunk",
  backtrack: "cut at the last comma (A1111 moves the words after it to the next chunk)",
};
const state = { profile: "", dialect: "", analysis: null, seq: 0, completion: null, hoverSeq: 0 };

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function target(extra) {
  const out = { profile: state.profile };
  if (state.dialect) out.dialect = state.dialect;
  return Object.assign(out, extra || {});
}

function esc(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of children || []) node.append(child);
  return node;
}

function editorOf(role) { return document.querySelector(`.editor[data-role="${role}"]`); }

// -- findings underlined in the text ------------------------------------------------------------------------
function renderBackdrop(role, findings) {
  const area = $(role);
  const backdrop = editorOf(role).querySelector(".backdrop");
  const text = area.value;
  const shown = (findings || []).slice(0, 500);
  const cuts = new Set([0, text.length]);
  for (const f of shown) {
    cuts.add(Math.min(f.start, text.length));
    cuts.add(Math.min(Math.max(f.end, f.start + 1), text.length));
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  let html = "";
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [s, e] = [sorted[i], sorted[i + 1]];
    let severity = null;
    for (const f of shown) {
      if (f.start <= s && Math.max(f.end, f.start + 1) >= e && (severity === null || RANK[f.severity] > RANK[severity])) {
        severity = f.severity;
      }
    }
    const piece = esc(text.slice(s, e));
    html += severity ? `<mark class="${severity}">${piece}</mark>` : piece;
  }
  backdrop.innerHTML = html + "\n";
  backdrop.scrollTop = area.scrollTop;
}

function renderFindings(role, findings) {
  const list = $(`findings-${role}`);
  list.replaceChildren();
  if (!findings.length) {
    list.append(el("li", { class: "none", text: "No findings." }));
    return;
  }
  for (const f of findings.slice(0, 200)) {
    const item = el("li", { class: f.severity, "data-code": f.code }, [
      el("span", { class: "code", text: f.code }), el("span", { class: "message", text: f.message }),
    ]);
    if (f.fix) {
      const label = f.fix.safe ? `Fix: ${f.fix.description}` : `Fix (unsafe): ${f.fix.description}`;
      const button = el("button", { type: "button", class: f.fix.safe ? "fix safe" : "fix unsafe", text: label });
      button.addEventListener("click", () => applyFix(role, f));
      item.append(button);
    }
    list.append(item);
  }
}

async function applyFix(role, finding) {
  const area = $(role);
  try {
    const result = await api("/api/fix", target({
      text: area.value, negative: role !== "prompt", code: finding.code, start: finding.start, end: finding.end,
    }));
    area.value = result.text;
    analyze();
  } catch (error) { setStatus(error.message); }
}

async function fixAll(role) {
  const area = $(role);
  try {
    const result = await api("/api/fix", target({ text: area.value, negative: role !== "prompt", all: true }));
    area.value = result.text;
    analyze();
  } catch (error) { setStatus(error.message); }
}

async function formatPrompt() {
  const area = $("prompt");
  try {
    area.value = (await api("/api/format", target({ text: area.value }))).text;
    analyze();
  } catch (error) { setStatus(error.message); }
}

// -- chunks and conversions --------------------------------------------------------------------------------
function weightColour(weight) {
  if (Math.abs(weight - 1) < 1e-6) return "#e8ebf0";
  if (weight > 1) return `hsl(24, 95%, ${Math.max(55, 92 - (weight - 1) * 60)}%)`;
  return `hsl(215, 85%, ${Math.max(60, 70 + weight * 22)}%)`;
}

function renderChunks(view) {
  const box = $("chunks");
  box.replaceChildren();
  $("token-count").textContent = view ? `· ${view.token_count} tokens` +
    (view.chunk_total > view.chunks.length ? ` (the first ${view.chunks.length} of ${view.chunk_total} chunks shown)` : "") : "";
  if (!view) return;
  view.chunks.forEach((chunk, i) => {
    const over = view.max_chunks !== null && i >= view.max_chunks;
    const label = `chunk ${i + 1}: ${chunk.tokens.length} tokens, ${ENDED[chunk.ended]}` +
      (over ? ` — past the ${view.max_chunks} chunk(s) this model's encoder reads` : "");
    const row = el("div", { class: over ? "chunk over" : "chunk", "data-ended": chunk.ended }, [
      el("div", { class: "chunk-label", text: label }),
    ]);
    for (const token of chunk.tokens) {
      const tok = el("span", {
        class: "tok", title: `${token.text.trim()} · weight ${+token.weight.toFixed(4)}`,
        "data-weight": String(token.weight), text: token.text.trim() || "·",
      });
      tok.style.background = weightColour(token.weight);
      row.append(tok);
    }
    box.append(row);
  });
}

function renderConversions(list) {
  const box = $("conversions");
  box.replaceChildren();
  for (const c of list || []) {
    box.append(el("dt", { text: c.dialect }));
    box.append(c.error ? el("dd", { class: "refused", text: `cannot be written: ${c.error}` })
                       : el("dd", { "data-dialect": c.dialect, text: c.text }));
  }
}

// -- analysis as you type ----------------------------------------------------------------------------------
function setStatus(text) { $("status").textContent = text; }

// body[data-analyzing] is set from an edit until the analysis of the text as it now stands is shown;
// body[data-analyzed] then names that analysis (what the browser tests wait for).
let analyzeTimer = null;
function analyzeSoon(role) {
  if (role) renderBackdrop(role, []);  // the text moved: its old underlines would be in the wrong place
  document.body.dataset.analyzing = "";
  clearTimeout(analyzeTimer);
  analyzeTimer = setTimeout(analyze, 150);
}

async function analyze() {
  const seq = ++state.seq;
  const started = performance.now();
  const sent = { prompt: $("prompt").value, negative_prompt: $("negative_prompt").value };
  document.body.dataset.analyzing = "";
  setStatus("linting…");
  try {
    const result = await api("/api/analyze", target(sent));
    if (seq !== state.seq) return;
    // edited meanwhile: these spans belong to the old text (the edit has scheduled its own analysis)
    if (ROLES.some((role) => $(role).value !== sent[role])) return;
    state.analysis = result;
    let count = 0;
    for (const role of ROLES) {
      renderBackdrop(role, result[role].findings);
      renderFindings(role, result[role].findings);
      count += result[role].findings.length;
    }
    renderChunks(result.prompt.chunks);
    renderConversions(result.prompt.conversions);
    setStatus(`${count} finding(s) · ${result.profile} · ${result.dialect} · ${Math.round(performance.now() - started)} ms`);
    document.body.dataset.analyzed = String(seq);
    delete document.body.dataset.analyzing;
  } catch (error) {
    if (seq === state.seq && ROLES.every((role) => $(role).value === sent[role])) {
      setStatus(error.message);
      delete document.body.dataset.analyzing;
    }
  }
}

// -- completion --------------------------------------------------------------------------------------------
function caretPoint(role) {
  const editor = editorOf(role);
  const area = $(role);
  const mirror = el("div", { class: "backdrop" });
  mirror.style.visibility = "hidden";
  mirror.innerHTML = esc(area.value.slice(0, area.selectionStart)) + '<span class="caret-mark">\u200b</span>';
  editor.append(mirror);
  mirror.scrollTop = area.scrollTop;
  const mark = mirror.querySelector(".caret-mark");
  const rect = editor.getBoundingClientRect();
  const point = { left: rect.left + window.scrollX + mark.offsetLeft,
                  top: rect.top + window.scrollY + mark.offsetTop - area.scrollTop + mark.offsetHeight + 4 };
  mirror.remove();
  return point;
}

let completeTimer = null;
function completeSoon(role) {
  clearTimeout(completeTimer);
  completeTimer = setTimeout(() => complete(role), 60);
}

async function complete(role) {
  const area = $(role);
  const offset = area.selectionStart;
  const text = area.value;
  if (!text || /[,\n]\s*$/.test(text.slice(0, offset))) { hideCompletion(); return; }
  try {
    const result = await api("/api/complete", target({ text, offset, negative: role !== "prompt" }));
    if (area.value !== text || area.selectionStart !== offset || document.activeElement !== area) return;
    showCompletion(role, result);
  } catch (error) { hideCompletion(); }
}

function showCompletion(role, result) {
  const list = $("completion");
  const typed = $(role).value.slice(result.start, result.end);
  if (!result.items.length || result.items.every((i) => i.insert === typed)) { hideCompletion(); return; }
  state.completion = { role, result, selected: 0 };
  list.dataset.start = String(result.start);  // the text the list would replace (for the browser tests)
  list.dataset.end = String(result.end);
  list.replaceChildren();
  result.items.forEach((item, i) => {
    const li = el("li", { role: "option", "aria-selected": String(i === 0), "data-insert": item.insert }, [
      el("span", { class: "label", text: item.label }), el("span", { class: "detail", text: item.detail || "" }),
    ]);
    li.addEventListener("mousedown", (event) => { event.preventDefault(); acceptCompletion(i); });
    list.append(li);
  });
  const point = caretPoint(role);
  list.style.left = `${point.left}px`;
  list.style.top = `${point.top}px`;
  list.hidden = false;
}

function hideCompletion() { $("completion").hidden = true; state.completion = null; }

function moveSelection(step) {
  const c = state.completion;
  const items = $("completion").children;
  c.selected = (c.selected + step + items.length) % items.length;
  [...items].forEach((li, i) => li.setAttribute("aria-selected", String(i === c.selected)));
  items[c.selected].scrollIntoView({ block: "nearest" });
}

function acceptCompletion(index) {
  const c = state.completion;
  if (!c) return;
  const area = $(c.role);
  const item = c.result.items[index];
  const text = area.value;
  area.value = text.slice(0, c.result.start) + item.insert + text.slice(c.result.end);
  const caret = c.result.start + item.insert.length;
  area.setSelectionRange(caret, caret);
  area.focus();
  hideCompletion();
  analyzeSoon(c.role);
}

// -- tag info on hover -------------------------------------------------------------------------------------
function offsetAt(role, x, y) {
  const area = $(role);
  const backdrop = editorOf(role).querySelector(".backdrop");
  area.style.pointerEvents = "none";
  backdrop.style.pointerEvents = "auto";
  const range = document.caretRangeFromPoint ? document.caretRangeFromPoint(x, y) : null;
  area.style.pointerEvents = "";
  backdrop.style.pointerEvents = "";
  if (!range || !backdrop.contains(range.startContainer)) return null;
  let offset = 0;
  const walker = document.createTreeWalker(backdrop, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node === range.startContainer) return offset + range.startOffset;
    offset += node.textContent.length;
  }
  return null;
}

function hoverText(info) {
  if (info.kind === "network") return `<b>${esc(info.network)}</b> ${esc(info.name)} · strength ${info.strength}`;
  const lines = [];
  if (info.known && info.post_count !== undefined) {
    lines.push(`<b>${esc(info.tag)}</b> · ${esc(info.category)} · ${info.post_count.toLocaleString("en")} posts · ${esc(info.source)}`);
  } else if (info.known) {
    lines.push(`<b>${esc(info.tag)}</b> · ${esc(info.category)} (the profile's own tag)`);
  } else {
    lines.push(`<b>${esc(info.text)}</b> · ${esc(info.category)}`);
  }
  if (info.matched === "alias") lines.push(`${esc(info.name)} is an alias of ${esc(info.tag)}`);
  if (info.aliases && info.aliases.length) lines.push(`also written: ${esc(info.aliases.join(", "))}`);
  if (info.implies && info.implies.length) lines.push(`implies: ${esc(info.implies.join(", "))}`);
  if (info.suggestions && info.suggestions.length) lines.push(`did you mean: ${esc(info.suggestions.join(", "))}?`);
  const where = info.chunks.length === 1 ? `chunk ${info.chunks[0] + 1}` :
    info.chunks.length ? `cut across chunks ${info.chunks.map((c) => c + 1).join(", ")}` : "no tokens";
  lines.push(`${where} of ${info.chunk_count} · weight ${+info.weight.toFixed(4)}${info.branch ? " · " + esc(info.branch) : ""}`);
  return lines.join("<br>");
}

let hoverTimer = null;
function hoverSoon(role, event) {
  clearTimeout(hoverTimer);
  const { clientX, clientY, pageX, pageY } = event;
  hoverTimer = setTimeout(() => hover(role, clientX, clientY, pageX, pageY), 150);
}

async function hover(role, x, y, pageX, pageY) {
  const tip = $("tooltip");
  const offset = offsetAt(role, x, y);
  if (offset === null) { tip.hidden = true; return; }
  const seq = ++state.hoverSeq;
  try {
    const result = await api("/api/hover", target({ text: $(role).value, offset, negative: role !== "prompt" }));
    if (seq !== state.hoverSeq) return;
    if (!result.info) { tip.hidden = true; return; }
    tip.innerHTML = hoverText(result.info);
    tip.style.left = `${pageX + 12}px`;
    tip.style.top = `${pageY + 16}px`;
    tip.hidden = false;
  } catch (error) { tip.hidden = true; }
}

// -- wiring ------------------------------------------------------------------------------------------------
async function start() {
  const params = new URLSearchParams(location.search);
  const profiles = await api("/api/profiles");
  const picker = $("profile");
  for (const p of profiles) picker.append(el("option", { value: p.id, text: `${p.title} (${p.id})` }));
  state.profile = params.get("profile") || (profiles.find((p) => p.id === "sdxl-base") || profiles[0]).id;
  picker.value = state.profile;
  picker.addEventListener("change", () => { state.profile = picker.value; analyze(); });
  $("dialect").addEventListener("change", () => { state.dialect = $("dialect").value; analyze(); });
  $("fix-all-prompt").addEventListener("click", () => fixAll("prompt"));
  $("fix-all-negative").addEventListener("click", () => fixAll("negative_prompt"));
  $("format-prompt").addEventListener("click", formatPrompt);
  for (const role of ROLES) {
    const area = $(role);
    area.addEventListener("input", () => { analyzeSoon(role); completeSoon(role); });
    area.addEventListener("scroll", () => { editorOf(role).querySelector(".backdrop").scrollTop = area.scrollTop; });
    area.addEventListener("blur", hideCompletion);
    area.addEventListener("mousemove", (event) => hoverSoon(role, event));
    area.addEventListener("mouseleave", () => { clearTimeout(hoverTimer); $("tooltip").hidden = true; });
    area.addEventListener("keydown", (event) => {
      if (!state.completion || state.completion.role !== role) return;
      if (event.key === "ArrowDown") { event.preventDefault(); moveSelection(1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); moveSelection(-1); }
      else if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); acceptCompletion(state.completion.selected); }
      else if (event.key === "Escape") { hideCompletion(); }
    });
  }
  if (params.get("prompt")) $("prompt").value = params.get("prompt");
  analyze();
}

start();
