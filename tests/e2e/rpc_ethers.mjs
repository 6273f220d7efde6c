// ethers v6 reading the ledger through /rpc, as an auditor's script would: run by
// tests/e2e/test_rpc_clients.py as `node rpc_ethers.mjs '<json>'`, prints what it read as JSON.
// The bearer token goes in a header set on the FetchRequest the provider sends with.
import { readFileSync } from "node:fs";
import { Contract, FetchRequest, JsonRpcProvider, id, zeroPadValue } from "ethers";

const args = JSON.parse(process.argv[2]);
const request = new FetchRequest(args.url);
if (args.token) request.setHeader("Authorization", `Bearer ${args.token}`);
const provider = new JsonRpcProvider(request);

const abi = JSON.parse(readFileSync(args.abi, "utf8")).abi;
const registry = new Contract(args.registry, abi, provider);
const versionAdded = id("VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)");

const network = await provider.getNetwork();
const head = await provider.getBlockNumber();
const logs = await provider.getLogs({
  address: args.registry,
  fromBlock: 0,
  toBlock: "latest",
  topics: [versionAdded, null, args.contentHash],
});
const parsed = logs.map((log) => registry.interface.parseLog(log));
const dataset = await registry.dataset(args.datasetId);
const receipt = await provider.getTransactionReceipt(args.txHash);
const transaction = await provider.getTransaction(args.txHash);
const block = await provider.getBlock(receipt.blockNumber, true);
const proof = await provider.send("eth_getProof", [args.registry, [zeroPadValue("0x00", 32)], "latest"]);
const fees = await provider.getFeeData();

console.log(
  JSON.stringify({
    chainId: network.chainId.toString(),
    head,
    logs: logs.map((log) => ({ transactionHash: log.transactionHash, topics: log.topics })),
    versions: parsed.map((event) => Number(event.args.version)),
    dataset: { owner: dataset.owner.toString(), versionCount: Number(dataset.versionCount) },
    receipt: { status: receipt.status, logs: receipt.logs.length, bloom: receipt.logsBloom.length },
    transaction: { hash: transaction.hash, type: transaction.type, from: transaction.from },
    block: { hash: block.hash, transactions: block.prefetchedTransactions.map((tx) => tx.hash) },
    proof: { accountProof: proof.accountProof.length, storageProof: proof.storageProof.length },
    gasPrice: fees.gasPrice.toString(),
  }),
);
