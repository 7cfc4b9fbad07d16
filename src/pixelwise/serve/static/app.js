// pixelwise serve: the page. Plain JS, no build step; talks to the JSON API of the same server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, items: [], current: null, run: 0 };

class ApiError extends Error {
  constructor(status, body) {
    const text = body && body.error ? body.error : `HTTP ${status}`;
    super(text);
    this.status = status;
    this.detail = body ? body.detail : null;
  }
}

async function api(url, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const response = await fetch(url, { ...options, headers });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percent = (value) => (value === undefined || value === null ? "–" : `${(100 * value).toFixed(1)}%`);
const seconds = (value) => (value < 1 ? `${Math.round(1000 * value)} ms` : `${value.toFixed(2)} s`);

function setStatus(text, done = null, total = null) {
  $("status-text").textContent = text;
  const bar = $("progress");
  bar.hidden = total === null;
  if (total !== null) {
    bar.max = Math.max(total, 1);
    bar.value = done;
  }
}

function showError(error) {
  const box = $("error");
  const detail = error.detail ? `\n${JSON.stringify(error.detail, null, 1)}` : "";
  const status = error.status ? ` (${error.status})` : "";
  box.textContent = `${error.message}${status}${detail}`;
  box.hidden = false;
  const shown = $("overlay").dataset.job ? " The previous result is still shown below." : "";
  setStatus(`The prediction did not run.${shown}`);
  $("timing").textContent = "";
}

function legendRows(result) {
  const body = $("legend").querySelector("tbody");
  body.replaceChildren();
  const rows = result ? result.classes : state.model.labels;
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.label = row.label;
    const name = document.createElement("td");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${row.color.join(",")})`;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = row.name;
    name.append(swatch, label);
    tr.append(name);
    for (const [key, css] of [["share", ""], ["share_crf", "crf-col"], ["iou", "iou-col"], ["iou_crf", "iou-col crf-col"]]) {
      const td = document.createElement("td");
      td.className = `${key} ${css}`.trim();
      td.textContent = result ? percent(row[key]) : "";
      tr.append(td);
    }
    body.append(tr);
  }
  const legend = $("legend");
  legend.classList.toggle("no-crf", !(result && result.crf));
  legend.classList.toggle("no-iou", !(result && result.has_mask));
  const foot = legend.querySelector("tfoot");
  foot.replaceChildren();
  if (result && result.has_mask) {
    const tr = document.createElement("tr");
    const cells = ["mean IoU", "", "", percent(result.mean_iou), percent(result.mean_iou_crf)];
    const classes = ["", "", "crf-col", "iou-col", "iou-col crf-col"];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (classes[i]) td.className = classes[i];
      tr.append(td);
    });
    foot.append(tr);
  }
}

function loadImage(img, url) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error(`cannot load ${url}`));
    img.src = url;
  });
}

function applyOpacity() {
  const value = Number($("opacity").value) / 100;
  for (const img of document.querySelectorAll(".overlay")) img.style.opacity = value;
}

function crfAllowed(height, width) {
  const limit = state.model.limits.crf_max_pixels;
  const fits = !height || !width || height * width <= limit;
  $("crf").disabled = !fits;
  $("crf-note").textContent = fits ? "" : `The CRF holds the whole image in memory: offered up to ${limit.toLocaleString()} pixels.`;
  if (!fits) $("crf").checked = false;
}

async function show(job, token) {
  const result = job.result;
  const urls = result.images;
  const waits = [loadImage($("input-img"), urls.input), loadImage($("base-img"), urls.input), loadImage($("overlay"), urls.overlay)];
  $("crf-panel").hidden = !urls.overlay_crf;
  if (urls.overlay_crf) waits.push(loadImage($("base-img-crf"), urls.input), loadImage($("overlay-crf"), urls.overlay_crf));
  $("mask-panel").hidden = !urls.mask;
  if (urls.mask) waits.push(loadImage($("base-img-mask"), urls.input), loadImage($("mask-img"), urls.mask));
  await Promise.all(waits);
  if (token !== state.run) return;
  applyOpacity();
  legendRows(result);
  $("image-name").textContent = `${result.name} · ${result.width}×${result.height} · ${result.bands} band(s) ${result.dtype}`;
  let timing = `prediction ${seconds(result.seconds.predict)}`;
  if (result.seconds.crf !== undefined) timing += ` + CRF ${seconds(result.seconds.crf)}`;
  timing += ` · ${result.tiles} tile(s) · TTA ${result.tta}`;
  $("timing").textContent = timing;
  crfAllowed(result.height, result.width);
  const links = [["labels", "label PNG"], ["labels_crf", "label PNG after CRF"]].filter(([key]) => urls[key]);
  $("downloads").replaceChildren(...links.map(([key, text]) => {
    const a = document.createElement("a");
    a.href = urls[key];
    a.download = `${key}.png`;
    a.textContent = `Download the ${text} (full resolution)`;
    return a;
  }));
  $("overlay").dataset.job = job.id;
  setStatus("Done.");
}

async function run() {
  if (!state.current) return;
  const token = ++state.run;
  document.body.dataset.state = "running";
  $("error").hidden = true;
  $("timing").textContent = "";
  const params = new URLSearchParams({ tta: $("tta").checked ? "all" : "none", crf: $("crf").checked ? "true" : "false" });
  const options = { method: "POST" };
  if (state.current.kind === "gallery") {
    params.set("gallery", state.current.id);
  } else {
    const form = new FormData();
    form.append("file", state.current.file, state.current.file.name);
    options.body = form;
  }
  setStatus(state.current.kind === "file" ? "Uploading…" : "Starting…");
  try {
    let job = await api(`/jobs?${params}`, options);
    while (job.stage !== "done" && job.stage !== "error") {
      if (token !== state.run) return;
      const total = job.tiles_total || null;
      setStatus(total ? `${job.stage}: tile ${job.tiles_done} of ${total}` : `${job.stage}…`, job.tiles_done, total);
      await sleep(total && total > 4 ? 250 : 100);
      job = await api(`/jobs/${encodeURIComponent(job.id)}`);
    }
    if (token !== state.run) return;
    if (job.stage === "error") throw new ApiError(job.error.status, job.error);
    await show(job, token);
    if (token === state.run) document.body.dataset.state = "done";
  } catch (error) {
    if (token !== state.run) return;
    showError(error);
    document.body.dataset.state = "error";
  }
}

function select(item) {
  state.current = { kind: "gallery", id: item.id };
  for (const thumb of document.querySelectorAll(".thumb")) thumb.classList.toggle("selected", thumb.dataset.id === item.id);
  crfAllowed(item.height, item.width);
  run();
}

function buildGallery(listing) {
  state.items = listing.items;
  $("gallery-note").textContent = listing.note;
  $("random").disabled = state.items.length === 0;
  const gallery = $("gallery");
  for (const item of state.items) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.dataset.id = item.id;
    button.title = item.name;
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = item.name;
    img.src = `${item.image}?side=160`;
    const caption = document.createElement("span");
    caption.textContent = item.name;
    button.append(img, caption);
    if (item.has_mask) {
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = " · mask";
      button.append(mark);
    }
    button.addEventListener("click", () => select(item));
    gallery.append(button);
  }
}

function randomItem() {
  const others = state.items.filter((item) => !state.current || item.id !== state.current.id);
  const pool = others.length ? others : state.items;
  if (pool.length) select(pool[Math.floor(Math.random() * pool.length)]);
}

async function init() {
  try {
    state.model = await api("/model");
  } catch (error) {
    showError(error);
    return;
  }
  const record = state.model.record;
  $("model-name").textContent = `${record.architecture} · ${state.model.labels.length} classes · ${record.preprocessing.in_channels} band(s) ${record.preprocessing.dtype} · pixelwise ${state.model.pixelwise_version}`;
  const limits = state.model.limits;
  $("limits").textContent = `Up to ${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB and ${limits.max_pixels.toLocaleString()} pixels; the model takes ${record.preprocessing.in_channels} band(s) of ${record.preprocessing.dtype}.`;
  $("tta").checked = state.model.tiling.tta !== "none";
  legendRows(null);
  $("random").addEventListener("click", randomItem);
  $("upload").addEventListener("change", () => {
    const file = $("upload").files[0];
    if (!file) return;
    state.current = { kind: "file", file };
    for (const thumb of document.querySelectorAll(".thumb")) thumb.classList.remove("selected");
    crfAllowed(null, null);
    run();
  });
  $("tta").addEventListener("change", run);
  $("crf").addEventListener("change", run);
  $("opacity").addEventListener("input", applyOpacity);
  applyOpacity();
  try {
    buildGallery(await api("/gallery"));
  } catch (error) {
    showError(error);
  }
  document.body.dataset.state = "ready";
  setStatus("Pick an image from the gallery, or upload one.");
}

document.addEventListener("DOMContentLoaded", init);
