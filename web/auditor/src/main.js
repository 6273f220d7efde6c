// The auditor's page: files hashed here and never uploaded, their verdicts from the service,
// every verdict checkable against the chain in this browser, bundles checked offline.
import "./style.css";
import { setToken, token, verifyHash, verifyHashes } from "./api.js";
import { clear, h, shortHash } from "./dom.js";
import { droppedFiles, hashFile } from "./hashing.js";
import { formatBytes, formatNumber, language, onLanguageChange, rememberedLanguage, setLanguage, t, translate } from "./i18n.js";
import { checkBundle } from "./offline.js";
import { checkList, explain, showVerdict, statusBadge } from "./verdict.js";

const BATCH = 1000; // hashes per POST /v1/verify/batch (the service takes up to 10,000)
const $ = (id) => document.getElementById(id);

const state = { rows: [], verdict: null, verdictName: "", bundle: null };

function status(text) {
  $("status").textContent = text;
}

function showProgress(labelText, value) {
  $("progress").hidden = false;
  $("progress-label").textContent = labelText;
  $("progress-bar").value = value;
}

function hideProgress() {
  $("progress").hidden = true;
}

/** Hash every file, then ask the service about the hashes: one verdict in full, or a batch. */
async function checkFiles(entries) {
  if (entries.length === 0) return;
  state.rows = [];
  state.verdict = null;
  $("verdict").hidden = true;
  const total = entries.reduce((sum, entry) => sum + entry.file.size, 0) || 1;
  let before = 0;
  for (const [index, entry] of entries.entries()) {
    const hash = await hashFile(entry.file, (done) => {
      showProgress(t("progress.hashing", { n: index + 1, count: entries.length, name: entry.path }), (before + done) / total);
    });
    before += entry.file.size;
    state.rows.push({ path: entry.path, size: entry.file.size, hash, status: null, verdict: null });
  }
  showProgress(t("progress.asking"), 1);
  status(t("progress.asking"));
  try {
    if (entries.length === 1) {
      const verdict = await verifyHash(state.rows[0].hash);
      state.rows[0].status = verdict.status;
      state.rows[0].verdict = verdict;
    } else {
      for (let start = 0; start < state.rows.length; start += BATCH) {
        const chunk = state.rows.slice(start, start + BATCH);
        const answer = await verifyHashes(chunk.map((row) => row.hash));
        answer.results.forEach((result, offset) => {
          chunk[offset].status = result.status;
        });
      }
    }
  } catch (error) {
    hideProgress();
    status(explain(error));
    renderRows();
    return;
  }
  hideProgress();
  renderRows();
  status(summary());
  if (entries.length === 1) {
    await openVerdict(state.rows[0]);
  } else {
    $("results-heading").focus();
  }
}

function summary() {
  const counts = {};
  for (const row of state.rows) counts[row.status] = (counts[row.status] || 0) + 1;
  const parts = Object.entries(counts).map(([name, count]) => `${t(`status.${name}`)}: ${formatNumber(count)}`);
  return t("results.summary", { count: formatNumber(state.rows.length), parts: parts.join(", ") });
}

async function openVerdict(row) {
  try {
    row.verdict = row.verdict || (await verifyHash(row.hash));
    state.verdict = row.verdict;
    state.verdictName = row.path;
    await showVerdict($("verdict"), row.verdict, row.path);
  } catch (error) {
    status(explain(error));
  }
}

function renderRows() {
  const body = $("results-table").querySelector("tbody");
  clear(body);
  for (const row of state.rows) {
    body.append(
      h(
        "tr",
        { "data-status": row.status || "" },
        h("th", { scope: "row", class: "path" }, row.path),
        h("td", null, formatBytes(row.size)),
        h("td", null, shortHash(row.hash)),
        h("td", { class: "result" }, row.status ? statusBadge(row.status) : "—"),
        h(
          "td",
          null,
          row.status
            ? h("button", { type: "button", class: "link", onclick: () => openVerdict(row) }, t("results.show"), h("span", { class: "visually-hidden" }, ` ${row.path}`))
            : null,
        ),
      ),
    );
  }
  $("results-summary").textContent = state.rows.every((row) => row.status) ? summary() : "";
  $("results").hidden = state.rows.length === 0;
}

async function checkBundleFile(file) {
  const output = $("bundle-result");
  let bundle;
  try {
    bundle = JSON.parse(await file.text());
  } catch (error) {
    clear(output).append(h("p", { class: "summary bad", id: "bundle-summary" }, t("bundle.unreadable", { detail: error.message })));
    return;
  }
  state.bundle = { bundle, name: file.name };
  renderBundle();
}

function renderBundle() {
  const output = $("bundle-result");
  if (!state.bundle) return;
  const { bundle, name } = state.bundle;
  const checks = checkBundle(bundle);
  const failed = checks.filter((item) => !item.ok).length;
  clear(output).append(
    h("h3", null, t("bundle.of", { name })),
    h(
      "p",
      { class: failed === 0 ? "summary ok" : "summary bad", id: "bundle-summary" },
      failed === 0 ? t("bundle.passed", { count: checks.length }) : t("bundle.failed", { failed, count: checks.length }),
    ),
    h("p", { class: "hint" }, t("bundle.scope")),
    checkList(checks),
  );
}

function wireLanguage() {
  for (const button of document.querySelectorAll("button[data-language]")) {
    button.addEventListener("click", () => setLanguage(button.dataset.language));
  }
  const remembered = rememberedLanguage();
  setLanguage(remembered && remembered !== language() ? remembered : language(), { remember: false });
  onLanguageChange(() => {
    if (state.rows.length > 0) renderRows();
    if (state.verdict) showVerdict($("verdict"), state.verdict, state.verdictName, { focus: false });
    renderBundle();
    tokenState();
  });
}

function tokenState() {
  $("token-state").textContent = token() ? t("token.held") : t("token.none");
}

function wireToken() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token-input").value.trim());
    $("token-input").value = "";
    tokenState();
  });
  $("token-forget").addEventListener("click", () => {
    setToken("");
    tokenState();
  });
  tokenState();
}

function wireFiles() {
  const file = $("file-input");
  const folder = $("folder-input");
  $("pick-file").addEventListener("click", () => file.click());
  $("pick-folder").addEventListener("click", () => folder.click());
  file.addEventListener("change", () => {
    checkFiles([...file.files].map((item) => ({ file: item, path: item.name })));
    file.value = "";
  });
  folder.addEventListener("change", () => {
    const entries = [...folder.files].map((item) => ({ file: item, path: item.webkitRelativePath || item.name }));
    entries.sort((a, b) => a.path.localeCompare(b.path));
    checkFiles(entries);
    folder.value = "";
  });
  const zone = $("dropzone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const entries = await droppedFiles(event.dataTransfer);
    entries.sort((a, b) => a.path.localeCompare(b.path));
    checkFiles(entries);
  });
  const bundle = $("bundle-input");
  $("pick-bundle").addEventListener("click", () => bundle.click());
  bundle.addEventListener("change", () => {
    if (bundle.files[0]) checkBundleFile(bundle.files[0]);
    bundle.value = "";
  });
}

translate();
wireLanguage();
wireToken();
wireFiles();
document.documentElement.dataset.ready = "true";
