import { createRequire } from "node:module";
import { XiaozhiError } from "@xiaozhi-connect/core";
import { type ParseError, parse, printParseErrorCode } from "jsonc-parser";

const require = createRequire(import.meta.url);

/** json5, loaded for the files that need it (`.json5` ones) rather than by every start. */
export function json5(): typeof import("json5") {
  return require("json5") as typeof import("json5");
}

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
      return json5().parse(text);
    } catch (error) {
      throw new XiaozhiError("INVALID_CONFIG", `config is not valid JSON5${json5Where(error)}`);
    }
  }
  // Most files are plain JSON, which the engine reads several times faster than jsonc-parser (at ten
  // thousand endpoints, about 10 ms against 30–65). Comments, trailing commas and errors to locate
  // go on.
  try {
    return JSON.parse(text);
  } catch {}
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
 * Where json5 stopped, and at what when it is a character of the syntax (`}`, `,`, a quote): one
 * that may be part of a value (a token's) is not shown.
 */
function json5Where(error: unknown): string {
  const { lineNumber, columnNumber, message } = error as {
    lineNumber?: number;
    columnNumber?: number;
    message?: string;
  };
  if (/invalid end of input/.test(message ?? "")) return " (it ends too early)";
  if (!lineNumber) return "";
  const found = /invalid character '\\?([{}[\]:,;"'])'/.exec(message ?? "")?.[1];
  return ` at line ${lineNumber}, column ${columnNumber}${found ? `: unexpected \`${found}\`` : ""}`;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}
