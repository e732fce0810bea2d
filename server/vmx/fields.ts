import type { VmxTree } from "./tree";
import { warning, type Warning } from "../types";

/**
 * Typed reads of tree values that remember which lines were used, so every
 * SourceVm field can name the VMX lines behind it.
 */
export class Fields {
  readonly warnings: Warning[] = [];
  readonly provenance: Record<string, number[]> = {};

  constructor(readonly tree: VmxTree) {}

  str(key: string): string | undefined {
    return this.tree.get(key)?.value;
  }

  line(key: string): number | null {
    return this.tree.get(key)?.line ?? null;
  }

  /** Lines of the given keys that exist, for provenance and concerns. */
  lines(...keys: string[]): number[] {
    const out: number[] = [];
    for (const k of keys) {
      const l = this.line(k);
      if (l !== null) out.push(l);
    }
    return out;
  }

  /** Record that `field` came from these keys. */
  from(field: string, ...keys: string[]): void {
    const lines = this.lines(...keys);
    if (lines.length) this.provenance[field] = [...new Set([...(this.provenance[field] ?? []), ...lines])].sort((a, b) => a - b);
  }

  warn(code: string, message: string, line: number | null = null): void {
    this.warnings.push(warning(code, message, line));
  }

  /** `TRUE`/`FALSE` in any case; anything else is warned about and `fallback` used. */
  bool(key: string, fallback: boolean): boolean {
    const e = this.tree.get(key);
    if (!e) return fallback;
    const v = e.value.trim().toLowerCase();
    if (v === "true" || v === "yes" || v === "1") return true;
    if (v === "false" || v === "no" || v === "0") return false;
    this.warn("vmx.value.not-boolean", `${e.key} = "${e.value}" is not TRUE or FALSE; read as ${fallback ? "TRUE" : "FALSE"}`, e.line);
    return fallback;
  }

  /** A whole number; warned and undefined when it is not one. */
  int(key: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
    const e = this.tree.get(key);
    if (!e) return undefined;
    const v = e.value.trim();
    if (!/^[+-]?\d{1,15}$/.test(v) || Number(v) < min) {
      this.warn("vmx.value.not-number", `${e.key} = "${e.value}" is not a whole number${min > 0 ? ` of at least ${min}` : ""}; ignored`, e.line);
      return undefined;
    }
    return Number(v);
  }

  /** The value as written, or null when absent or blank. */
  text(key: string): string | null {
    const v = this.str(key);
    return v !== undefined && v.trim() !== "" ? v : null;
  }

  /** Lowercased, trimmed text, or null when absent or empty. */
  lower(key: string): string | null {
    const v = this.str(key)?.trim().toLowerCase();
    return v ? v : null;
  }
}
