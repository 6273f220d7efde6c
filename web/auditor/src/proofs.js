// What a verdict's evidence means, computed in the browser: batched records' leaves (the
// encoding of ledger/anchoring/records.py), RFC 6962 inclusion proofs (ledger/merkle.py:
// leaf = SHA256(0x00 || d), node = SHA256(0x01 || l || r)), EIP-712 signers, and the messages
// each contract's `…BySig` functions make departments sign. No network: bundles are checked
// offline with these, and the chain check builds on them.
import { concat, getBytes, hexlify, sha256, toUtf8Bytes, verifyTypedData } from "ethers";

export const BUNDLE_FORMAT = "provledger-proof-bundle/1";
const RECORD_FORMAT = toUtf8Bytes("provledger.batch-record/1");
const RECORD_KINDS = { create: 1, version: 2, withdraw: 3 };

/** The EIP-712 types a department signs, per primary type (SignedActions.sol's typehashes). */
export const SIGNED_TYPES = {
  CreateDataset: [
    { name: "departmentId", type: "uint64" },
    { name: "salt", type: "bytes32" },
    { name: "classification", type: "uint8" },
    { name: "metadataHash", type: "bytes32" },
    { name: "contentHash", type: "bytes32" },
    { name: "versionMetadataHash", type: "bytes32" },
    { name: "parents", type: "VersionRef[]" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  AddVersion: [
    { name: "departmentId", type: "uint64" },
    { name: "datasetId", type: "bytes32" },
    { name: "contentHash", type: "bytes32" },
    { name: "metadataHash", type: "bytes32" },
    { name: "parents", type: "VersionRef[]" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  AnchorBatch: [
    { name: "departmentId", type: "uint64" },
    { name: "root", type: "bytes32" },
    { name: "size", type: "uint64" },
    { name: "metadataHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};
const VERSION_REF = [
  { name: "datasetId", type: "bytes32" },
  { name: "version", type: "uint32" },
];
export const DOMAIN_NAMES = {
  CreateDataset: "provledger.DatasetRegistry",
  AddVersion: "provledger.DatasetRegistry",
  AnchorBatch: "provledger.AnchorRegistry",
};

/** The types of a primary type, as ethers takes them (no EIP712Domain). */
export function typesOf(primaryType) {
  const types = { [primaryType]: SIGNED_TYPES[primaryType] };
  if (SIGNED_TYPES[primaryType].some((field) => field.type === "VersionRef[]")) types.VersionRef = VERSION_REF;
  return types;
}

/** Values compared as the chain holds them: hex in lower case, integers as decimal strings. */
export function same(a, b) {
  return normalise(a) === normalise(b);
}

export function normalise(value) {
  if (Array.isArray(value)) return JSON.stringify(value.map(normalise));
  if (value && typeof value === "object") {
    return JSON.stringify(Object.keys(value).sort().map((key) => [key, normalise(value[key])]));
  }
  if (typeof value === "bigint" || typeof value === "number") return BigInt(value).toString();
  if (typeof value === "string" && /^0x[0-9a-fA-F]*$/.test(value)) return value.toLowerCase();
  if (typeof value === "string" && /^[0-9]+$/.test(value)) return BigInt(value).toString();
  return String(value);
}

/** The address that signed `typedData` (a verdict's EIP-712 document) with `signature`. */
export function recoverSigner(typedData, signature) {
  const primaryType = typedData.primaryType;
  if (!SIGNED_TYPES[primaryType]) throw new Error(`unknown primary type ${primaryType}`);
  return verifyTypedData(typedData.domain, typesOf(primaryType), typedData.message, signature);
}

/** Whether a verdict's typed data declares exactly the types its contract signs. */
export function typesAreTheContracts(typedData) {
  const expected = typesOf(typedData.primaryType ?? "");
  const given = { ...(typedData.types || {}) };
  delete given.EIP712Domain;
  return SIGNED_TYPES[typedData.primaryType] !== undefined && normalise(given) === normalise(expected);
}

function fixed(hex, size) {
  const bytes = getBytes(hex);
  if (bytes.length !== size) throw new Error(`expected ${size} bytes, got ${bytes.length}`);
  return bytes;
}

function unsigned(value, size) {
  const bytes = new Uint8Array(size);
  let rest = BigInt(value);
  for (let index = size - 1; index >= 0; index -= 1) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  if (rest !== 0n) throw new Error(`${value} does not fit in ${size} bytes`);
  return bytes;
}

/** A batched record's leaf encoding (records.py's fixed-width layout). */
export function encodeRecord(record) {
  const kind = RECORD_KINDS[record.kind];
  if (!kind) throw new Error(`unknown record kind ${record.kind}`);
  return concat([
    RECORD_FORMAT,
    unsigned(kind, 1),
    unsigned(record.department_id, 8),
    fixed(record.dataset_id, 32),
    unsigned(record.version, 4),
    fixed(record.content_hash, 32),
    fixed(record.metadata_hash, 32),
    unsigned(record.classification, 1),
    fixed(record.dataset_metadata_hash, 32),
    fixed(record.salt, 32),
    unsigned(record.parents.length, 2),
    ...record.parents.flatMap((parent) => [fixed(parent.dataset_id, 32), unsigned(parent.version, 4)]),
  ]);
}

/** The record's digest: SHA-256 of its encoding (the leaf's data). */
export function recordDigest(record) {
  return sha256(encodeRecord(record));
}

const leafHash = (data) => sha256(concat([new Uint8Array([0]), getBytes(data)]));
const nodeHash = (left, right) => sha256(concat([new Uint8Array([1]), getBytes(left), getBytes(right)]));

/** The root an RFC 9162 §2.1.3.2 inclusion proof leads to from a record digest. */
export function rootFromProof(index, treeSize, digest, proof) {
  if (!(index >= 0 && index < treeSize)) throw new Error(`leaf ${index} is not in a tree of ${treeSize}`);
  let fn = BigInt(index);
  let sn = BigInt(treeSize - 1);
  let result = leafHash(fixed(digest, 32));
  for (const sibling of proof) {
    if (sn === 0n) throw new Error("the proof is too long");
    fixed(sibling, 32);
    if (fn & 1n || fn === sn) {
      result = nodeHash(sibling, result);
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      result = nodeHash(result, sibling);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("the proof is too short");
  return hexlify(result);
}
