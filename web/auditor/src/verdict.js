// One content hash's verdict: each registration with its department, dataset, version and
// chain coordinates, confirmations counted from the head at /rpc, withdrawal, history; then
// the lineage graph, the access panel, the chain check and the bundle download.
import { accessPanel } from "./access.js";
import { ApiError, getDepartment, rpc, token } from "./api.js";
import { checkOnChain, withdrawalTime } from "./chaincheck.js";
import { clear, code, definitions, h } from "./dom.js";
import { formatNumber, formatTime, t } from "./i18n.js";
import { loadLineage, renderLineage } from "./lineage.js";

const STATUS_ICONS = { matched: "✓", withdrawn: "!", "not-registered": "✗", "signature-invalid": "✗", "history-incomplete": "!" };

/** The status of a verdict as a badge: an icon and words (never colour alone). */
export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, h("span", { "aria-hidden": "true" }, STATUS_ICONS[status] || "?"), " ", t(`status.${status}`));
}

export function statusOf(verdict) {
  if (verdict.status) return verdict.status;
  const registrations = verdict.registrations || [];
  if (registrations.length === 0) return "not-registered";
  if (registrations.some((r) => r.signer.toLowerCase() !== r.department_key.toLowerCase())) return "signature-invalid";
  if (!registrations.every((r) => r.history_complete)) return "history-incomplete";
  if (registrations.every((r) => r.withdrawn)) return "withdrawn";
  return "matched";
}

const yes = (value) => (value ? t("common.yes") : t("common.no"));

async function departmentName(id) {
  try {
    const department = await getDepartment(id);
    return department.name;
  } catch {
    return null;
  }
}

function registrationCard(registration, position, head, names) {
  const name = names.get(registration.department_id);
  const department = name ? t("verdict.departmentNamed", { name, id: registration.department_id }) : t("lineage.department", { id: registration.department_id });
  const confirmations = head === null ? "—" : formatNumber(Math.max(0, head - registration.block_number + 1));
  const withdrawn = h("span", { class: "withdrawn-value" }, yes(registration.withdrawn));
  const anchor = registration.anchor;
  const facts = definitions([
    [t("verdict.department"), department],
    [t("verdict.dataset"), code(registration.dataset_id)],
    [t("verdict.version"), String(registration.version)],
    [t("verdict.chainId"), String(registration.chain_id)],
    [t("verdict.contract"), code(registration.contract)],
    [t("verdict.txHash"), code(registration.tx_hash)],
    [t("verdict.blockNumber"), formatNumber(registration.block_number)],
    [t("verdict.blockHash"), code(registration.block_hash)],
    [t("verdict.blockTime"), formatTime(registration.block_time)],
    [t("verdict.confirmations"), h("span", { class: "confirmations" }, confirmations)],
    [t("verdict.authorisedBy"), registration.authorised_by === "signature" ? t("verdict.bySignature") : t("verdict.bySender")],
    [t("verdict.signer"), code(registration.signer)],
    [t("verdict.departmentKey"), code(registration.department_key)],
    [t("verdict.withdrawn"), withdrawn],
    [t("verdict.historyComplete"), yes(registration.history_complete)],
    anchor && [t("verdict.batchRoot"), code(anchor.root)],
    anchor && [t("verdict.leafIndex"), t("verdict.leafOf", { index: anchor.leaf_index, size: anchor.tree_size })],
  ]);
  if (registration.withdrawn && !anchor) {
    withdrawalTime(registration.chain_id, registration)
      .then((since) => {
        if (since) withdrawn.textContent = t("verdict.withdrawnSince", { time: formatTime(since.block_time), block: since.block_number });
      })
      .catch(() => {});
  }
  const lineage = h("div", { class: "lineage-slot" }, h("p", { class: "note" }, t("lineage.loading")));
  loadLineage(registration.dataset_id, { dataset_id: registration.dataset_id, version: registration.version })
    .then((graph) => clear(lineage).append(renderLineage(graph)))
    .catch((error) => clear(lineage).append(h("p", { class: "note" }, explain(error))));
  return h(
    "article",
    { class: "registration", "aria-labelledby": `registration-${position}` },
    h("h3", { id: `registration-${position}` }, t("verdict.registration", { n: position + 1, version: registration.version })),
    facts,
    h("h4", null, t("lineage.heading")),
    lineage,
    accessPanel(registration.dataset_id),
  );
}

export function explain(error) {
  if (error instanceof ApiError && error.status === 401) return t("errors.token");
  if (error instanceof ApiError && error.status === 403) return t("errors.forbidden");
  return t("errors.generic", { detail: error.message });
}

/** The check list, each check passed or failed with what it saw. */
export function checkList(checks) {
  return h(
    "ol",
    { class: "checks" },
    checks.map((item) =>
      h(
        "li",
        { class: item.ok ? "passed" : "failed" },
        h("span", { class: "check-mark", "aria-hidden": "true" }, item.ok ? "✓" : "✗"),
        " ",
        h("span", { class: "check-result" }, item.ok ? t("checks.passed") : t("checks.failed")),
        ": ",
        t(item.key, item.params),
        item.detail && !item.ok ? h("span", { class: "check-detail" }, ` (${item.detail})`) : null,
      ),
    ),
  );
}

function download(verdict) {
  const text = `${JSON.stringify(verdict, null, 2)}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = h("a", { href: url, download: `provledger-bundle-${verdict.content_hash.replace(/^0x/, "")}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The chain checks already run, by verdict: shown again when the page is re-rendered. */
const checked = new WeakMap();

/** Render `verdict` (the API's answer for one hash, of the file `name`) into `section`, and
 * move the focus to its heading unless `focus` is false (a re-render in another language). */
export async function showVerdict(section, verdict, name, { focus = true } = {}) {
  const status = statusOf(verdict);
  let head = null;
  try {
    head = Number(BigInt(await rpc("eth_blockNumber")));
  } catch {
    head = null;
  }
  const registrations = verdict.registrations || [];
  const names = new Map();
  for (const id of new Set(registrations.map((r) => r.department_id))) names.set(id, await departmentName(id));
  const chainOutput = h("div", { class: "chain-output", "aria-live": "polite" });
  const showChecks = (checks) => {
    const failed = checks.filter((item) => !item.ok).length;
    // The service's verdict is authentic exactly when every registration checks out.
    const agrees = (failed === 0) === (verdict.authentic === true);
    clear(chainOutput).append(
      h("p", { class: failed === 0 ? "summary ok" : "summary bad", id: "chain-summary" }, failed === 0 ? t("checks.allPassed", { count: checks.length }) : t("checks.someFailed", { failed, count: checks.length })),
      h("p", { class: agrees ? "summary ok" : "summary bad", id: "chain-agreement" }, agrees ? t("checks.agrees") : t("checks.disagrees")),
      checkList(checks),
    );
  };
  const chainButton = h(
    "button",
    {
      type: "button",
      class: "primary",
      onclick: async () => {
        chainButton.disabled = true;
        clear(chainOutput).append(h("p", { class: "note" }, t("checks.running")));
        try {
          const checks = await checkOnChain(verdict);
          checked.set(verdict, checks);
          showChecks(checks);
        } catch (error) {
          clear(chainOutput).append(h("p", { class: "summary bad" }, explain(error)));
        } finally {
          chainButton.disabled = false;
        }
      },
    },
    t("verdict.checkYourself"),
  );
  if (checked.has(verdict)) showChecks(checked.get(verdict));
  const heading = h("h2", { id: "verdict-heading", tabindex: "-1" }, t("verdict.heading", { name }));
  clear(section).append(
    heading,
    h("p", { class: "verdict-status" }, statusBadge(status), " ", t(`status.explain.${status}`)),
    // Records registered in batches are on chain only as a Merkle root: this service shows them
    // to token holders; anyone can check one from its proof bundle.
    status === "not-registered" && !token() ? h("p", { class: "hint" }, t("status.batchedHint")) : null,
    definitions([
      [t("verdict.contentHash"), code(verdict.content_hash)],
      [t("verdict.verifiedAt"), verdict.verified_at_block === undefined ? "—" : formatNumber(verdict.verified_at_block)],
      [t("verdict.head"), head === null ? "—" : formatNumber(head)],
    ]),
    registrations.length > 0
      ? h(
          "div",
          { class: "actions" },
          chainButton,
          h("button", { type: "button", id: "download-bundle", onclick: () => download(verdict) }, t("verdict.download")),
        )
      : null,
    h("p", { class: "hint" }, registrations.length > 0 ? t("verdict.checkHint") : ""),
    chainOutput,
    ...registrations.map((registration, position) => registrationCard(registration, position, head, names)),
  );
  section.hidden = false;
  if (focus) heading.focus();
}
