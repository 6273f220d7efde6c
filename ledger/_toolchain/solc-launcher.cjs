// Makes the official Solidity compiler's wasm build (npm `solc`) answer like the native `solc`
// binary, for exactly what py-solc-x asks of it: `--version`, and `--standard-json` reading the
// input JSON on stdin. Native solc downloads are not possible everywhere provledger is built;
// the npm build is the same compiler, pinned by package-lock.json.
//
// Imports are resolved against `--base-path` and `<base-path>/node_modules`, nowhere else, so a
// compile depends only on the repository and its pinned npm packages.
"use strict";
const fs = require("fs");
const path = require("path");

function option(name) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const basePath = path.resolve(option("--base-path") || process.cwd());
let solc;
try {
  solc = require(require.resolve("solc", { paths: [basePath] }));
} catch (err) {
  process.stderr.write(`npm package 'solc' not found under ${basePath}/node_modules: run npm ci\n`);
  process.exit(2);
}

if (process.argv.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}

if (!process.argv.includes("--standard-json")) {
  process.stderr.write("unrecognised option: only --version and --standard-json are supported\n");
  process.exit(2);
}

const roots = [basePath, path.join(basePath, "node_modules")];
function findImports(unit) {
  if (path.isAbsolute(unit) || unit.split("/").includes("..")) {
    return { error: `import '${unit}' escapes the project` };
  }
  for (const root of roots) {
    const candidate = path.join(root, unit);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `import '${unit}' not found under ${roots.join(" or ")}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
