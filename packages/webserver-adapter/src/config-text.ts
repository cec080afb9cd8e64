import { XiaozhiError } from "@xiaozhi-connect/core";
import JSON5 from "json5";
import {
  applyEdits,
  type FormattingOptions,
  type JSONPath,
  modify,
  type ParseError,
  parse,
  printParseErrorCode,
} from "jsonc-parser";

/** How a config file is written: by its extension, as xiaozhi-client reads them. */
export type ConfigFormat = "json" | "jsonc" | "json5";

/** `.json5` → json5, `.jsonc` → jsonc, anything else → json (comments and trailing commas allowed). */
export function formatOf(path: string): ConfigFormat {
  if (/\.json5$/i.test(path)) return "json5";
  if (/\.jsonc$/i.test(path)) return "jsonc";
  return "json";
}

/**
 * Parses config text. JSON and JSONC may carry comments and trailing commas (jsonc-parser); JSON5
 * is read by json5. Errors say where (`line 3, column 7`) and why, never quoting the text, which
 * may hold tokens. Throws `INVALID_CONFIG`.
 */
export function parseText(text: string, format: ConfigFormat = "json"): unknown {
  if (format === "json5") {
    try {
      return JSON5.parse(text);
    } catch (error) {
      const { lineNumber, columnNumber } = error as { lineNumber?: number; columnNumber?: number };
      const where = lineNumber ? ` at line ${lineNumber}, column ${columnNumber}` : "";
      throw new XiaozhiError("INVALID_CONFIG", `config is not valid JSON5${where}`);
    }
  }
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const atEnd = first.offset >= text.trimEnd().length;
    const where = atEnd ? " (it ends too early)" : ` at ${lineAndColumn(text, first.offset)}`;
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `config is not valid JSON${where}: ${describeParseError(printParseErrorCode(first.error))}`,
    );
  }
  if (text.trim() === "") throw new XiaozhiError("INVALID_CONFIG", "config is empty");
  return value;
}

/**
 * Rewrites `text` so it holds `next`, changing only what differs from `previous` (both parsed from
 * `text`): comments, key order and formatting elsewhere stay as they were. A JSON5 file whose
 * syntax jsonc-parser cannot follow (unquoted keys, single quotes) is written anew by json5, and
 * loses its comments; `preserved` says which happened.
 */
export function editText(
  original: string,
  previous: unknown,
  next: unknown,
  format: ConfigFormat,
): { text: string; preserved: boolean } {
  // JSON5's unquoted keys and single quotes become JSONC's, so the comments can stay.
  const text = format === "json5" ? json5AsJsonc(original) : original;
  const errors: ParseError[] = [];
  parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const written = format === "json5" ? JSON5.stringify(next, null, 2) : JSON.stringify(next, null, 2);
    return { text: `${written}\n`, preserved: false };
  }
  const formattingOptions = formattingOf(text);
  let result = text;
  for (const [path, value, insert] of differences([], previous, next)) {
    result = applyEdits(result, modify(result, path, value, { formattingOptions, isArrayInsertion: insert }));
  }
  return { text: result, preserved: true };
}

/**
 * JSON5 text in the JSONC subset, comments and layout untouched: unquoted keys get double quotes,
 * single-quoted strings become double-quoted. Other JSON5 syntax (hex numbers, Infinity) is left;
 * jsonc-parser then refuses it, and the file is written anew.
 */
export function json5AsJsonc(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let body = "";
      while (j < text.length && text[j] !== c) {
        if (text[j] === "\\") {
          // A \' needs no escape in double quotes; any other escape stays as it is.
          body += text[j + 1] === "'" ? "'" : text.slice(j, j + 2);
          j += 2;
        } else {
          body += c === "'" && text[j] === '"' ? '\\"' : text[j];
          j++;
        }
      }
      out += `"${body}"`;
      i = j + 1;
    } else if (/[A-Za-z_$]/.test(c)) {
      const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(i))?.[0] ?? c;
      const after = text.slice(i + word.length).match(/^\s*(.)/)?.[1];
      out += after === ":" ? `"${word}"` : word;
      i += word.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

type Change = [path: JSONPath, value: unknown, isArrayInsertion: boolean];

/** The smallest set of edits that turns `a` into `b`, deepest first where they nest. */
function differences(path: JSONPath, a: unknown, b: unknown): Change[] {
  if (isObject(a) && isObject(b)) {
    const changes: Change[] = [];
    for (const key of Object.keys(a)) if (!(key in b)) changes.push([[...path, key], undefined, false]);
    for (const [key, value] of Object.entries(b)) {
      if (!(key in a)) changes.push([[...path, key], value, false]);
      else changes.push(...differences([...path, key], a[key], value));
    }
    return changes;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length === b.length) return a.flatMap((item, i) => differences([...path, i], item, b[i]));
    // Appended items: insert them, so the existing ones (and their comments) stay.
    if (b.length > a.length && a.every((item, i) => same(item, b[i]))) {
      return b.slice(a.length).map((item, i) => [[...path, a.length + i], item, true] as Change);
    }
    // Removed items: drop them from the end backwards, so earlier indexes stay right.
    const kept = subsequenceIndexes(a, b);
    if (kept) {
      return a
        .map((_, i) => i)
        .filter((i) => !kept.has(i))
        .reverse()
        .map((i) => [[...path, i], undefined, false] as Change);
    }
  }
  return same(a, b) ? [] : [[path, b, false]];
}

/** Indexes of `a` that form `b` in order, when `b` is `a` with some items taken out. */
function subsequenceIndexes(a: readonly unknown[], b: readonly unknown[]): Set<number> | undefined {
  const kept = new Set<number>();
  let j = 0;
  for (let i = 0; i < a.length && j < b.length; i++) {
    if (same(a[i], b[j])) {
      kept.add(i);
      j++;
    }
  }
  return j === b.length ? kept : undefined;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The file's own indentation, so inserted lines look like their neighbours. */
function formattingOf(text: string): FormattingOptions {
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? "  ";
  return {
    insertSpaces: !indent.includes("\t"),
    tabSize: indent.includes("\t") ? 1 : indent.length,
    eol: text.includes("\r\n") ? "\r\n" : "\n",
  };
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}
