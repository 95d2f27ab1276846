/**
 * A user's own images in the layout torchvision's `ImageFolder` reads: `DIR/train/<class>/…` and
 * `DIR/test/<class>/…`, PNG or JPEG files at any depth below each class folder. Classes are the
 * train folder's subfolders in sorted order (as torchvision numbers them); every image is decoded,
 * converted to RGB and resized to {@linkcode IMAGE_FOLDER_INPUT} before training starts, so a file
 * that does not decode is named at load time, never mid-epoch.
 *
 * @module
 */

import { DataError, type Dataset } from "./datasets.ts";
import { decodeImage, imageToInput } from "./image_decode.ts";

/**
 * The input an image folder is resized to: 32×32 RGB, the size every shipped space's networks are
 * inferred for (CIFAR-10's; dsl/infer.ts) and the one DARTS' auxiliary head needs. Grey images are
 * repeated into three channels, as torchvision's default loader (`convert("RGB")`) does.
 */
export const IMAGE_FOLDER_INPUT = { size: 32, channels: 3 } as const;

/** File endings read as images (case-insensitive). */
const IMAGE_ENDINGS = [".png", ".jpg", ".jpeg"] as const;
/** Endings of images in formats not read, refused by name rather than silently skipped. */
const OTHER_IMAGE_ENDINGS = [".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"] as const;
/** How many undecodable files one error lists by name. */
const LISTED = 3;

const endsWithAny = (name: string, endings: readonly string[]) =>
  endings.some((ending) => name.toLowerCase().endsWith(ending));

function isDirectorySync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Whether a `--data` folder has the image-folder layout (a `train` subfolder) rather than CIFAR-10's
 * binary files.
 *
 * @param dir The folder.
 * @returns True when `dir/train` is a folder.
 * @example
 * ```ts
 * import { isImageFolder } from "./image_folder.ts";
 * const dir = await Deno.makeTempDir();
 * if (isImageFolder(dir)) throw new Error("an empty folder has no train/");
 * await Deno.mkdir(`${dir}/train`);
 * if (!isImageFolder(dir)) throw new Error("train/ not seen");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function isImageFolder(dir: string): boolean {
  return isDirectorySync(`${dir}/train`);
}

/**
 * The class names of an image folder: the subfolders of `dir/train`, sorted (hidden ones skipped).
 *
 * @param dir The image folder.
 * @returns 2 to 256 names; label i is the i-th.
 * @throws {DataError} When `dir/test` is missing or `dir/train` has fewer than 2 or more than 256
 *   class folders.
 * @example
 * ```ts
 * import { imageFolderClasses } from "./image_folder.ts";
 * const dir = await Deno.makeTempDir();
 * for (const path of ["train/dog", "train/cat", "test/cat"]) await Deno.mkdir(`${dir}/${path}`, { recursive: true });
 * if (imageFolderClasses(dir).join() !== "cat,dog") throw new Error(imageFolderClasses(dir).join());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function imageFolderClasses(dir: string): string[] {
  if (!isDirectorySync(`${dir}/test`)) {
    throw new DataError(
      "missing-file",
      `image folder "${dir}" has train/ but no test/ folder (expected test/<class>/ with PNG or JPEG images)`,
    );
  }
  const names = [...Deno.readDirSync(`${dir}/train`)]
    .filter((entry) => entry.isDirectory && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort();
  if (names.length < 2) {
    throw new DataError(
      "missing-file",
      `image folder "${dir}/train" has ${names.length} class folder${names.length === 1 ? "" : "s"}; ` +
        `expected at least 2 (train/<class>/ holding that class's images)`,
    );
  }
  if (names.length > 256) {
    throw new DataError(
      "bad-label",
      `image folder "${dir}/train" has ${names.length} class folders; at most 256 are read (labels are bytes)`,
    );
  }
  return names;
}

/** Image files below a folder, at any depth, in sorted order (as torchvision walks them). */
async function imageFiles(dir: string): Promise<string[]> {
  const entries = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.startsWith(".")) entries.push(entry);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await imageFiles(path));
    else if (endsWithAny(entry.name, IMAGE_ENDINGS)) files.push(path);
    else if (endsWithAny(entry.name, OTHER_IMAGE_ENDINGS)) {
      throw new DataError(
        "bad-image",
        `"${path}" is not read: only PNG and JPEG images are (convert it, or move it out of the folder)`,
      );
    }
  }
  return files;
}

/**
 * Loads one split of an image folder: every image decoded, converted to RGB and resized to
 * {@linkcode IMAGE_FOLDER_INPUT}, labelled by its class folder's place in `classNames`.
 *
 * @param dir The image folder.
 * @param split `train` or `test`.
 * @param classNames The classes, as {@linkcode imageFolderClasses} read them from the train split.
 * @returns The images in [0, 1], NHWC, and their labels.
 * @throws {DataError} When a class folder of the split is not one of `classNames`, a train class has
 *   no images, or images do not decode (one line naming the first few).
 * @example
 * ```ts
 * import { loadImageFolder } from "./image_folder.ts";
 * import { encodePng } from "../deps_images.ts";
 * const dir = await Deno.makeTempDir();
 * for (const [path, grey] of [["train/a/1.png", 0], ["train/b/1.png", 255], ["test/b/x.png", 200]] as const) {
 *   await Deno.mkdir(`${dir}/${path.split("/").slice(0, 2).join("/")}`, { recursive: true });
 *   await Deno.writeFile(`${dir}/${path}`, encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(4).fill(grey) }));
 * }
 * const test = await loadImageFolder(dir, "test", ["a", "b"]);
 * if (test.labels.join() !== "1" || test.images.length !== 32 * 32 * 3) throw new Error("not loaded");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadImageFolder(
  dir: string,
  split: "train" | "test",
  classNames: readonly string[],
): Promise<Dataset> {
  const root = `${dir}/${split}`;
  const found: { path: string; label: number }[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory && !entry.name.startsWith(".") && !classNames.includes(entry.name)) {
      throw new DataError(
        "bad-label",
        `"${root}/${entry.name}" is a class the train split does not have (train's classes: ` +
          `${classNames.map((name) => `"${name}"`).join(", ")})`,
      );
    }
  }
  for (const [label, name] of classNames.entries()) {
    const classDir = `${root}/${name}`;
    if (!isDirectorySync(classDir)) continue; // a test split may lack a class
    const files = await imageFiles(classDir);
    if (files.length === 0 && split === "train") {
      throw new DataError("missing-file", `class folder "${classDir}" has no PNG or JPEG images`);
    }
    for (const path of files) found.push({ path, label });
  }
  if (found.length === 0) {
    throw new DataError("missing-file", `"${root}" has no PNG or JPEG images in its class folders`);
  }
  const { size, channels } = IMAGE_FOLDER_INPUT;
  const stride = size * size * channels;
  const images = new Float32Array(found.length * stride);
  const labels = new Uint8Array(found.length);
  const failures: string[] = [];
  for (const [i, { path, label }] of found.entries()) {
    labels[i] = label;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      failures.push(`"${path}" cannot be read (${error instanceof Error ? error.name : String(error)})`);
      continue;
    }
    try {
      images.set(imageToInput(decodeImage(bytes, path), size, channels), i * stride);
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      failures.push(error.message);
    }
  }
  if (failures.length > 0) {
    const more = failures.length > LISTED ? `; and ${failures.length - LISTED} more` : "";
    throw new DataError(
      "bad-image",
      `${failures.length} of ${found.length} images in "${root}" do not decode: ` +
        `${failures.slice(0, LISTED).join("; ")}${more} (fix or remove them)`,
    );
  }
  return {
    name: `image-folder-${split}`,
    images,
    labels,
    height: size,
    width: size,
    channels,
    classes: classNames.length,
  };
}
