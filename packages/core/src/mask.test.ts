import { describe, expect, it } from "vitest";
import { endpointId, fingerprint, maskEndpoint, normalizeEndpointUrl, redact } from "./mask.js";

const token =
  "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOjEyMzQ1LCJhZ2VudElkIjo2Nzg5MH0.c2lnbmF0dXJlLXNlY3JldA";
const url = `wss://api.xiaozhi.me/mcp/?token=${token}`;

describe("maskEndpoint", () => {
  it("keeps scheme, host and path and replaces the token with a fingerprint", () => {
    const masked = maskEndpoint(url);
    expect(masked).toBe(`wss://api.xiaozhi.me/mcp/?token=<masked:${fingerprint(token)}>`);
    expect(masked).not.toContain(token.slice(0, 12));
  });

  it("tells endpoints with different tokens apart", () => {
    expect(maskEndpoint(`${url}a`)).not.toBe(maskEndpoint(url));
  });

  it("masks passwords, ports and every query value", () => {
    expect(maskEndpoint("ws://user:secret@127.0.0.1:8004/mcp?key=abc&x=")).toBe(
      `ws://user:<masked>@127.0.0.1:8004/mcp?key=<masked:${fingerprint("abc")}>&x=`,
    );
  });

  it("never echoes an unparseable URL", () => {
    const masked = maskEndpoint(`not a url ${token}`);
    expect(masked).toMatch(/^<invalid url [0-9a-f]{6}>$/);
  });
});

describe("endpointId", () => {
  it("is stable, short and distinct per URL", () => {
    // The same id in every process and release: saved history and API clients refer to it.
    expect(endpointId(url)).toBe("ep-69be434d11cd");
    expect(endpointId(url)).toMatch(/^ep-[0-9a-f]{12}$/);
    const ids = new Set(Array.from({ length: 5000 }, (_, i) => endpointId(`${url}${i}`)));
    expect(ids.size).toBe(5000);
  });

  it("gives the same id however many other URLs came between, and for URLs too long to remember", () => {
    // The ids are remembered by URL, up to a bound: past it, and for what is not remembered, the
    // id is worked out again and must come out the same.
    const first = endpointId(`${url}first`);
    for (let i = 0; i < 60_000; i++) endpointId(`${url}-${i}`);
    expect(endpointId(`${url}first`)).toBe(first);
    expect(endpointId(`  WSS://API.Xiaozhi.ME/mcp/?token=${token}first`)).toBe(first);
    const long = `${url}${"x".repeat(5000)}`;
    expect(endpointId(long)).toBe(endpointId(long));
    expect(endpointId(` ${long}`)).toBe(endpointId(long));
    expect(endpointId(" not a url ")).toBe(endpointId("not a url"));
  });

  it("gives a token escaped two ways one id, and keeps `+` apart from `%2B`", () => {
    // A self-hosted relay's base64 token, as one user writes it and as another escapes it.
    const relay = "ws://127.0.0.1:8004/mcp_endpoint/mcp/?token=";
    const id = endpointId(`${relay}d3A/LR%2BmS~T%3D`);
    expect(endpointId(`${relay}d3A%2FLR%2bmS%7ET%3d`)).toBe(id);
    expect(normalizeEndpointUrl(`${relay}d3A%2FLR%2bmS%7ET%3d`)).toBe(`${relay}d3A/LR%2BmS~T%3D`);
    expect(endpointId(`${relay}d3A/LR+mS~T%3D`)).not.toBe(id);
    expect(endpointId(`${relay}d3A/LR%2BmS~T=`)).not.toBe(id);
    // Older query parsers split at `;`: an escaped one stays escaped in the URL connected to.
    expect(normalizeEndpointUrl(`${relay}ab%3bcd`)).toBe(`${relay}ab%3Bcd`);
    expect(endpointId(`${relay}ab;cd`)).not.toBe(endpointId(`${relay}ab%3Bcd`));
  });
});

describe("redact", () => {
  it("removes tokens, JWTs and bearer credentials from free text and is idempotent", () => {
    const text = `failed ${url} with Authorization: Bearer abc.def-ghi and raw ${token} and ?api_key=k123&x=1`;
    const once = redact(text);
    expect(once).not.toContain(token);
    expect(once).not.toContain("abc.def-ghi");
    expect(once).not.toContain("k123");
    expect(once).toContain("x=1");
    expect(redact(once)).toBe(once);
  });
});

describe("redact, beside maskEndpoint", () => {
  it("masks a URL's password and drops its fragment, as maskEndpoint does", () => {
    const text = "dial failed: wss://user:PASSWORD@relay.test/mcp/?token=abc#SECRETFRAG (again later)";
    const once = redact(text);
    expect(once).not.toContain("PASSWORD");
    expect(once).not.toContain("SECRETFRAG");
    expect(once).toContain("wss://user:<masked>@relay.test/mcp/?token=<masked:");
    expect(once).toContain(" (again later)");
    expect(redact(once)).toBe(once);
    // A password with an `@` in it runs to the last one, as URL parsing reads it.
    expect(redact("ws://me:p@ss@host.test/x")).toBe("ws://me:<masked>@host.test/x");
    // A port is no password.
    expect(redact("ws://host.test:8004/mcp")).toBe("ws://host.test:8004/mcp");
  });

  it("finds the password after a username with an `@` in it, as URL parsing does", () => {
    const text = "ws://me@corp:pass@host.test/x";
    expect(maskEndpoint(text)).toBe("ws://me%40corp:<masked>@host.test/x");
    expect(redact(text)).toBe("ws://me@corp:<masked>@host.test/x");
    expect(redact("ws://a:b@c:d@host.test:1/x?y@z")).toBe("ws://a:<masked>@host.test:1/x?y@z");
    expect(redact("ws://host.test:8004/a@b")).toBe("ws://host.test:8004/a@b");
    expect(redact("ws://me:1234@host.test/x")).toBe("ws://me:<masked>@host.test/x");
    // No username: the password is masked all the same, where maskEndpoint leaves out the `:…@`.
    expect(redact("ws://:pw@host.test/x")).toBe("ws://:<masked>@host.test/x");
    expect(redact(redact(text))).toBe(redact(text));
  });

  it("ends a fragment before the punctuation of the text around the URL", () => {
    expect(redact("(see http://x.test/a#b)")).toBe("(see http://x.test/a)");
    expect(redact("wss://h.test/mcp#frag, next")).toBe("wss://h.test/mcp, next");
    expect(redact("[ws://h.test/a#b] {ws://h.test/a#c}; x")).toBe("[ws://h.test/a] {ws://h.test/a}; x");
    expect(redact('"ws://h.test/a#b"')).toBe('"ws://h.test/a"');
  });

  it("takes no port followed by a list for a password", () => {
    expect(redact("ws://host.test:8004,backup@example.com")).toBe("ws://host.test:8004,backup@example.com");
  });

  it("gives an escaped token the fingerprint maskEndpoint gives it", () => {
    const relay = "ws://127.0.0.1:8004/mcp_endpoint/mcp/?token=Ab%2Bcd%3D%3D";
    const masked = maskEndpoint(relay);
    expect(redact(`connect to ${relay} failed`)).toBe(`connect to ${masked} failed`);
    expect(redact(relay.replace("%2B", "%2b"))).toBe(masked);
    expect(redact(url)).toBe(maskEndpoint(url));
  });
});

describe("normalizeEndpointUrl and endpointId", () => {
  it("gives one identity to every spelling of one endpoint", () => {
    const spellings = [
      `WSS://API.Xiaozhi.ME/mcp/?token=${token}`,
      `wss://api.xiaozhi.me:443/mcp/?token=${token}`,
      `  wss://api.xiaozhi.me/mcp/?&token=${token}&  `,
      `wss://api.xiao\tzhi.me/mcp/?token=${token}`,
      `wss://api.xiaozhi.me/mcp/?token=${token}#fragment`,
    ];
    // Twice: the second answer comes from what was remembered, and must be the first's.
    for (const spelling of [...spellings, ...spellings]) {
      expect(normalizeEndpointUrl(spelling)).toBe(url);
      expect(endpointId(spelling)).toBe(endpointId(url));
      expect(maskEndpoint(normalizeEndpointUrl(spelling))).toBe(maskEndpoint(url));
    }
    expect(endpointId(`${url}x`)).not.toBe(endpointId(url));
    expect(normalizeEndpointUrl("ws://127.0.0.1:80/mcp?a=1&&b=2")).toBe("ws://127.0.0.1/mcp?a=1&b=2");
    expect(normalizeEndpointUrl("ws://127.0.0.1:8004/mcp?")).toBe("ws://127.0.0.1:8004/mcp");
    // A self-hosted relay's tokens are base64, escaped in either case: one token, one endpoint.
    const relay = "ws://127.0.0.1:8004/mcp_endpoint/mcp/?token=Ab%2Bcd%3D%3D";
    expect(endpointId("ws://127.0.0.1:8004/mcp_endpoint/mcp/?token=Ab%2bcd%3d%3d")).toBe(endpointId(relay));
    expect(normalizeEndpointUrl("ws://127.0.0.1:8004/mcp_endpoint/mcp/?token=Ab%2bcd%3d%3d")).toBe(relay);
  });

  it("refuses what is not a URL", () => {
    for (let i = 0; i < 2; i++) {
      expect(() => normalizeEndpointUrl("not a url")).toThrow();
      expect(endpointId("not a url")).toMatch(/^ep-[0-9a-f]{12}$/);
      expect(maskEndpoint("not a url")).toMatch(/^<invalid url [0-9a-f]{6}>$/);
    }
  });
});
