import { escapeValue } from "./escape";
import type { LexResult, VmxEntry } from "./lexer";
import { warning, type Warning } from "../types";

/**
 * The key tree. Keys are case-insensitive and dotted keys nest
 * (`ethernet0.dvs.portId`); a node can hold a value and children at once
 * (`cpuid.coresPerSocket` and `cpuid.coresPerSocket.cookie`).
 */
export interface VmxNode {
  entry: VmxEntry | null;
  children: Map<string, VmxNode>;
}

/** A namespace removed by `X.present = "FALSE"`, kept so the UI can say why. */
export interface AbsentNamespace {
  key: string;
  line: number;
}

export class VmxTree {
  readonly root: VmxNode = { entry: null, children: new Map() };
  /** Entries in file order, after duplicates and absent namespaces are dropped. */
  readonly entries: VmxEntry[];
  readonly absent: AbsentNamespace[];

  constructor(entries: VmxEntry[], absent: AbsentNamespace[] = []) {
    this.entries = entries;
    this.absent = absent;
    for (const e of entries) {
      let node = this.root;
      for (const seg of e.path) {
        let next = node.children.get(seg);
        if (!next) {
          next = { entry: null, children: new Map() };
          node.children.set(seg, next);
        }
        node = next;
      }
      node.entry = e;
    }
  }

  node(key: string): VmxNode | undefined {
    let node: VmxNode | undefined = this.root;
    for (const seg of key.toLowerCase().split(".")) {
      node = node.children.get(seg);
      if (!node) return undefined;
    }
    return node;
  }

  get(key: string): VmxEntry | undefined {
    return this.node(key)?.entry ?? undefined;
  }

  /** Top-level names (lowercased) matching a pattern, e.g. /^ethernet(\d+)$/. */
  topLevel(pattern: RegExp): { name: string; match: RegExpExecArray }[] {
    const out: { name: string; match: RegExpExecArray }[] = [];
    for (const name of this.root.children.keys()) {
      const match = pattern.exec(name);
      if (match) out.push({ name, match });
    }
    return out;
  }

  /** Every line number of entries at or below `key`. */
  linesUnder(key: string): number[] {
    const node = this.node(key);
    const lines: number[] = [];
    const walk = (n: VmxNode) => {
      if (n.entry) lines.push(n.entry.line);
      for (const c of n.children.values()) walk(c);
    };
    if (node) walk(node);
    return lines.sort((a, b) => a - b);
  }

  /** Lowercased key → value, without `.encoding` (a fact about the bytes, not the guest). */
  toRecord(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.entries) {
      const k = e.path.join(".");
      if (k !== ".encoding") out[k] = e.value;
    }
    return out;
  }
}

export function isFalse(value: string): boolean {
  return value.trim().toLowerCase() === "false";
}

/**
 * Lexed entries → tree: the first of duplicate keys wins, and every
 * namespace `X` with `X.present = "FALSE"` disappears with all below it.
 */
export function buildTree(lex: LexResult): { tree: VmxTree; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const seen = new Map<string, VmxEntry>();
  const unique: VmxEntry[] = [];
  for (const e of lex.entries) {
    const k = e.path.join(".");
    const first = seen.get(k);
    if (first) {
      warnings.push(
        warning(
          "vmx.syntax.duplicate",
          `${e.key} is set again; the first value (line ${first.line}) is kept, this one ignored`,
          e.line,
        ),
      );
      continue;
    }
    seen.set(k, e);
    unique.push(e);
  }

  const absentPrefixes: { prefix: string[]; entry: VmxEntry }[] = [];
  for (const e of unique) {
    if (e.path.length >= 2 && e.path[e.path.length - 1] === "present" && isFalse(e.value)) {
      absentPrefixes.push({ prefix: e.path.slice(0, -1), entry: e });
    }
  }
  const absentKeys = new Set(absentPrefixes.map((a) => a.prefix.join(".")));
  const isAbsent = (path: string[]) => {
    for (let n = 1; n <= path.length; n++) if (absentKeys.has(path.slice(0, n).join("."))) return true;
    return false;
  };
  const kept = absentKeys.size ? unique.filter((e) => !isAbsent(e.path)) : unique;
  const absent = absentPrefixes.map((a) => ({ key: a.entry.key.slice(0, -".present".length), line: a.entry.line }));
  return { tree: new VmxTree(kept, absent), warnings };
}

/** Print a tree back as UTF-8 VMX text (`.encoding = "UTF-8"` first). */
export function printVmx(tree: VmxTree): string {
  const lines = ['.encoding = "UTF-8"'];
  for (const e of tree.entries) {
    if (e.path.join(".") === ".encoding") continue;
    lines.push(`${e.key} = "${escapeValue(e.value)}"`);
  }
  return lines.join("\n") + "\n";
}
