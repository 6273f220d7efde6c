// Who has access to a dataset, now and at a past date, each grant with the chain coordinates
// of its approval and, when it ended after that date, of its revocation or supersession. The
// service's `GET /v1/datasets/{id}/grants?at=` answers it from the access registry's events;
// anyone may ask where the chain is open to all (as the page's other reads).
import { ApiError, getGrants } from "./api.js";
import { clear, h, shortHash } from "./dom.js";
import { formatTime, t } from "./i18n.js";

function coordinates(chain) {
  if (!chain) return "—";
  return h("span", null, t("access.block", { block: chain.block_number }), " · ", shortHash(chain.tx_hash));
}

function requester({ department_id: id, name }) {
  return name ? t("access.named", { name, id }) : t("lineage.department", { id });
}

function ending(ended) {
  if (!ended) return "—";
  const how = t(ended.how === "superseded" ? "access.superseded" : "access.revoked", { time: formatTime(ended.at) });
  return h("span", null, how, " · ", coordinates(ended.chain));
}

function grantsTable(answer) {
  const grants = answer.grants;
  if (grants.length === 0) return h("p", { class: "note" }, t("access.none"));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "grants" },
      h("caption", { class: "visually-hidden" }, t("access.caption")),
      h(
        "thead",
        null,
        h("tr", null, ["access.requester", "access.approvedAt", "access.expiresAt", "access.approvedIn", "access.endedIn"].map((name) => h("th", { scope: "col" }, t(name)))),
      ),
      h(
        "tbody",
        null,
        grants.map((grant) =>
          h(
            "tr",
            null,
            h("td", null, requester(grant.requester)),
            h("td", null, formatTime(grant.approved_at)),
            h("td", null, formatTime(grant.expires_at)),
            h("td", null, coordinates(grant.approved)),
            h("td", null, ending(grant.ended)),
          ),
        ),
      ),
    ),
  );
}

/** The access panel of a dataset. */
export function accessPanel(datasetId) {
  const output = h("div", { class: "grants-output", "aria-live": "polite" });
  const input = h("input", { type: "datetime-local", id: `access-at-${datasetId.slice(2, 10)}`, step: 1 });
  const show = async (at) => {
    clear(output).append(h("p", { class: "note" }, t("access.loading")));
    try {
      const answer = await getGrants(datasetId, at);
      const when = at ? t("access.at", { time: formatTime(Date.parse(at) / 1000) }) : t("access.now");
      clear(output).append(h("h4", null, when), grantsTable(answer));
    } catch (error) {
      const needsToken = error instanceof ApiError && error.status === 401;
      clear(output).append(h("p", { class: "note" }, needsToken ? t("errors.token") : t("errors.generic", { detail: error.message })));
    }
  };
  const form = h(
    "form",
    {
      class: "access-form",
      onsubmit: (event) => {
        event.preventDefault();
        if (input.value) show(new Date(`${input.value}Z`).toISOString());
      },
    },
    h("label", { for: input.id }, t("access.pastDate")),
    input,
    h("button", { type: "submit" }, t("access.show")),
    h("button", { type: "button", onclick: () => show(null) }, t("access.showNow")),
  );
  const panel = h("section", { class: "access", "aria-label": t("access.heading") }, h("h3", null, t("access.heading")), form, output);
  show(null);
  return panel;
}
