import { createRequire } from "node:module";
import type { JsonArray, JsonObject, Node, ObjectProp, RootNode } from "jsonc-morph";
import { type ConfigFormat, json5 } from "./config-text.js";

/** jsonc-morph, loaded by the first edit of a config file rather than by every start. */
const require = createRequire(import.meta.url);

/**
 * Rewrites `text` so it holds `next`, changing only what differs from `previous` (both parsed from
 * `text`). The file stays as its author wrote it: unquoted keys, quote style, trailing commas,
 * indentation and every comment elsewhere. A removed entry takes its own comments (the line above
 * it and the rest of its line) and no others; an added one is written in the style the file uses,
 * so adding then removing an entry gives back the original bytes. The edits are made on a concrete
 * syntax tree (jsonc-morph), which reads JSON, JSONC and the JSON5 that config files use. A file it
 * cannot read the way `previous` says (JSON5's `Infinity`, `.5`, line continuations) is written
 * anew, losing its comments; `preserved` says which happened.
 */
export function editText(
  original: string,
  previous: unknown,
  next: unknown,
  format: ConfigFormat,
): { text: string; preserved: boolean } {
  const anew = () => {
    const written = format === "json5" ? json5().stringify(next, null, 2) : JSON.stringify(next, null, 2);
    return { text: `${written}\n`, preserved: false };
  };
  const parse = (text: string) => (require("jsonc-morph") as typeof import("jsonc-morph")).parse(text);
  let root: RootNode;
  try {
    root = parse(original);
    // Both readers must agree on what the file says before it is edited in place.
    if (!same(root.toValue(), previous)) return anew();
  } catch {
    return anew();
  }
  const style = styleOf(root);
  for (const [path, value, insert] of differences([], previous, next)) {
    const outcome = apply(root, path, value, insert, style);
    if (!outcome) return anew();
    // An object was rewritten as text, so the tree no longer knows its insides: read it again.
    if (outcome === "rewritten") root = parse(root.toString());
  }
  return { text: root.toString(), preserved: true };
}

/** How many keys and strings (counted together) tell the file's style. */
const styleSample = 400;

type Path = readonly (string | number)[];
type Change = [path: Path, value: unknown, isArrayInsertion: boolean];

/** How the file writes keys and strings, so what is added looks like what is there. */
interface Style {
  readonly unquotedKeys: boolean;
  readonly quote: "'" | '"';
  /** Multi-line objects and arrays end with a comma. */
  readonly trailingCommas: boolean;
}

/**
 * Applies one change to the tree: `"rewritten"` when it replaced an object's nodes with text (the
 * tree must be parsed again), false when its place cannot be found (the file is then written anew).
 */
function apply(
  root: RootNode,
  path: Path,
  value: unknown,
  insert: boolean,
  style: Style,
): boolean | "rewritten" {
  const key = path.at(-1);
  const parent = path.length === 0 ? undefined : containerAt(root, path.slice(0, -1));
  if (key === undefined || !parent) return false;
  // In a container written on one line, an added object or array stays on that line too.
  const inline = isContainer(value) && !(parent.children() as Node[]).some((c) => c.isNewline());
  const added = inline ? "" : value;
  const settle = (node: Node) => {
    if (inline) node.asStringLitOrThrow().setRawValue(compact(value, style));
    else restyle(node, style);
  };
  // An empty container has no comma style of its own: its first entry takes the file's.
  const commas = (empty: boolean) => {
    if (empty && style.trailingCommas && isMultiline(parent)) parent.setTrailingCommas(true);
  };
  if ("elements" in parent) {
    if (typeof key !== "number") return false;
    if (insert) {
      const empty = parent.elements().length === 0;
      settle(key >= parent.elements().length ? parent.append(added) : parent.insert(key, added));
      commas(empty);
      return true;
    }
    const element = parent.elements()[key] as Node | undefined;
    if (!element) return false;
    if (value === undefined) {
      removeLeadingComments(element);
      element.remove();
    } else restyle(replace(element, value), style);
    return true;
  }
  const property = parent.get(String(key)) as ObjectProp | undefined;
  if (value === undefined) {
    if (property) {
      removeLeadingComments(property);
      property.remove();
    }
    return true;
  }
  if (!property) {
    const line = isMultiline(parent) ? undefined : withProperty(parent, String(key), value, style);
    if (line !== undefined) {
      (parent.replaceWith("") as Node).asStringLitOrThrow().setRawValue(line);
      return "rewritten";
    }
    const empty = parent.properties().length === 0;
    const made = parent.append(String(key), added) as ObjectProp;
    restyleName(made, style);
    settle(made.valueOrThrow());
    commas(empty);
    return true;
  }
  restyle(replace(property.valueOrThrow(), value), style);
  return true;
}

function isMultiline(container: JsonObject | JsonArray): boolean {
  return (container.children() as Node[]).some((child) => child.isNewline());
}

/**
 * The text of a one-line object with `key` added at its end, still on one line (jsonc-morph would
 * spread the object over lines): `{ a: 1 }` → `{ a: 1, key: value }`, `{}` → `{ key: value }`. Removing
 * the property again gives the original text back. Undefined for an empty object holding comments.
 */
function withProperty(object: JsonObject, key: string, value: unknown, style: Style): string | undefined {
  const children = object.children() as Node[];
  const texts = children.map((child) => child.toString());
  const entry = `${nameOf(key, style)}: ${compact(value, style)}`;
  const last = (object.properties() as ObjectProp[]).at(-1);
  if (!last) {
    const inside = children.slice(1, -1);
    return inside.every((child) => child.isWhitespace()) ? `{ ${entry} }` : undefined;
  }
  let at = last.childIndex();
  let next = at + 1;
  while (children[next]?.isTrivia()) next++;
  // A trailing comma stays trailing: the entry goes after it, with one of its own.
  if (children[next]?.isComma()) {
    at = next;
    texts[at] += ` ${entry},`;
  } else texts[at] += `, ${entry}`;
  return texts.join("");
}

/** The object or array at `path`, or undefined when the path leads elsewhere. */
function containerAt(root: RootNode, path: Path): JsonObject | JsonArray | undefined {
  let node: JsonObject | JsonArray | undefined = root.asObject() ?? root.asArray();
  for (const step of path) {
    if (!node) return undefined;
    const child: Node | undefined =
      "elements" in node
        ? (node.elements()[step as number] as Node | undefined)
        : (node.get(String(step)) as ObjectProp | undefined)?.valueOrThrow();
    node = child?.asObject() ?? child?.asArray();
  }
  return node;
}

function replace(node: Node, value: unknown): Node {
  const typed =
    node.asObject() ??
    node.asArray() ??
    node.asStringLit() ??
    node.asNumberLit() ??
    node.asBooleanLit() ??
    node.asNullKeyword() ??
    node.asWordLit();
  return typed.replaceWith(value) as Node;
}

/**
 * Removes the comments written on their own lines right above `node` (no blank line between): they
 * describe it and go with it. A comment after the previous entry on its line stays with that entry.
 */
function removeLeadingComments(node: Node | ObjectProp): void {
  let at = node.previousSibling() as Node | undefined;
  if (at?.isWhitespace()) at = at.previousSibling();
  // Line by line upwards: [break][indent]comment[spaces][break][indent]node.
  while (at?.isNewline()) {
    const lineEnd = at;
    let previous = lineEnd.previousSibling() as Node | undefined;
    const spaces = previous?.isWhitespace() ? previous : undefined;
    if (spaces) previous = previous?.previousSibling();
    if (!previous?.isComment()) return;
    const comment = previous;
    let before = comment.previousSibling() as Node | undefined;
    const indent = before?.isWhitespace() ? before : undefined;
    if (indent) before = before?.previousSibling();
    // A comment that shares its line with something else belongs to that.
    if (!before?.isNewline()) return;
    lineEnd.remove();
    spaces?.remove();
    comment.remove();
    indent?.remove();
    // A blank line above ends the run: that comment heads a group, not this entry.
    at = before;
  }
}

/**
 * The file's key and quote style: what most of its keys and strings use, from the first few hundred
 * (each node looked at is an object of the parser's own, freed only by the garbage collector: a
 * walk of a list of ten thousand endpoints cost a second and tens of megabytes on every edit).
 */
function styleOf(root: RootNode): Style {
  let unquoted = 0;
  let quoted = 0;
  let single = 0;
  let double = 0;
  const enough = () => unquoted + quoted + single + double >= styleSample;
  const visit = (node: Node) => {
    for (let i = 0; !enough(); i++) {
      const child = node.childAtIndex(i) as Node | undefined;
      if (!child) return;
      if (child.asWordLit() && isName(child)) unquoted++;
      else if (child.isString()) {
        if (isName(child)) quoted++;
        if (child.asStringLitOrThrow().rawValue().startsWith("'")) single++;
        else double++;
      } else if (!child.isTrivia() && !child.isToken()) visit(child);
    }
  };
  visit(root as unknown as Node);
  return {
    unquotedKeys: unquoted > quoted,
    quote: single > double ? "'" : '"',
    trailingCommas: root.usesTrailingCommas(),
  };
}

/** True for a key: the next thing written after it is the colon. */
function isName(node: Node): boolean {
  let next = node.nextSibling() as Node | undefined;
  while (next?.isTrivia()) next = next.nextSibling();
  return next?.isToken() === true && next.tokenChar() === ":";
}

/** Writes an added value's keys and strings as the rest of the file writes them. */
function restyle(node: Node, style: Style): void {
  const object = node.asObject();
  if (object) {
    for (const property of object.properties() as ObjectProp[]) {
      restyleName(property, style);
      restyle(property.valueOrThrow(), style);
    }
    return;
  }
  const array = node.asArray();
  if (array) {
    for (const element of array.elements() as Node[]) restyle(element, style);
    return;
  }
  if (node.isString() && style.quote === "'") {
    node.asStringLitOrThrow().setRawValue(quoted(node.asStringOrThrow(), "'"));
  }
}

function restyleName(property: ObjectProp, style: Style): void {
  const name = (property.children() as Node[]).find((c) => c.isString());
  if (!name) return;
  const text = name.asStringOrThrow();
  if (style.unquotedKeys && /^[A-Za-z_][A-Za-z0-9_]*$/.test(text))
    name.asStringLitOrThrow().setRawValue(text);
  else if (style.quote === "'") name.asStringLitOrThrow().setRawValue(quoted(text, "'"));
}

/** `value` on one line, `{ key: 'value' }`, in the file's key and quote style. */
function compact(value: unknown, style: Style): string {
  if (Array.isArray(value)) return `[${value.map((item) => compact(item, style)).join(", ")}]`;
  if (isObject(value)) {
    const entries = Object.entries(value).map(
      ([key, item]) => `${nameOf(key, style)}: ${compact(item, style)}`,
    );
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  }
  return typeof value === "string" ? quoted(value, style.quote) : JSON.stringify(value);
}

/** A key as the file writes keys: bare when it can be and the file's keys are, else quoted. */
function nameOf(key: string, style: Style): string {
  return style.unquotedKeys && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : quoted(key, style.quote);
}

function isContainer(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}

/** A JSON5 single-quoted string: JSON's escapes, with `'` escaped instead of `"`. */
function quoted(text: string, quote: "'" | '"'): string {
  const json = JSON.stringify(text);
  if (quote === '"') return json;
  return `'${json.slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

/** The smallest set of edits that turns `a` into `b`, deepest first where they nest. */
function differences(path: Path, a: unknown, b: unknown): Change[] {
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
