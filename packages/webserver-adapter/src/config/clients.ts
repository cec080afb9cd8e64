import { z } from "zod";

/**
 * One MCP client (an editor, a desktop assistant) allowed on the WebServer's `/mcp` route: its
 * name, the bearer token it sends, and, like an endpoint, optional `services` / `tools` limits.
 */
export const mcpClientSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, dots, dashes or underscores"),
  token: z.string().min(24, "must be at least 24 characters"),
  services: z.array(z.string().min(1)).optional(),
  tools: z.array(z.string().min(1)).optional(),
});

export type McpClientConfig = z.infer<typeof mcpClientSchema>;

/** The `clients` block: names and tokens unique, so a token names one client. */
export const mcpClientsSchema = z
  .array(mcpClientSchema)
  .superRefine((clients, ctx) => {
    const names = new Set<string>();
    const tokens = new Set<string>();
    clients.forEach((client, i) => {
      if (names.has(client.name))
        ctx.addIssue({ code: "custom", path: [i, "name"], message: "is used twice" });
      if (tokens.has(client.token)) {
        ctx.addIssue({ code: "custom", path: [i, "token"], message: "is used by another client" });
      }
      names.add(client.name);
      tokens.add(client.token);
    });
  })
  .optional();
