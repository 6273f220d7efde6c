// SHA-256 of files in the browser, streamed: File.stream() chunks through hash-wasm (WebCrypto
// has no streaming digest), so a file of any size is hashed in constant memory and never sent.
import { createSHA256 } from "hash-wasm";

let hasher = null;

/** The 0x-hex SHA-256 of `file`; `progress(done, total)` after each chunk. */
export async function hashFile(file, progress = () => {}) {
  hasher = hasher || (await createSHA256());
  hasher.init();
  const reader = file.stream().getReader();
  let done = 0;
  for (;;) {
    const { value, done: finished } = await reader.read();
    if (finished) break;
    hasher.update(value);
    done += value.byteLength;
    progress(done, file.size);
  }
  return `0x${hasher.digest("hex")}`;
}

/** The files of a drop: folders walked (their paths kept), or the plain files dropped. */
export async function droppedFiles(dataTransfer) {
  const entries = [...(dataTransfer.items || [])]
    .filter((item) => item.kind === "file")
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (entries.length === 0 || entries.some((entry) => entry === null)) {
    return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  }
  const found = [];
  for (const entry of entries) await walk(entry, found);
  return found;
}

async function walk(entry, found) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    found.push({ file, path: entry.fullPath.replace(/^\//, "") });
    return;
  }
  const reader = entry.createReader();
  for (;;) {
    // readEntries answers in pieces (100 at a time in Chromium) until it answers none.
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, found);
  }
}
