import type { Locator, Page } from "playwright-core";
import { expect } from "vitest";

// What the browser tests check on the dashboard, run inside the page. Kept as source text, so what
// runs in Chromium is exactly what is written here, with no helper a test transform might add. The
// two readers at the end (`computed`, `sizeOf`) are one-line reads, as the tests' own are.

/**
 * Product names and codes the Chinese page may show as they are: transport and command names a
 * user types, config values (coze, proxy, http, mcp), units and names (ms, Redis, Unicode).
 */
export const allowedWords: readonly string[] = [
  "stdio",
  "streamable",
  "node",
  "python",
  "npx",
  "coze",
  "proxy",
  "http",
  "mcp",
  "ms",
  "Redis",
  "Unicode",
  // The MCP clients the dashboard names, as their makers write them.
  "Cursor",
  "Claude",
  "Desktop",
  "Cherry",
  "Studio",
];

/**
 * A condition for `page.waitForFunction`, written as an expression. Playwright runs a condition given
 * as a string through eval at every poll, which the dashboard's Content-Security-Policy refuses; a
 * function it sends to the page once.
 */
export const inPage = (expression: string): (() => unknown) =>
  new Function(`return (${expression});`) as () => unknown;

/** How many lines a range of text covers (rects of zero width, such as a cut line's end, aside). */
const linesOf = `(range) => {
  const tops = [];
  for (const r of range.getClientRects()) {
    if (r.width === 0) continue;
    if (!tops.some((t) => Math.abs(t - r.top) < 3)) tops.push(r.top);
  }
  return tops.length;
}`;

const describe = `(el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
  " “" + (el.textContent || el.getAttribute("aria-label") || "").trim().replace(/\\s+/g, " ").slice(0, 50) + "”"`;

const shown = `(el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"`;

const layoutScript = `(() => {
  const linesOf = ${linesOf};
  const describe = ${describe};
  const shown = ${shown};
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    problems.push("the page scrolls sideways: " + root.scrollWidth + " px in a " + root.clientWidth + " px window");
  }
  for (const badge of document.querySelectorAll(".state")) {
    if (!shown(badge)) continue;
    const range = document.createRange();
    range.selectNodeContents(badge);
    if (linesOf(range) > 1) problems.push("a badge on more than one line: " + describe(badge));
  }
  // A word (or a run of Chinese between punctuation) of a heading, a name, a badge, a tool name or a
  // button must sit on one line: cut short with an ellipsis if need be, never broken.
  const words = "th, h1, h2 > span, h3, .name, .state, code, button, .given, label";
  for (const el of document.querySelectorAll(words)) {
    if (!shown(el)) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[^\\s·,，、。：:；;（）()“”]+/gu)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        if (linesOf(range) > 1) problems.push("“" + m[0] + "” broken across lines in " + describe(el));
      }
    }
  }
  // A tap target for a finger (a touch screen, or a narrow one: phone.css) is 40 px, for a mouse 32.
  const min = matchMedia("(max-width: 959px), (pointer: coarse)").matches ? 40 : 32;
  for (const el of document.querySelectorAll("button, input, select, textarea, a[href], summary")) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < min || r.height < min) {
      problems.push("an action smaller than " + min + " × " + min + " px (" + Math.round(r.width) + " × " + Math.round(r.height) + "): " + describe(el));
    }
  }
  return problems;
})()`;

/**
 * What is wrong with the layout as shown: sideways scrolling, a badge on two lines, a word of a
 * heading, name, badge, tool name or button broken across lines, an action under 32 × 32 px (40 ×
 * 40 px on a touch screen or one narrower than 960 px).
 */
export function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(layoutScript) as Promise<string[]>;
}

/**
 * Words an English reader would read that are neither marked as data (`translate="no"`: names,
 * addresses, commands, a far side's own words) nor on the allow-list of product names and codes.
 * Everything counts: text, hidden or not, and titles, placeholders and ARIA labels (less what they
 * quote from data). Identifiers (with `_`, `-`, `.`, `/`, `@` or digits, camelCase, ACRONYMS) and
 * URLs are codes.
 */
export function englishWords(page: Page, allowed: readonly string[]): Promise<string[]> {
  return page.evaluate(`(() => {
    const describe = ${describe};
    const allowed = new Set(${JSON.stringify(allowed.map((w) => w.toLowerCase()))});
    const found = [];
    const check = (text, where) => {
      const words = text.replace(/[a-z][a-z0-9+.-]*:\\/\\/\\S*/gi, " ").match(/[A-Za-z0-9_./@-]+/g) ?? [];
      for (const word of words) {
        const code = /[0-9_./@-]/.test(word) || /[a-z][A-Z]/.test(word) || /^[A-Z]+$/.test(word);
        if (code || word.length < 2 || allowed.has(word.toLowerCase())) continue;
        found.push("“" + word + "” in " + where + ": “" + text.trim().replace(/\\s+/g, " ").slice(0, 80) + "”");
      }
    };
    const exempt = (el) => el.closest('[translate="no"], script, style');
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement && !exempt(node.parentElement)) check(node.data, describe(node.parentElement));
    }
    for (const el of document.querySelectorAll("[title], [placeholder], [aria-label]")) {
      if (exempt(el)) continue;
      for (const attr of ["title", "placeholder", "aria-label"]) {
        let value = el.getAttribute(attr);
        if (!value) continue;
        for (const data of el.querySelectorAll('[translate="no"]')) value = value.replace(data.textContent, " ");
        check(value, attr + " of " + describe(el));
      }
    }
    return found;
  })()`) as Promise<string[]>;
}

/** The fonts Chromium drew the text of `selector`'s element with, and how many glyphs each drew. */
export async function fontsOf(
  page: Page,
  selector: string,
): Promise<{ familyName: string; glyphCount: number }[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send("DOM.enable");
    await cdp.send("CSS.enable");
    const { root } = await cdp.send("DOM.getDocument", {});
    const { nodeId } = await cdp.send("DOM.querySelector", { nodeId: root.nodeId, selector });
    const { fonts } = await cdp.send("CSS.getPlatformFontsForNode", { nodeId });
    return fonts;
  } finally {
    await cdp.detach();
  }
}

/**
 * `node`'s computed `props` (or its `::before`'s), joined by spaces; null when an update rebuilt the
 * table and replaced the node as it was read, so a test polls again rather than read a detached one.
 */
export const computed = (node: Locator, props: string[], pseudo: string | null = null) =>
  node.evaluate(
    (e, [names, p]) => {
      const style = e.ownerDocument.defaultView.getComputedStyle(e, p);
      return e.isConnected ? names.map((name) => style.getPropertyValue(name)).join(" ") : null;
    },
    [props, pseudo] as const,
  );

/** Width and height, rounded, once `node` is there (read again if a rebuilt table replaced it). */
export async function sizeOf(node: Locator): Promise<number[]> {
  let size: number[] | undefined;
  const read = async () => {
    const box = await node.boundingBox({ timeout: 1000 }).catch(() => null);
    size = box ? [Math.round(box.width), Math.round(box.height)] : undefined;
    return size !== undefined;
  };
  await expect.poll(read, { timeout: 15_000 }).toBe(true);
  return size as number[];
}
