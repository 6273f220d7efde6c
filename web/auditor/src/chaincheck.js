// "Check it yourself": the verdict re-derived in the browser from the chain at /rpc, with
// ethers, so that it does not rest on this server's word (only on the chain it serves, which
// any other node of the consortium can be asked for instead, and on the contract address).
//
// For a registration on chain: the VersionAdded log by content-hash topic, its block, the
// transaction, the …BySig call decoded with the contract's ABI and compared with the signed
// EIP-712 document, the signer recovered, the department's key in force at that log from the
// department registry's events, the dataset's state (withdrawn) and its history re-hashed to the
// stored head. For a batched record: its leaf and inclusion proof (offline), the BatchAnchored
// log by root, the anchor's storage, the anchoring call and its signer, the key in force.
import {
  AbiCoder,
  Contract,
  FetchRequest,
  Interface,
  JsonRpcProvider,
  Network,
  ZeroHash,
  concat,
  keccak256,
  toUtf8Bytes,
  zeroPadValue,
  toBeHex,
} from "ethers";
import abis from "virtual:abi";
import { rpcHeaders, serviceUrl } from "./api.js";
import { check } from "./offline.js";
import { DOMAIN_NAMES, recordDigest, recoverSigner, rootFromProof, same, typesAreTheContracts, typesOf } from "./proofs.js";

const datasets = new Interface(abis.DatasetRegistry);
const anchors = new Interface(abis.AnchorRegistry);
const departments = new Interface(abis.DepartmentRegistry);
const coder = AbiCoder.defaultAbiCoder();
const VERSION_REF_TYPEHASH = keccak256(toUtf8Bytes("VersionRef(bytes32 datasetId,uint32 version)"));

/** A provider onto this service's /rpc, for the chain `chainId` the verdict names. */
export function provider(chainId) {
  const request = new FetchRequest(serviceUrl("rpc"));
  for (const [name, value] of Object.entries(rpcHeaders())) request.setHeader(name, value);
  return new JsonRpcProvider(request, Network.from(BigInt(chainId)), {
    staticNetwork: Network.from(BigInt(chainId)),
    batchMaxCount: 20,
  });
}

/** Every check of every registration of `verdict` against the chain. */
export async function checkOnChain(verdict) {
  const registrations = verdict.registrations || [];
  if (registrations.length === 0) return [];
  const chain = provider(registrations[0].chain_id);
  try {
    const checks = [];
    const chainId = BigInt(await chain.send("eth_chainId", []));
    checks.push(check("chain.chainId", registrations.every((r) => same(r.chain_id, chainId)), {}, String(chainId)));
    const onChain = registrations.filter((r) => !r.anchor);
    if (onChain.length > 0) checks.push(...(await registrationCount(chain, verdict, onChain)));
    for (const [position, registration] of registrations.entries()) {
      const n = { n: position + 1 };
      const found = registration.anchor
        ? await anchoredChecks(chain, verdict.content_hash, registration, n)
        : await versionChecks(chain, verdict.content_hash, registration, n);
      checks.push(...found);
    }
    return checks;
  } finally {
    chain.destroy();
  }
}

async function registrationCount(chain, verdict, onChain) {
  // Every VersionAdded of these bytes in the registries the verdict names: the service must
  // have shown them all.
  const contracts = [...new Set(onChain.map((r) => r.contract.toLowerCase()))];
  let logs = 0;
  for (const address of contracts) {
    logs += (await versionLogs(chain, address, [null, verdict.content_hash])).length;
  }
  return [check("chain.allShown", logs === onChain.length, { count: logs }, `${logs} / ${onChain.length}`)];
}

function versionLogs(chain, address, topics) {
  return chain.getLogs({
    address,
    fromBlock: 0,
    toBlock: "latest",
    topics: [datasets.getEvent("VersionAdded").topicHash, ...topics],
  });
}

async function guarded(key, n, compute) {
  try {
    const [ok, detail] = await compute();
    return check(key, ok, n, detail);
  } catch (error) {
    return check(key, false, n, error.shortMessage || error.message);
  }
}

async function versionChecks(chain, contentHash, registration, n) {
  const checks = [];
  const logs = await versionLogs(chain, registration.contract, [null, contentHash]);
  const log = logs.find(
    (candidate) => same(candidate.transactionHash, registration.tx_hash) && candidate.index === registration.log_index,
  );
  const event = log ? datasets.parseLog(log) : null;
  checks.push(
    check(
      "chain.event",
      event &&
        same(event.args.datasetId, registration.dataset_id) &&
        same(event.args.version, registration.version) &&
        same(event.args.department, registration.department_id) &&
        same(log.blockNumber, registration.block_number) &&
        same(log.blockHash, registration.block_hash),
      n,
      log ? `${log.transactionHash}#${log.index}` : "",
    ),
  );
  checks.push(await blockCheck(chain, registration, n));
  checks.push(...(await callChecks(chain, registration, n, datasets, contentHash)));
  checks.push(...(await keyChecks(chain, registration, n, datasets)));
  checks.push(...(await datasetChecks(chain, registration, n)));
  return checks;
}

async function anchoredChecks(chain, contentHash, registration, n) {
  const anchor = registration.anchor;
  const record = anchor.record || {};
  const checks = [];
  checks.push(
    await guarded("chain.leaf", n, async () => {
      const digest = recordDigest(record);
      return [same(record.content_hash, contentHash) && same(digest, anchor.record_digest), digest];
    }),
  );
  checks.push(
    await guarded("chain.inclusion", n, async () => {
      const root = rootFromProof(anchor.leaf_index, anchor.tree_size, recordDigest(record), anchor.proof);
      return [same(root, anchor.root), root];
    }),
  );
  const logs = await chain.getLogs({
    address: registration.contract,
    fromBlock: 0,
    toBlock: "latest",
    topics: [anchors.getEvent("BatchAnchored").topicHash, anchor.root],
  });
  const log = logs.length === 1 ? logs[0] : null;
  checks.push(
    check(
      "chain.anchorEvent",
      log &&
        same(log.transactionHash, registration.tx_hash) &&
        same(log.index, registration.log_index) &&
        same(log.blockNumber, registration.block_number) &&
        same(log.blockHash, registration.block_hash) &&
        same(anchors.parseLog(log).args.department, registration.department_id),
      n,
      `${logs.length}`,
    ),
  );
  checks.push(
    await guarded("chain.anchorStored", n, async () => {
      const stored = await new Contract(registration.contract, anchors, chain).anchor(anchor.root);
      return [same(stored.department, registration.department_id) && same(stored.size, anchor.tree_size), `${stored.department}/${stored.size}`];
    }),
  );
  checks.push(await blockCheck(chain, registration, n));
  checks.push(...(await callChecks(chain, registration, n, anchors, contentHash)));
  checks.push(...(await keyChecks(chain, registration, n, anchors)));
  return checks;
}

async function blockCheck(chain, registration, n) {
  return guarded("chain.block", n, async () => {
    const block = await chain.getBlock(registration.block_number);
    return [
      block !== null && same(block.hash, registration.block_hash) && same(block.timestamp, registration.block_time),
      block ? `${block.hash} @ ${block.timestamp}` : "",
    ];
  });
}

/** The call's arguments as the EIP-712 message they make the department sign. */
function signedMessage(name, args, departmentId) {
  const auth = args.auth;
  const common = { departmentId: auth.departmentId, nonce: auth.nonce, deadline: auth.deadline };
  const refs = (parents) => parents.map((p) => ({ datasetId: p.datasetId, version: p.version }));
  if (name === "createDatasetBySig") {
    return ["CreateDataset", {
      ...common,
      salt: args.salt,
      classification: args.classification,
      metadataHash: args.metadataHash,
      contentHash: args.first.contentHash,
      versionMetadataHash: args.first.metadataHash,
      parents: refs(args.first.parents),
    }];
  }
  if (name === "addVersionBySig") {
    return ["AddVersion", {
      ...common,
      datasetId: args.datasetId,
      contentHash: args.version.contentHash,
      metadataHash: args.version.metadataHash,
      parents: refs(args.version.parents),
    }];
  }
  if (name === "anchorBatchBySig") {
    return ["AnchorBatch", { ...common, root: args.root, size: args.size, metadataHash: args.metadataHash }];
  }
  throw new Error(`${name} is not a signed action (department ${departmentId})`);
}

function plain(primaryType, message) {
  const result = {};
  for (const field of typesOf(primaryType)[primaryType]) {
    const value = message[field.name];
    result[field.name] = field.type === "VersionRef[]"
      ? value.map((p) => ({ datasetId: p.datasetId, version: Number(p.version) }))
      : typeof value === "bigint" ? value.toString() : value;
  }
  return result;
}

async function callChecks(chain, registration, n, contract, contentHash) {
  const tx = await chain.getTransaction(registration.tx_hash);
  if (tx === null) return [check("chain.transaction", false, n, "no such transaction")];
  const checks = [check("chain.transaction", same(tx.to, registration.contract) && same(tx.blockNumber, registration.block_number), n, `${tx.to}`)];
  const call = contract.parseTransaction({ data: tx.data });
  if (!call) return [...checks, check("chain.call", false, n, "not a call of the registry")];
  if (!call.name.endsWith("BySig")) {
    // Sent by the department's key itself: the sender is who authorised it.
    return [
      ...checks,
      check("chain.sender", registration.authorised_by === "sender" && same(tx.from, registration.signer), n, tx.from),
    ];
  }
  const [primaryType, message] = signedMessage(call.name, call.args, registration.department_id);
  const fromChain = plain(primaryType, message);
  const typed = registration.typed_data || {};
  const domain = {
    name: DOMAIN_NAMES[primaryType],
    version: "1",
    chainId: registration.chain_id,
    verifyingContract: tx.to,
  };
  checks.push(
    check(
      "chain.typedData",
      typed.primaryType === primaryType &&
        typesAreTheContracts(typed) &&
        same(typed.message, fromChain) &&
        same(typed.domain, domain) &&
        same(call.args.auth.signature, registration.signature),
      n,
      call.name,
    ),
  );
  checks.push(
    check(
      "chain.signed",
      registration.anchor
        ? same(fromChain.root, registration.anchor.root) && same(fromChain.departmentId, registration.department_id)
        : same(fromChain.contentHash, contentHash) && same(fromChain.departmentId, registration.department_id),
      n,
    ),
  );
  checks.push(
    await guarded("chain.signer", n, async () => {
      const signer = recoverSigner({ domain, primaryType, message: fromChain }, call.args.auth.signature);
      return [same(signer, registration.signer), signer];
    }),
  );
  return checks;
}

/** The department's key just before the registration's log, from the registry's events. */
async function keyChecks(chain, registration, n, contract) {
  return [
    await guarded("chain.keyInForce", n, async () => {
      const registry = await new Contract(registration.contract, contract, chain).departments();
      const logs = await chain.getLogs({
        address: registry,
        fromBlock: 0,
        toBlock: registration.block_number,
        topics: [
          [departments.getEvent("DepartmentEnrolled").topicHash, departments.getEvent("DepartmentKeyRotated").topicHash],
          zeroPadValue(toBeHex(registration.department_id), 32),
        ],
      });
      logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
      let key = "";
      for (const log of logs) {
        if (log.blockNumber === registration.block_number && log.index > registration.log_index) break;
        const event = departments.parseLog(log);
        key = event.name === "DepartmentEnrolled" ? event.args.signer : event.args.newSigner;
      }
      return [key !== "" && same(key, registration.department_key) && same(key, registration.signer), key];
    }),
  ];
}

function historyStep(head, contentHash, metadataHash, parents) {
  const parentsHash = keccak256(
    concat(parents.map((p) => keccak256(coder.encode(["bytes32", "bytes32", "uint32"], [VERSION_REF_TYPEHASH, p.datasetId, p.version])))),
  );
  return keccak256(coder.encode(["bytes32", "bytes32", "bytes32", "bytes32"], [head, contentHash, metadataHash, parentsHash]));
}

async function datasetChecks(chain, registration, n) {
  const stored = await new Contract(registration.contract, datasets, chain).dataset(registration.dataset_id);
  const checks = [check("chain.withdrawn", same(stored.withdrawn, registration.withdrawn), n, String(stored.withdrawn))];
  checks.push(
    await guarded("chain.history", n, async () => {
      const logs = await versionLogs(chain, registration.contract, [registration.dataset_id]);
      logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
      let head = ZeroHash;
      let complete = true;
      logs.forEach((log, position) => {
        const event = datasets.parseLog(log);
        if (Number(event.args.version) !== position + 1) complete = false;
        head = historyStep(head, event.args.contentHash, event.args.metadataHash, event.args.parents);
      });
      const matches = complete && same(head, stored.historyHead);
      return [matches === Boolean(registration.history_complete), `${logs.length} / ${stored.versionCount}`];
    }),
  );
  return checks;
}

/** When the dataset was withdrawn: its DatasetWithdrawn log, block and time (null if never). */
export async function withdrawalTime(chainId, registration) {
  const chain = provider(chainId);
  try {
    const logs = await chain.getLogs({
      address: registration.contract,
      fromBlock: 0,
      toBlock: "latest",
      topics: [datasets.getEvent("DatasetWithdrawn").topicHash, registration.dataset_id],
    });
    if (logs.length === 0) return null;
    const block = await chain.getBlock(logs[0].blockNumber);
    return { block_number: logs[0].blockNumber, block_time: block?.timestamp ?? null, tx_hash: logs[0].transactionHash };
  } finally {
    chain.destroy();
  }
}
