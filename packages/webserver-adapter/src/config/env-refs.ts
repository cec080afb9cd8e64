import { XiaozhiError } from "@xiaozhi-connect/core";

/**
 * `${NAME}` in any string of the config is the environment variable NAME, so a token or a key can
 * stay out of the file (a container, a shared machine). `$${NAME}` is a literal `${NAME}`. The file
 * keeps the reference: every write edits the raw text, never the resolved value.
 */
const reference = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** One string of the config that takes a value from the environment. */
export interface EnvReference {
  /** Where, as config errors name fields: `mcpEndpoint[0].url`. */
  readonly path: string;
  /** The variables it reads. */
  readonly variables: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A copy of `value` with every reference resolved from `env`. Throws `INVALID_CONFIG` naming every
 * field whose variable is not set (and the variable, never a value).
 */
export function resolveEnvRefs(value: unknown, env: Env = process.env): unknown {
  const missing: string[] = [];
  const resolved = walk(value, "", (text, path) =>
    text.replace(reference, (whole, escaped: string, name: string) => {
      if (escaped) return whole.slice(1);
      const found = env[name];
      if (found === undefined) {
        missing.push(`${path || "(root)"}: environment variable ${name} is not set`);
        return "";
      }
      return found;
    }),
  );
  if (missing.length > 0) throw new XiaozhiError("INVALID_CONFIG", `invalid config: ${missing.join("; ")}`);
  return resolved;
}

/** One string resolved, or undefined when a variable it reads is not set. */
export function resolveEnvString(text: string, env: Env = process.env): string | undefined {
  try {
    return resolveEnvRefs(text, env) as string;
  } catch {
    return undefined;
  }
}

/** Every string of `value` that reads the environment, with the variables it reads. */
export function envReferences(value: unknown): EnvReference[] {
  const found: EnvReference[] = [];
  walk(value, "", (text, path) => {
    const variables = [...text.matchAll(reference)].filter((m) => !m[1]).map((m) => m[2] as string);
    if (variables.length > 0) found.push({ path, variables });
    return text;
  });
  return found;
}

function walk(value: unknown, path: string, onString: (text: string, path: string) => string): unknown {
  if (typeof value === "string") return value.includes("${") ? onString(value, path) : value;
  if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}[${i}]`, onString));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, walk(item, path ? `${path}.${key}` : key, onString)]),
    );
  }
  return value;
}
