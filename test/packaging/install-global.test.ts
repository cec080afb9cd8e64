import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { root } from "./published.js";

let uninstallHint: (prefix?: string) => string;

beforeAll(async () => {
  // The script is plain JavaScript with no declarations: its one export here is typed by hand.
  const installer = pathToFileURL(join(root, "scripts/install-global.mjs")).href;
  ({ uninstallHint } = (await import(installer)) as { uninstallHint: typeof uninstallHint });
});

describe("the uninstall hint `install-global` prints", () => {
  it("names the prefix the command was installed into, and none when npm's own was used", () => {
    expect(uninstallHint(undefined)).toBe("npm uninstall --global @xiaozhi-connect/webserver");
    expect(uninstallHint("/home/me/.local")).toBe(
      "npm uninstall --global --prefix /home/me/.local @xiaozhi-connect/webserver",
    );
  });

  it("quotes a prefix so a shell reads it back as the same one word", () => {
    const dir = mkdtempSync(join(tmpdir(), "xz-hint-"));
    for (const prefix of ["/tmp/my tools", "/tmp/it's $HOME `x`", '/tmp/a"b;c']) {
      const hint = uninstallHint(prefix);
      // What a shell makes of the hint, each argument on its own line.
      const script = join(dir, "args.sh");
      writeFileSync(script, `printf '%s\\n' ${hint.replace(/^npm /, "")}`);
      const words = execFileSync("sh", [script], { encoding: "utf8" }).split("\n").slice(0, -1);
      expect(words, hint).toEqual([
        "uninstall",
        "--global",
        "--prefix",
        prefix,
        "@xiaozhi-connect/webserver",
      ]);
    }
    expect(uninstallHint("/tmp/my tools")).toContain(" --prefix '/tmp/my tools' ");
  });
});
