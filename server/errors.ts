import { z } from "zod";

/**
 * The one error shape that crosses a boundary (CLI, API, store): a code the
 * UI can switch on, a message a sysadmin understands, where it happened and
 * what to do about it. Never a bare stack trace.
 */
export const FerryErrorData = z.object({
  code: z.string(),
  message: z.string(),
  file: z.string().nullable(),
  line: z.number().int().positive().nullable(),
  hint: z.string().nullable(),
});
export type FerryErrorData = z.infer<typeof FerryErrorData>;

export class FerryError extends Error {
  readonly code: string;
  readonly file: string | null;
  readonly line: number | null;
  readonly hint: string | null;

  constructor(data: { code: string; message: string; file?: string | null; line?: number | null; hint?: string | null }) {
    super(data.message);
    this.name = "FerryError";
    this.code = data.code;
    this.file = data.file ?? null;
    this.line = data.line ?? null;
    this.hint = data.hint ?? null;
  }

  toJSON(): FerryErrorData {
    return { code: this.code, message: this.message, file: this.file, line: this.line, hint: this.hint };
  }

  /** `FILE[:LINE]: message` as the CLI prints it after `ferry: error: `. */
  describe(): string {
    const where = this.file ? `${this.file}${this.line ? `:${this.line}` : ""}: ` : "";
    return `${where}${this.message}`;
  }
}
