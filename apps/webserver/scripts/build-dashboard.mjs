// Builds the dashboard users get (dist/dashboard.html): its modules bundled into one script and its
// style sheets joined into one, both inline in the page, so it loads in a single request. Measured
// on the dashboard bench at 1,000 endpoints: a dozen separate module and style requests delayed the
// first full render by a quarter of a second, the server being busy with the snapshot meanwhile. The
// module that opens the event stream is a script of its own in the head, so the request goes out
// before the rest of the page is parsed. The server allows the inline blocks by their hashes, and
// nothing else inline. The sources in public/ stay plain modules: the server serves them as they
// are when it runs from src/ (tests).
import { readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";

const publicDir = new URL("../public/", import.meta.url);
const html = await readFile(new URL("index.html", publicDir), "utf8");

const sheets = [...html.matchAll(/<link rel="stylesheet" href="([^"]+)">\n/g)];
const css = (await Promise.all(sheets.map((m) => readFile(new URL(m[1], publicDir), "utf8")))).join("\n");

const entry = /<script type="module" src="([^"]+)"><\/script>\n/.exec(html);
const early = /<script type="module" async src="([^"]+)"><\/script>\n/.exec(html);
if (!entry || !early || sheets.length === 0)
  throw new Error("public/index.html: no module script, no early script or no style sheet to build");
const earlyPath = fileURLToPath(new URL(early[1], publicDir));
const earlyName = "xiaozhiStream";

/**
 * One IIFE of `input`: the early module itself (its exports as a global), or, with `external`, a
 * bundle that reads the early module from that global.
 */
async function bundleOf(input, options = {}) {
  const bundle = await rolldown({ input, ...options });
  const { output } = await bundle.generate({
    format: "iife",
    ...(options.external ? { globals: () => earlyName } : { name: earlyName }),
  });
  await bundle.close();
  return output[0].code;
}
// The early module (it opens the event stream) runs from the head, before the body is parsed: the
// server makes the snapshot while the page loads. The rest imports it through its global.
const earlyJs = await bundleOf(earlyPath);
const js = await bundleOf(fileURLToPath(new URL(entry[1], publicDir)), {
  external: (id, importer) => (importer ? resolve(dirname(importer), id) : id) === earlyPath,
});

// Inline, a closing tag inside the code would end the block early.
if (/<\/script/i.test(js + earlyJs) || /<\/style/i.test(css))
  throw new Error("a closing tag inside the dashboard's code");
const page = html
  .replace(/<link rel="stylesheet" href="[^"]+">\n/g, "")
  .replace(early[0], () => `<script>${earlyJs}</script>\n`)
  .replace(/<script type="module"[^>]*><\/script>\n/g, "")
  .replace(/<!--[^>]*-->\n/g, "")
  .replace(/<link rel="modulepreload" href="[^"]+">\n/g, "")
  .replace("</head>", () => `<style>${css}</style>\n</head>`)
  // At the end of the body, as a classic script: it runs as soon as the page is parsed.
  .replace("</body>", () => `<script>${js}</script>\n</body>`);
if (/<script [^>]*src=|<link rel="(stylesheet|modulepreload)"/.test(page)) {
  throw new Error("public/index.html refers to a file the build did not inline");
}
await writeFile(new URL("../dist/dashboard.html", import.meta.url), page);
