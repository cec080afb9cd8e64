import { describe, expect, it } from "vitest";
import { editText } from "./config-edit.js";
import { type ConfigFormat, parseText } from "./config-text.js";
import { addEndpointEntry, endpointToAdd, removeEndpointEntry } from "./endpoints.js";
import { setToolSwitch } from "./services.js";

/** One write as the config file makes it: parse, change the raw value, edit the text. */
function write(text: string, format: ConfigFormat, change: (raw: Record<string, unknown>) => void) {
  const before = parseText(text, format);
  const raw = structuredClone(before) as Record<string, unknown>;
  change(raw);
  const edited = editText(text, before, raw, format);
  expect(parseText(edited.text, format)).toEqual(raw);
  return edited;
}

const a = "wss://api.xiaozhi.me/mcp/?token=aaa";
const b = "wss://api.xiaozhi.me/mcp/?token=bbb";
const c = "wss://api.xiaozhi.me/mcp/?token=ccc";
const add = (url: string, name?: string) => (raw: Record<string, unknown>) =>
  addEndpointEntry(raw, endpointToAdd(url, name));
const remove = (url: string) => (raw: Record<string, unknown>) => {
  removeEndpointEntry(raw, endpointToAdd(url).id);
};

const json5 = `// xiaozhi-client's file
{
  mcpEndpoint: [
    '${a}', // 客厅
    '${b}', // 书房
  ],
  mcpServers: {
    calc: { command: 'node', args: ['./calc.js'] }, // 计算器
  },
  customMCP: {
    tools: [
      {
        name: 'weather',
        handler: { type: 'http', url: 'http://127.0.0.1:1/', body_template: '{"city": "{{city}}"}' },
      },
    ],
  },
}
`;

describe("writing a config file as its author wrote it", () => {
  it("adds an endpoint to JSON5 in the file's style: unquoted keys, single quotes, trailing commas", () => {
    const { text, preserved } = write(json5, "json5", add(c, "厨房"));
    expect(preserved).toBe(true);
    expect(text).toBe(
      json5.replace(
        `'${b}', // 书房\n`,
        `'${b}', // 书房\n    {\n      url: '${c}',\n      name: '厨房',\n    },\n`,
      ),
    );
    // Untouched entries keep their bytes: the single-quoted JSON in a string is not re-escaped.
    expect(text).toContain(`body_template: '{"city": "{{city}}"}'`);
  });

  it("gives back the original bytes when an added entry is removed again", () => {
    for (const [text, format] of [
      [json5, "json5"],
      [`{\n\t"mcpEndpoint": [\n\t\t"${a}" // 客厅\n\t]\n}\n`, "json"],
      [`{\n    "mcpEndpoint": ["${a}"], /* one */\n    "webUI": { "port": 9999 }\n}`, "jsonc"],
    ] as const) {
      const added = write(text, format, add(c, "厨房"));
      expect(added.text).not.toBe(text);
      expect(write(added.text, format, remove(c)).text).toBe(text);
    }
  });

  it("keeps a trailing comment on its line and removes an entry with its own comments only", () => {
    const removed = write(json5, "json5", remove(b)).text;
    expect(removed).toBe(json5.replace(`    '${b}', // 书房\n`, ""));
    const commented = `{\n  mcpEndpoint: [\n    // the living room\n    '${a}',\n\n    // the study, heading the rest\n    '${b}', // 书房\n    '${c}', // 厨房\n  ],\n}\n`;
    const first = write(commented, "json5", remove(a)).text;
    expect(first).not.toContain("the living room");
    expect(first).toContain("// the study, heading the rest\n    '");
    expect(first).toContain("// 书房");
    expect(first).toContain("// 厨房");
    const last = write(commented, "json5", remove(c)).text;
    expect(last).toBe(commented.replace(`    '${c}', // 厨房\n`, ""));
  });

  it("switches a tool off and on again in place, adding the sections it needs in the file's style", () => {
    const off = write(json5, "json5", (raw) => setToolSwitch(raw, "calc", "add", false)).text;
    expect(off.startsWith(json5.slice(0, json5.lastIndexOf("}")))).toBe(true);
    expect(off).toMatch(
      /\n {2}mcpServerConfig: \{\n {4}calc: \{\n {6}tools: \{\n {8}add: \{\n {10}enable: false,?\n/,
    );
    expect(off).not.toMatch(/"(mcpServerConfig|calc|tools|add|enable)"/);
    const on = write(off, "json5", (raw) => setToolSwitch(raw, "calc", "add", true)).text;
    expect(on).toBe(off.replace("enable: false", "enable: true"));
  });

  it("keeps JSON and JSONC double-quoted, with the file's indentation", () => {
    const jsonc = `{\n    // agents\n    "mcpEndpoint": [\n        "${a}" // 客厅\n    ]\n}\n`;
    const { text } = write(jsonc, "jsonc", add(b));
    expect(text).toBe(
      `{\n    // agents\n    "mcpEndpoint": [\n        "${a}", // 客厅\n        "${b}"\n    ]\n}\n`,
    );
  });

  it("writes a file anew, saying so, when its JSON5 is beyond in-place editing", () => {
    const text = "// comment\n{ mcpEndpoint: [], connection: { heartbeatInterval: 3e4, weight: .5 } }\n";
    const { text: written, preserved } = write(text, "json5", add(a));
    expect(preserved).toBe(false);
    expect(written).not.toContain("// comment");
  });
});

describe("setting then removing a property, as `password` and `password --remove` do", () => {
  const hash = "scrypt:16384:8:1:salt:hash";
  const set = (raw: Record<string, unknown>) => {
    raw.webUI = { ...(raw.webUI as object), password: hash };
  };
  const unset = (raw: Record<string, unknown>) => {
    delete (raw.webUI as Record<string, unknown>).password;
  };
  const files = [
    [
      "json5",
      `// mine\n{\n  mcpEndpoint: [\n    '${a}', // 客厅\n  ],\n  webUI: { authToken: "some-long-token-value" },\n  mcpServers: {},\n}\n`,
      `webUI: { authToken: "some-long-token-value", password: "${hash}" },`,
    ],
    [
      "json5",
      `{\n  mcpEndpoint: ['${a}'],\n  webUI: { authToken: 'some-long-token-value' }\n}\n`,
      `webUI: { authToken: 'some-long-token-value', password: '${hash}' }\n`,
    ],
    [
      "json",
      `{\n  "mcpEndpoint": ["${a}"],\n  "webUI": {"authToken": "some-long-token-value"}\n}\n`,
      `"webUI": {"authToken": "some-long-token-value", "password": "${hash}"}\n`,
    ],
    ["json5", `{ webUI: { port: 9999, }, }\n`, `{ webUI: { port: 9999, password: "${hash}", }, }\n`],
    ["json", `{ "webUI": {} }`, `{ "webUI": { "password": "${hash}" } }`],
  ] as const;

  it("keeps a one-line object on its line and gives back the original bytes", () => {
    for (const [format, text, line] of files) {
      const added = write(text, format, set);
      expect(added.preserved).toBe(true);
      expect(added.text).toContain(line);
      expect(write(added.text, format, unset).text).toBe(text);
    }
  });

  it("ends an added line with a comma when the file's lists do, and not when they do not", () => {
    const commas = `{\n  mcpEndpoint: [\n    '${a}',\n  ],\n  webUI: {\n    port: 9999,\n  },\n}\n`;
    const bare = `{\n  mcpEndpoint: [\n    '${a}'\n  ],\n  webUI: {\n    port: 9999\n  }\n}\n`;
    expect(write(commas, "json5", set).text).toContain(`    port: 9999,\n    password: '${hash}',\n  },`);
    expect(write(bare, "json5", set).text).toContain(`    port: 9999,\n    password: '${hash}'\n  }`);
    for (const text of [commas, bare]) {
      expect(write(write(text, "json5", set).text, "json5", unset).text).toBe(text);
    }
    const empty = `{\n  mcpEndpoint: [\n    '${a}',\n  ],\n  webUI: {\n  },\n}\n`;
    expect(write(empty, "json5", set).text).toContain(`  webUI: {\n    password: '${hash}',\n  },`);
  });

  it("adds two properties to one one-line object in one write", () => {
    const text = `{\n  "webUI": { "port": 9999 }\n}\n`;
    const both = write(text, "json", (raw) => {
      raw.webUI = { port: 9999, authToken: "t", password: hash };
    });
    expect(both.text).toBe(`{\n  "webUI": { "port": 9999, "authToken": "t", "password": "${hash}" }\n}\n`);
  });
});
