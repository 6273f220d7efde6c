// Requests to this service: its API and its read-only chain at /rpc. Nothing else is ever
// asked (the page's Content Security Policy would refuse it). A token, when the user gives
// one, is kept in this tab's sessionStorage and sent as a bearer token; never in localStorage
// or a URL.
const TOKEN = "provledger.token";

const base = new URL(document.documentElement.dataset.base || "/", window.location.origin);

/** The absolute URL of a path of this service. */
export function serviceUrl(path) {
  return new URL(path.replace(/^\//, ""), base).href;
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN) || "";
  } catch {
    return "";
  }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN, value);
    else sessionStorage.removeItem(TOKEN);
  } catch {
    // Storage off: the token cannot be kept, and is not.
  }
}

/** An answer that was not 2xx: its status and problem document (RFC 9457), if any. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function headers(json) {
  const result = { Accept: "application/json" };
  if (json) result["Content-Type"] = "application/json";
  const held = token();
  if (held) result.Authorization = `Bearer ${held}`;
  return result;
}

async function request(method, path, body) {
  const answer = await fetch(serviceUrl(path), {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  });
  const text = await answer.text();
  let document = null;
  try {
    document = text ? JSON.parse(text) : null;
  } catch {
    document = null;
  }
  if (!answer.ok) throw new ApiError(answer.status, document);
  return document;
}

const segment = encodeURIComponent;

/** The full verdict of one content hash: a proof bundle. */
export const verifyHash = (contentHash) => request("POST", "v1/verify", { content_hash: contentHash });

/** Verdicts of many hashes (up to 10,000 a request), one status each. */
export const verifyHashes = (contentHashes) =>
  request("POST", "v1/verify/batch", { content_hashes: contentHashes, detail: "summary" });

export const getDepartment = (id) => request("GET", `v1/departments/${segment(id)}`);
export const getDataset = (id) => request("GET", `v1/datasets/${segment(id)}`);
export const getLineage = (id) => request("GET", `v1/datasets/${segment(id)}/lineage?depth=5`);

/** Grants of a dataset in force now, or at `at` (ISO 8601 or Unix seconds). */
export const getGrants = (id, at) =>
  request("GET", `v1/datasets/${segment(id)}/grants${at ? `?at=${segment(at)}` : ""}`);

/** One JSON-RPC call to /rpc, for what needs no ethers (the head, for confirmations). */
export async function rpc(method, params = []) {
  const answer = await request("POST", "rpc", { jsonrpc: "2.0", id: 1, method, params });
  if (answer?.error) throw new ApiError(200, { detail: answer.error.message });
  return answer.result;
}

/** Headers for ethers' requests to /rpc. */
export function rpcHeaders() {
  const held = token();
  return held ? { Authorization: `Bearer ${held}` } : {};
}
