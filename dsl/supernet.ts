/**
 * The `supernet` block: channels, the stack of cells with its reduction positions, the stem, and
 * which cell type sits at normal and at reduction positions. Defaults are DARTS' search network
 * (C = 16, 8 cells, reductions at 1/3 and 2/3, stem multiplier 3), which ASAP follows (section 4.1).
 *
 * @module
 */
import type { SectionDecl, Value } from "./ast.ts";
import { diagnostic } from "./diagnostics.ts";
import type { CellPlacement, CellType, Span, Supernet } from "./ir.ts";
import { ranges, readBool, readNumber, type Report } from "./read.ts";
import { collectEntries, resolveReductions, single } from "./settings.ts";
import { didYouMean } from "./suggest.ts";

/** The keys `supernet` accepts. */
export const SUPERNET_KEYS: readonly string[] = [
  "channels",
  "cells",
  "reductions",
  "stem_multiplier",
  "channel_doubling",
  "normal",
  "reduction",
  "description",
];

/** What the supernet needs to know about the space. */
export interface SupernetContext {
  /** Every declared cell type name, in declaration order. */
  readonly declared: readonly string[];
  /** The cell types that resolved without errors. */
  readonly resolved: ReadonlyMap<string, CellType>;
  /** Where messages about the space as a whole point (its name). */
  readonly spaceSpan: Span;
  /** Whether recovery dropped declarations (then missing ones are not reported). */
  readonly incomplete: boolean;
}

/**
 * Resolves the supernet: placements with channels (doubled at each reduction when
 * `channel_doubling`; the reduction cell already has the doubled C, as DARTS).
 *
 * @param section the block, or null for all defaults
 * @param ctx the declared cell types
 * @param report receives the problems
 * @returns the IR supernet, or null
 */
export function resolveSupernet(
  section: SectionDecl | null,
  ctx: SupernetContext,
  report: Report,
): Supernet | null {
  const entries = collectEntries(section?.entries ?? [], SUPERNET_KEYS, "supernet", report);
  let ok = true;
  const read = <T>(key: string, fallback: T, f: (v: Value) => T | null): T => {
    const entry = entries.get(key);
    if (!entry) return fallback;
    const v = single(entry, report);
    const value = v === null ? null : f(v);
    if (value === null) ok = false;
    return value ?? fallback;
  };
  const int = (key: string, fallback: number) =>
    read(
      key,
      fallback,
      (v) => readNumber(v, `"${key}"`, { integer: true, range: ranges.atLeastOne }, report),
    );
  const channels = int("channels", 16);
  const cells = int("cells", 8);
  const stemMultiplier = int("stem_multiplier", 3);
  const channelDoubling = read("channel_doubling", true, (v) => readBool(v, '"channel_doubling"', report));
  const reductions = resolveReductions(entries.get("reductions"), cells, report);
  if (reductions === null) ok = false;
  const where = entries.get("reductions")?.span ?? section?.keyword ?? ctx.spaceSpan;
  const cellType = (key: "normal" | "reduction", needed: boolean): string | null => {
    const entry = entries.get(key);
    if (entry) {
      const v = single(entry, report);
      if (v === null) return null;
      if (v.kind !== "nameValue") {
        report(diagnostic("wrong-type", `"${key}" must name a cell type`, v.span));
        return null;
      }
      if (!ctx.declared.includes(v.name.text)) {
        report(
          diagnostic(
            "unknown-cell",
            `cell type "${v.name.text}" is not declared`,
            v.span,
            didYouMean(v.name.text, ctx.declared),
          ),
        );
        return null;
      }
      return v.name.text;
    }
    if (ctx.declared.includes(key) || !needed) return key;
    if (!ctx.incomplete) {
      const hint = `declare "cell ${key} { … }" or set "${key}: <cell type>" in supernet`;
      if (key === "reduction") {
        report(
          diagnostic(
            "missing-reduction-cell",
            `the supernet has reduction cells but no cell type is named "reduction"`,
            where,
            hint,
          ),
        );
      } else {
        report(
          diagnostic(
            "missing-normal-cell",
            `the supernet has normal cells but no cell type is named "normal"`,
            section?.keyword ?? ctx.spaceSpan,
            hint,
          ),
        );
      }
    }
    return null;
  };
  const positions = reductions ?? [];
  const normal = cellType("normal", positions.length < cells);
  const reduction = cellType("reduction", positions.length > 0);
  const kindOk = (name: string | null, wantReduction: boolean, key: "normal" | "reduction") => {
    const cell = name === null ? undefined : ctx.resolved.get(name);
    if (!cell || cell.reduction === wantReduction) return true;
    const span = entries.get(key)?.span ?? cell.span;
    const message = wantReduction
      ? `cell type "${cell.name}" sits at reduction positions but does not set "reduction: true"`
      : `cell type "${cell.name}" sits at normal positions but sets "reduction: true"`;
    report(diagnostic("reduction-cell-mismatch", message, span));
    return false;
  };
  if (positions.length < cells && !kindOk(normal, false, "normal")) ok = false;
  if (positions.length > 0 && !kindOk(reduction, true, "reduction")) ok = false;
  const needNormal = positions.length < cells;
  if ((needNormal && normal === null) || (positions.length > 0 && reduction === null) || !ok) return null;
  const placements: CellPlacement[] = [];
  let c = channels;
  for (let i = 0; i < cells; i++) {
    const isReduction = positions.includes(i);
    if (isReduction && channelDoubling) c *= 2;
    placements.push({ cellType: (isReduction ? reduction : normal)!, channels: c });
  }
  return {
    channels,
    stemMultiplier,
    cells: placements,
    reductions: positions,
    channelDoubling,
    span: section?.span ?? ctx.spaceSpan,
  };
}
