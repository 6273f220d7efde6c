// A proof bundle checked with no network at all: each registration's signature recovered from
// its EIP-712 document, the document compared with what the bundle claims, a batched record's
// leaf recomputed and its inclusion proof followed to the anchored root. What only the chain
// can say (that the transaction and the anchor exist, the key in force) is the chain check's.
import { BUNDLE_FORMAT, recordDigest, recoverSigner, rootFromProof, same, typesAreTheContracts } from "./proofs.js";

/** One check: a message key (with its parameters), whether it held, and what was seen. */
export function check(key, ok, params = {}, detail = "") {
  return { key, ok: Boolean(ok), params, detail };
}

function attempt(key, params, compute) {
  try {
    const [ok, detail] = compute();
    return check(key, ok, params, detail);
  } catch (error) {
    return check(key, false, params, error.message);
  }
}

/** The checks of a bundle (a parsed verdict). */
export function checkBundle(bundle) {
  const checks = [check("offline.format", bundle?.format === BUNDLE_FORMAT, {}, String(bundle?.format))];
  if (!Array.isArray(bundle?.registrations)) return checks;
  const content = bundle.content_hash;
  bundle.registrations.forEach((registration, position) => {
    const n = { n: position + 1 };
    checks.push(...registrationChecks(registration, content, n));
  });
  return checks;
}

function registrationChecks(registration, content, n) {
  const checks = [];
  const typed = registration.typed_data || {};
  const message = typed.message || {};
  const anchor = registration.anchor;
  if (anchor) {
    const record = anchor.record || {};
    checks.push(check("offline.recordContent", same(record.content_hash, content), n));
    checks.push(
      check(
        "offline.recordFields",
        same(record.dataset_id, registration.dataset_id) &&
          same(record.version, registration.version) &&
          same(record.department_id, registration.department_id),
        n,
      ),
    );
    checks.push(
      attempt("offline.recordDigest", n, () => {
        const digest = recordDigest(record);
        return [same(digest, anchor.record_digest), digest];
      }),
    );
    checks.push(
      attempt("offline.inclusion", n, () => {
        const root = rootFromProof(anchor.leaf_index, anchor.tree_size, recordDigest(record), anchor.proof);
        return [same(root, anchor.root), root];
      }),
    );
  }
  if (registration.authorised_by === "signature") {
    checks.push(check("offline.types", typesAreTheContracts(typed), n, String(typed.primaryType)));
    checks.push(
      check(
        "offline.domain",
        same(typed.domain?.chainId, registration.chain_id) && same(typed.domain?.verifyingContract, registration.contract),
        n,
      ),
    );
    checks.push(
      anchor
        ? check(
            "offline.signedRoot",
            same(message.root, anchor.root) &&
              same(message.size, anchor.tree_size) &&
              same(message.departmentId, registration.department_id),
            n,
          )
        : check(
            "offline.signedContent",
            same(message.contentHash, content) && same(message.departmentId, registration.department_id),
            n,
          ),
    );
    checks.push(
      attempt("offline.signature", n, () => {
        const signer = recoverSigner(typed, registration.signature);
        return [same(signer, registration.signer), signer];
      }),
    );
  }
  checks.push(check("offline.departmentKey", same(registration.signer, registration.department_key), n));
  return checks;
}
