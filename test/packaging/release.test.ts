import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { published, root } from "./published.js";

describe("a release dry run", () => {
  it("turns the pending changesets into sane versions and changelogs", () => {
    // A throwaway copy of the workspace's manifests and changesets; the repository is not touched.
    const scratch = mkdtempSync(join(tmpdir(), "xz-release-"));
    const copy = (path: string) => {
      mkdirSync(dirname(join(scratch, path)), { recursive: true });
      cpSync(join(root, path), join(scratch, path), { recursive: true });
    };
    for (const path of ["package.json", "pnpm-workspace.yaml", ".changeset"]) copy(path);
    for (const dir of [...published, "examples/core-demo", "examples/strategy-sticky"])
      copy(`${dir}/package.json`);
    const pending = readdirSync(join(root, ".changeset")).filter(
      (f) => f.endsWith(".md") && f !== "README.md",
    );
    expect(pending.length).toBeGreaterThan(0);
    for (const file of pending) {
      // Frontmatter first, as changesets parses it (a formatter once turned it into a heading).
      expect(readFileSync(join(root, ".changeset", file), "utf8"), file).toMatch(
        /^---\n("@xiaozhi-connect\/[\w-]+": (major|minor|patch)\n)+---\n\n\S/,
      );
    }

    execFileSync(join(root, "node_modules/.bin/changeset"), ["version"], {
      cwd: scratch,
      stdio: "pipe",
      timeout: 60_000,
    });

    const manifest = (dir: string) => JSON.parse(readFileSync(join(scratch, dir, "package.json"), "utf8"));
    for (const dir of published) {
      const { name, version, dependencies = {} } = manifest(dir);
      // Every package has a minor change pending, so 0.0.0 becomes 0.1.0 (no forced 1.0.0).
      expect(version, name).toBe("0.1.0");
      for (const [dependency, range] of Object.entries(dependencies)) {
        // `pnpm pack` turns these into ^0.1.0.
        if (dependency.startsWith("@xiaozhi-connect/"))
          expect(range, `${name} → ${dependency}`).toBe("workspace:^");
      }
      const changelog = readFileSync(join(scratch, dir, "CHANGELOG.md"), "utf8");
      expect(changelog, name).toMatch(new RegExp(`^# ${name}\\n\\n## 0\\.1\\.0\\n\\n### Minor Changes`));
    }
    expect(manifest("examples/core-demo").version).toBe(
      JSON.parse(readFileSync(join(root, "examples/core-demo/package.json"), "utf8")).version,
    );
    expect(
      readdirSync(join(scratch, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md"),
    ).toEqual([]);
    expect(existsSync(join(root, "packages/core/CHANGELOG.md"))).toBe(false);
  });
});
