// Builds the auditor's page: web/auditor/src → <outdir> (auditor.js, auditor.css,
// THIRD-PARTY-LICENSES.txt), with esbuild pinned in package.json. Run through
// `python -m api.auditor.build` (make auditor-page), which also copies the page's template and
// messages and checks that the committed build is this one (--check).
//
// Deterministic: fixed target, no source maps, no timestamps, no absolute paths in the output
// (esbuild works relative to the project root), license notes sorted by package.
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const outdir = path.resolve(process.argv[2] ?? "");
if (!process.argv[2]) {
  console.error("usage: node web/auditor/build.mjs OUTDIR");
  process.exit(2);
}

// The contracts' ABI fragments the page decodes and reads with, from the committed compiler
// artifacts (ledger/_artifacts): a `virtual:abi` module, so the bundle carries only these.
const FRAGMENTS = {
  DatasetRegistry: [
    "VersionAdded", "DatasetWithdrawn", "createDataset", "createDatasetBySig", "addVersion", "addVersionBySig",
    "dataset", "departments",
  ],
  AnchorRegistry: ["BatchAnchored", "anchorBatch", "anchorBatchBySig", "anchor", "departments"],
  DepartmentRegistry: ["DepartmentEnrolled", "DepartmentKeyRotated"],
};

function abiModule() {
  const abis = {};
  for (const [contract, names] of Object.entries(FRAGMENTS)) {
    const artifact = JSON.parse(
      readFileSync(path.join(root, "ledger", "_artifacts", `${contract}.json`), "utf8"),
    );
    abis[contract] = names.map((name) => {
      const found = artifact.abi.filter((item) => item.name === name);
      if (found.length !== 1) throw new Error(`${contract}.${name}: ${found.length} ABI items`);
      return found[0];
    });
  }
  return `export default ${JSON.stringify(abis)};`;
}

const virtualAbi = {
  name: "virtual-abi",
  setup(build) {
    build.onResolve({ filter: /^virtual:abi$/ }, () => ({ path: "abi", namespace: "virtual" }));
    build.onLoad({ filter: /.*/, namespace: "virtual" }, () => ({
      contents: abiModule(),
      loader: "js",
    }));
  },
};

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { auditor: "web/auditor/src/main.js" },
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome109", "firefox115", "safari16"],
  platform: "browser",
  minify: true,
  charset: "utf8",
  legalComments: "none", // collected below, whole, per package
  sourcemap: false,
  metafile: true,
  write: false,
  outdir,
  plugins: [virtualAbi],
  logLevel: "warning",
});

await mkdir(outdir, { recursive: true });
for (const file of result.outputFiles) {
  await writeFile(file.path, file.contents);
}

// Every npm package whose code is in the bundle, with its license text.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.set(match[1], path.join(root, "node_modules", match[1]));
}
const notes = [];
for (const name of [...packages.keys()].sort()) {
  const dir = packages.get(name);
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  const licence = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license", "LICENCE"]
    .map((file) => path.join(dir, file))
    .find((file) => {
      try {
        readFileSync(file);
        return true;
      } catch {
        return false;
      }
    });
  const text = licence ? readFileSync(licence, "utf8").trim() : `License: ${manifest.license}`;
  notes.push(`${name}@${manifest.version} (${manifest.license})\n\n${text}\n`);
}
await writeFile(
  path.join(outdir, "THIRD-PARTY-LICENSES.txt"),
  "The auditor's page bundles these npm packages.\n\n" + notes.join("\n" + "-".repeat(72) + "\n\n"),
);
