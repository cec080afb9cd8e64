// The page's two languages and how text is made from them. No DOM here: tests load it in Node.
import en from "./messages-en.js";
import zhCN from "./messages-zh-CN.js";

/** Every dictionary, by language tag. */
export const dictionaries = { en, "zh-CN": zhCN };

// Mainland China's time zones: a browser there that asks only for English most likely belongs to
// someone who reads Chinese and never changed the browser's language.
const chinaTimeZones = new Set([
  "Asia/Shanghai",
  "Asia/Chongqing",
  "Asia/Chungking",
  "Asia/Harbin",
  "Asia/Urumqi",
  "PRC",
]);

/**
 * The language to show: `?lang=` in the address, then the one picked before, then any Chinese in
 * the browser's languages, then a mainland China time zone (a name, or a function that reads it);
 * else English.
 */
export function pickLanguage({ query, saved, languages = [], timeZone = "" }) {
  for (const choice of [query, saved]) if (choice && Object.hasOwn(dictionaries, choice)) return choice;
  if (languages.some((l) => /^zh\b/i.test(l))) return "zh-CN";
  // A function is asked only now: reading the time zone loads the browser's locale data, tens of ms.
  if (chinaTimeZones.has(typeof timeZone === "function" ? timeZone() : timeZone)) return "zh-CN";
  return "en";
}

let current = "en";
// Entries and parsed templates of the current language, by path: rows ask for the same few
// thousands of times during a reconnect storm.
let entries = new Map();
let templates = new Map();

/** The language the page is in. */
export const lang = () => current;

export function setLanguage(tag) {
  current = Object.hasOwn(dictionaries, tag) ? tag : "en";
  entries = new Map();
  templates = new Map();
}

const find = (dictionary, path) => path.split(".").reduce((node, key) => node?.[key], dictionary);

/** The entry at a dotted path (`reasons.close1006`) in the current language, else in English. */
export function lookup(path) {
  let entry = entries.get(path);
  if (entry === undefined && !entries.has(path)) {
    entry = find(dictionaries[current], path) ?? find(en, path);
    entries.set(path, entry);
  }
  return entry;
}

/**
 * The path of the form a template takes for `values.count`: an entry that says a count may be
 * `{ one, other }` ("1 tool", "2 tools"); a string serves every count.
 */
function formOf(path, values) {
  const entry = lookup(path);
  if (entry === null || typeof entry !== "object" || !("other" in entry)) return path;
  return `${path}.${values.count === 1 ? "one" : "other"}`;
}

/** A template as its text and the names of its holes in turn: `["in ", "time", " (", …]`. */
function parsed(path) {
  let parts = templates.get(path);
  if (!parts) {
    const template = lookup(path);
    parts = typeof template === "string" ? template.split(/\{(\w+)\}/) : null;
    templates.set(path, parts);
  }
  return parts;
}

/**
 * A template filled in as segments: strings, and `{ data }` for values that are the user's or a
 * far side's words (names, addresses, output), which the page marks as not to be translated.
 * A value may itself be segments.
 */
export function format(path, values = {}) {
  const parts = parsed(formOf(path, values));
  if (!parts) return [path];
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    // Even indices are text, odd ones the names of holes.
    if (i % 2 === 0) {
      if (parts[i]) out.push(parts[i]);
      continue;
    }
    const value = values[parts[i]];
    if (Array.isArray(value)) out.push(...value);
    else if (value != null) out.push(typeof value === "object" ? value : String(value));
  }
  return out;
}

/** Segments as plain text. */
export const plain = (segments) => segments.map((s) => (typeof s === "string" ? s : s.data)).join("");

/** A template filled in as plain text. */
export function t(path, values = {}) {
  const parts = parsed(formOf(path, values));
  if (!parts) return path;
  if (parts.length === 1) return parts[0];
  let text = "";
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) text += parts[i];
    else {
      const value = values[parts[i]];
      if (Array.isArray(value)) text += plain(value);
      else if (value != null) text += typeof value === "object" ? value.data : String(value);
    }
  }
  return text;
}

/** A word of a group (`states`, `parts`), or the key itself when the group lacks it. */
export const word = (group, key) => lookup(`${group}.${key}`) ?? key;

/** `{ data }`: a value shown as it is. */
export const data = (text) => ({ data: String(text) });
