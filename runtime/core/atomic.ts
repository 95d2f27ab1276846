/**
 * Atomic file writes for checkpoints and run outputs: the data goes to a temporary file in the same
 * folder, is flushed to disk (fsync), and is then renamed over the target. A reader, or a run that
 * is killed midway, sees either the old file or the new one, never a half-written file. Also the
 * existence check that resuming readers of such files share.
 *
 * @module
 */

let counter = 0;

function splitPath(path: string): { dir: string; base: string } {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? { dir: ".", base: path } : { dir: path.slice(0, cut) || "/", base: path.slice(cut + 1) };
}

/**
 * Writes `data` to `path` atomically (temporary file in the same folder + fsync + rename). On
 * failure the temporary file is removed and the target is left as it was.
 *
 * @param path The file to write; its folder must exist.
 * @param data Bytes, or text written as UTF-8.
 * @returns When the new content is in place.
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/note.txt`, "hello");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const { dir, base } = splitPath(path);
  const temp = `${dir}/.${base}.${Deno.pid}.${counter++}.${Date.now().toString(36)}.tmp`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

/** Flushes the folder entry of the rename, where the platform allows opening a folder. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Not supported on every platform (Windows); the rename itself is still atomic.
  }
}

/**
 * Writes `value` as pretty JSON (2-space indent, trailing newline) to `path` atomically.
 *
 * @param path The file to write; its folder must exist.
 * @param value Any JSON-serializable value.
 * @returns When the new content is in place.
 * @example
 * ```ts
 * import { writeJsonAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeJsonAtomic(`${dir}/state.json`, { epoch: 3 });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Whether something is at `path` (a link counts as itself, not its target).
 *
 * @param path A file or folder.
 * @returns False when nothing is there.
 * @throws Any error other than "not found" (e.g. a missing read permission).
 * @example
 * ```ts
 * import { exists } from "./atomic.ts";
 * if (await exists("/no/such/path")) throw new Error("the example's claim does not hold");
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
