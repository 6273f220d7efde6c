// A dataset's lineage as a graph across departments: nodes are dataset versions coloured by
// the department that registered them, edges run from parent to child, laid out in layers by
// depth (a version one layer right of its deepest parent). The same graph as a list, for
// those who do not see it.
import { getDataset, getLineage } from "./api.js";
import { h, s } from "./dom.js";
import { t } from "./i18n.js";

const PALETTE = ["#cfe3ff", "#ffe2b8", "#d4f2d2", "#f6d0e6", "#e0d7fb", "#fff3a8", "#cdeff2", "#f2d6c9"];
const BORDER = ["#1f4f99", "#8a4b00", "#1d6b25", "#8c2060", "#4b3494", "#6b5a00", "#0f6570", "#7a3a1c"];
const WIDTH = 190;
const HEIGHT = 54;
const GAP_X = 70;
const GAP_Y = 22;
const MAX_DATASETS = 40;

const key = (ref) => `${ref.dataset_id.toLowerCase()}#${ref.version}`;
const brief = (id) => `${id.slice(0, 8)}…${id.slice(-4)}`;

/** The lineage around `datasetId` (its versions, ancestors, descendants) with each version's
 * department; `focus` is the version just verified. */
export async function loadLineage(datasetId, focus) {
  const answer = await getLineage(datasetId);
  const edges = [...(answer.ancestors || []), ...(answer.descendants || []), ...(answer.within || [])];
  const nodes = new Map();
  const add = (ref) => nodes.set(key(ref), nodes.get(key(ref)) || { ...ref, department: null });
  add(focus);
  for (const edge of edges) {
    add(edge.parent);
    add(edge.child);
  }
  const owners = new Map();
  for (const id of [...new Set([...nodes.values()].map((node) => node.dataset_id.toLowerCase()))].slice(0, MAX_DATASETS)) {
    try {
      const dataset = await getDataset(id);
      owners.set(id, { owner: dataset.owner, title: dataset.metadata?.title || null });
    } catch {
      owners.set(id, { owner: null, title: null });
    }
  }
  for (const node of nodes.values()) {
    const known = owners.get(node.dataset_id.toLowerCase()) || {};
    node.department = known.owner ?? null;
    node.title = known.title ?? null;
  }
  const unique = new Map(edges.map((edge) => [`${key(edge.parent)}>${key(edge.child)}`, edge]));
  return { nodes: [...nodes.values()], edges: [...unique.values()], focus: key(focus) };
}

function layers(graph) {
  // Longest path from a root: a version sits right of all its parents.
  const depth = new Map(graph.nodes.map((node) => [key(node), 0]));
  for (let round = 0; round < graph.nodes.length; round += 1) {
    let moved = false;
    for (const edge of graph.edges) {
      const wanted = depth.get(key(edge.parent)) + 1;
      if (wanted > depth.get(key(edge.child))) {
        depth.set(key(edge.child), wanted);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const columns = [];
  for (const node of graph.nodes) {
    const column = depth.get(key(node));
    (columns[column] = columns[column] || []).push(node);
  }
  for (const column of columns) {
    column?.sort((a, b) => (a.department ?? 0) - (b.department ?? 0) || a.dataset_id.localeCompare(b.dataset_id) || a.version - b.version);
  }
  return columns.filter(Boolean);
}

function colour(department, departments) {
  const index = departments.indexOf(department);
  return index < 0 ? ["#eeeeee", "#444444"] : [PALETTE[index % PALETTE.length], BORDER[index % BORDER.length]];
}

function label(node) {
  const department = node.department === null ? t("lineage.unknownDepartment") : t("lineage.department", { id: node.department });
  return { department, version: t("lineage.version", { dataset: node.title || brief(node.dataset_id), version: node.version }) };
}

/** The graph as SVG, with a legend and a text list of its edges. */
export function renderLineage(graph) {
  if (graph.edges.length === 0) {
    return h("p", { class: "note" }, t("lineage.none"));
  }
  const columns = layers(graph);
  const departments = [...new Set(graph.nodes.map((node) => node.department))].sort((a, b) => (a ?? 1e18) - (b ?? 1e18));
  const position = new Map();
  const rows = Math.max(...columns.map((column) => column.length));
  columns.forEach((column, x) => {
    column.forEach((node, y) => {
      position.set(key(node), { x: 10 + x * (WIDTH + GAP_X), y: 10 + y * (HEIGHT + GAP_Y) });
    });
  });
  const width = 20 + columns.length * WIDTH + (columns.length - 1) * GAP_X;
  const height = 20 + rows * HEIGHT + (rows - 1) * GAP_Y;
  const suffix = Math.random().toString(36).slice(2);
  const titleId = `lineage-title-${suffix}`;
  const svg = s(
    "svg",
    { class: "lineage", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": titleId },
    s("title", { id: titleId }, t("lineage.graphLabel", { count: graph.nodes.length })),
    s("defs", null, s("marker", { id: `arrow-${suffix}`, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#333333" }))),
    graph.edges.map((edge) => {
      const from = position.get(key(edge.parent));
      const to = position.get(key(edge.child));
      const x1 = from.x + WIDTH;
      const y1 = from.y + HEIGHT / 2;
      const x2 = to.x;
      const y2 = to.y + HEIGHT / 2;
      const bend = Math.max(20, (x2 - x1) / 2);
      return s("path", {
        class: "edge",
        d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
        fill: "none",
        stroke: "#333333",
        "stroke-width": 1.5,
        "marker-end": `url(#arrow-${suffix})`,
      });
    }),
    graph.nodes.map((node) => {
      const { x, y } = position.get(key(node));
      const [fill, stroke] = colour(node.department, departments);
      const text = label(node);
      const focused = key(node) === graph.focus;
      return s(
        "g",
        { class: focused ? "node focus" : "node" },
        s("rect", { x, y, width: WIDTH, height: HEIGHT, rx: 6, fill, stroke, "stroke-width": focused ? 4 : 1.5 }),
        s("text", { x: x + 10, y: y + 21, fill: "#111111", "font-size": 13, "font-weight": 600 }, text.department),
        s("text", { x: x + 10, y: y + 40, fill: "#111111", "font-size": 12 }, text.version),
      );
    }),
  );
  const legend = h(
    "ul",
    { class: "legend", "aria-label": t("lineage.legend") },
    departments.map((department) => {
      const [fill, stroke] = colour(department, departments);
      const swatch = s("svg", { width: 14, height: 14, "aria-hidden": "true" }, s("rect", { width: 14, height: 14, rx: 3, fill, stroke }));
      return h("li", null, swatch, " ", department === null ? t("lineage.unknownDepartment") : t("lineage.department", { id: department }));
    }),
  );
  const list = h(
    "ul",
    { class: "edges" },
    graph.edges.map((edge) => {
      const parent = graph.nodes.find((node) => key(node) === key(edge.parent));
      const child = graph.nodes.find((node) => key(node) === key(edge.child));
      const describe = (node) => `${label(node).version} (${label(node).department})`;
      return h("li", null, t("lineage.edge", { parent: describe(parent), child: describe(child) }));
    }),
  );
  return h(
    "div",
    { class: "lineage-view" },
    h("div", { class: "graph-scroll" }, svg),
    legend,
    h("details", { class: "edge-list" }, h("summary", null, t("lineage.asList")), list),
  );
}
