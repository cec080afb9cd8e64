import { networkInterfaces } from "node:os";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { hostGuard } from "../src/index.js";

// Which Host a server answers to, as `webUI.host` and `webUI.allowedHosts` set it.
function app(host: string, allowedHosts?: readonly string[]) {
  const hono = new Hono();
  hono.use(hostGuard({ host, ...(allowedHosts ? { allowedHosts } : {}) }));
  hono.get("/", (c) => c.text("ok"));
  return async (name: string) => (await hono.request("/", { headers: { host: `${name}:9999` } })).status;
}

/** This machine's addresses beyond loopback, as a Host header writes them. */
const own = Object.values(networkInterfaces())
  .flat()
  .filter((a) => a !== undefined && !a.internal)
  .map((a) => (a?.family === "IPv6" ? `[${a.address}]` : (a?.address as string)));

describe("the Host a server answers to", () => {
  it("bound to every address with allowedHosts: the listed names, loopback and this machine's own addresses", async () => {
    const status = app("0.0.0.0", ["nas.lan"]);
    expect(await status("nas.lan")).toBe(200);
    expect(await status("127.0.0.1")).toBe(200);
    expect(await status("evil.example")).toBe(403);
    // An address of another machine is no name of this one.
    expect(await status("203.0.113.7")).toBe(403);
    // The link printed at start is at one of these (the machine has one beyond loopback here).
    expect(own.length).toBeGreaterThan(0);
    for (const address of own)
      expect({ address, status: await status(address) }).toEqual({ address, status: 200 });
  });

  it("bound to loopback: loopback names only, as before", async () => {
    const status = app("127.0.0.1");
    expect(await status("localhost")).toBe(200);
    for (const address of own) expect(await status(address)).toBe(403);
  });
});
