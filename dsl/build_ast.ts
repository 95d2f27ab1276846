/**
 * CST → AST. Pieces that error recovery inserted or could not parse are dropped (a declaration that
 * lost a part is marked `incomplete`), so later checks only see what was really written.
 *
 * @module
 */
import type { CstNode, IToken } from "./deps.ts";
import type * as C from "./cst.d.ts";
import type * as A from "./ast.ts";
import type { Span } from "./ir.ts";

/** Whether a token was really in the text (not inserted by recovery, not EOF). */
function real(token: IToken | undefined): token is IToken {
  return token !== undefined && token.isInsertedInRecovery !== true && Number.isFinite(token.startOffset) &&
    token.image !== "";
}

/**
 * The span of a token.
 *
 * @param file the file name the span names
 * @param token a real token
 * @returns its span
 */
export function tokenSpan(file: string, token: IToken): Span {
  return {
    file,
    line: token.startLine ?? 1,
    column: token.startColumn ?? 1,
    offset: token.startOffset,
    length: token.image.length,
  };
}

class Builder {
  constructor(readonly file: string) {}

  #token(token: IToken | undefined): Span | null {
    return real(token) ? tokenSpan(this.file, token) : null;
  }

  #name(token: IToken | undefined): A.Name | null {
    return real(token) ? { kind: "name", text: token.image, span: tokenSpan(this.file, token) } : null;
  }

  /** The span of a node from its location; null when recovery left it without one. */
  #nodeSpan(node: CstNode): Span | null {
    const loc = node.location;
    if (!loc || !Number.isFinite(loc.startOffset) || !Number.isFinite(loc.endOffset ?? NaN)) return null;
    return {
      file: this.file,
      line: loc.startLine ?? 1,
      column: loc.startColumn ?? 1,
      offset: loc.startOffset,
      length: (loc.endOffset ?? loc.startOffset) - loc.startOffset + 1,
    };
  }

  spaceFile(node: C.SpaceFileCstNode): A.SpaceFile {
    const ch = node.children;
    const declarations: A.Declaration[] = [];
    const settings: A.Entry[] = [];
    let incomplete = node.recoveredNode === true || !real(ch.RCurly?.[0]);
    for (const item of ch.item ?? []) {
      const entryNode = item.children.entry?.[0];
      const decl = entryNode ? this.#entry(entryNode) : this.#item(item);
      if (!decl) incomplete = true;
      else if (decl.kind === "setting" || decl.kind === "edgeBlock") settings.push(decl);
      else declarations.push(decl);
    }
    const span = this.#nodeSpan(node) ?? this.#token(ch.Space?.[0]) ?? {
      file: this.file,
      line: 1,
      column: 1,
      offset: 0,
      length: 0,
    };
    return { kind: "space", name: this.#name(ch.Identifier?.[0]), declarations, settings, incomplete, span };
  }

  #item(node: C.ItemCstNode): A.Declaration | null {
    const ch = node.children;
    if (ch.operationDecl?.[0]) return this.#operation(ch.operationDecl[0]);
    if (ch.cellDecl?.[0]) return this.#cell(ch.cellDecl[0]);
    if (ch.section?.[0]) return this.#section(ch.section[0]);
    return null;
  }

  #operation(node: C.OperationDeclCstNode): A.OperationDecl | null {
    const ch = node.children;
    const name = this.#name(ch.Identifier?.[0]);
    const span = this.#nodeSpan(node);
    if (!name || !span) return null;
    const definition = ch.value?.[0] && real(ch.Equals?.[0]) ? this.#value(ch.value[0]) : null;
    return { kind: "operation", name, definition, span };
  }

  #cell(node: C.CellDeclCstNode): A.CellDecl | null {
    const ch = node.children;
    const name = this.#name(ch.name?.[0]);
    const span = this.#nodeSpan(node);
    const block = ch.block?.[0];
    if (!name || !span || !block) return null;
    const base = ch.Extends ? this.#name(ch.base?.[0]) : null;
    const { entries, incomplete } = this.#block(block);
    const lostBase = ch.Extends !== undefined && base === null;
    return {
      kind: "cell",
      name,
      base,
      entries,
      incomplete: incomplete || lostBase || node.recoveredNode === true,
      span,
    };
  }

  #section(node: C.SectionCstNode): A.SectionDecl | null {
    const ch = node.children;
    const keywordToken = ch.Supernet?.[0] ?? ch.Search?.[0] ?? ch.Evaluate?.[0];
    const keyword = this.#token(keywordToken);
    const span = this.#nodeSpan(node);
    const block = ch.block?.[0];
    if (!keyword || !span || !block) return null;
    const section = ch.Supernet ? "supernet" : ch.Search ? "search" : "evaluate";
    const { entries, incomplete } = this.#block(block);
    return {
      kind: "section",
      section,
      keyword,
      algorithm: this.#name(ch.algorithm?.[0]),
      entries,
      incomplete: incomplete || node.recoveredNode === true,
      span,
    };
  }

  #block(node: C.BlockCstNode): { entries: A.Entry[]; incomplete: boolean } {
    const entries: A.Entry[] = [];
    let incomplete = node.recoveredNode === true || !real(node.children.RCurly?.[0]);
    for (const e of node.children.entry ?? []) {
      const entry = this.#entry(e);
      if (entry) entries.push(entry);
      else incomplete = true;
    }
    return { entries, incomplete };
  }

  #entry(node: C.EntryCstNode): A.Entry | null {
    const key = this.#name(node.children.key?.[0]);
    const body = node.children.entryBody?.[0];
    const span = this.#nodeSpan(node);
    if (!key || !body || !span || node.recoveredNode || body.recoveredNode) return null;
    const edgeBlock = body.children.edgeBlock?.[0];
    if (edgeBlock) {
      if (edgeBlock.recoveredNode) return null;
      const edges: A.EdgeDecl[] = [];
      for (const e of edgeBlock.children.edge ?? []) {
        const edge = this.#edge(e);
        if (!edge) return null;
        edges.push(edge);
      }
      return { kind: "edgeBlock", key, edges, span };
    }
    const values: A.Value[] = [];
    for (const v of body.children.value ?? []) {
      const value = this.#value(v);
      if (!value) return null;
      values.push(value);
    }
    if (values.length === 0) return null;
    return { kind: "setting", key, values, span };
  }

  #edge(node: C.EdgeCstNode): A.EdgeDecl | null {
    const from = this.#name(node.children.from?.[0]);
    const to = this.#name(node.children.to?.[0]);
    const span = this.#nodeSpan(node);
    if (!from || !to || !span || node.recoveredNode) return null;
    const listNode = node.children.list?.[0];
    if (!listNode) return { kind: "edge", from, to, candidates: null, span };
    const candidates = this.#list(listNode);
    return candidates ? { kind: "edge", from, to, candidates, span } : null;
  }

  #value(node: C.ValueCstNode): A.Value | null {
    const span = this.#nodeSpan(node);
    const terms = node.children.term ?? [];
    if (!span || node.recoveredNode || terms.length === 0) return null;
    const stages: A.Value[] = [];
    for (const t of terms) {
      const stage = this.#term(t);
      if (!stage) return null;
      stages.push(stage);
    }
    if (stages.length === 1) return stages[0]!;
    return { kind: "pipeline", stages, span };
  }

  #term(node: C.TermCstNode): A.Value | null {
    const span = this.#nodeSpan(node);
    const num = node.children.numerator?.[0];
    if (!span || !num || node.recoveredNode) return null;
    const numerator = this.#primary(num);
    if (!numerator) return null;
    if (!node.children.Slash) return numerator;
    const den = node.children.denominator?.[0];
    const denominator = den ? this.#primary(den) : null;
    if (!denominator) return null;
    return { kind: "ratio", numerator, denominator, span };
  }

  #primary(node: C.PrimaryCstNode): A.Value | null {
    const ch = node.children;
    const span = this.#nodeSpan(node);
    if (!span || node.recoveredNode) return null;
    const num = ch.NumberLiteral?.[0];
    if (real(num)) return { kind: "number", value: Number(num.image), text: num.image, span };
    const str = ch.StringLiteral?.[0];
    if (real(str)) return { kind: "string", value: unquote(str.image), span };
    if (ch.list?.[0]) return this.#list(ch.list[0]);
    const name = this.#name(ch.Identifier?.[0]);
    if (!name) return null;
    const call = ch.callArgs?.[0];
    if (!call) return { kind: "nameValue", name, span };
    if (call.recoveredNode || !real(call.children.RParen?.[0])) return null;
    const args: A.Argument[] = [];
    for (const a of call.children.argument ?? []) {
      const arg = this.#argument(a);
      if (!arg) return null;
      args.push(arg);
    }
    const flags: A.Name[] = [];
    for (const f of call.children.flag ?? []) {
      const flag = this.#name(f);
      if (flag) flags.push(flag);
    }
    return { kind: "call", callee: name, args, flags, span };
  }

  #argument(node: C.ArgumentCstNode): A.Argument | null {
    const span = this.#nodeSpan(node);
    const v = node.children.value?.[0];
    if (!span || !v || node.recoveredNode) return null;
    const value = this.#value(v);
    if (!value) return null;
    const named = node.children.name !== undefined;
    const name = named ? this.#name(node.children.name?.[0]) : null;
    if (named && !name) return null;
    return { kind: "argument", name, value, span };
  }

  #list(node: C.ListCstNode): A.ListValue | null {
    const span = this.#nodeSpan(node);
    if (!span || node.recoveredNode || !real(node.children.RBracket?.[0])) return null;
    const items: A.Value[] = [];
    for (const v of node.children.value ?? []) {
      const item = this.#value(v);
      if (!item) return null;
      items.push(item);
    }
    return { kind: "list", items, span };
  }
}

function unquote(image: string): string {
  return image.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
}

/**
 * Builds the AST of a parsed file.
 *
 * @param cst the `spaceFile` CST from the parser (possibly partial after recovery)
 * @param file the file name spans carry
 * @returns the AST
 */
export function buildAst(cst: CstNode, file: string): A.SpaceFile {
  return new Builder(file).spaceFile(cst as C.SpaceFileCstNode);
}
