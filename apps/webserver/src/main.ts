#!/usr/bin/env -S node --max-semi-space-size=4
import "reflect-metadata";
import { main } from "./cli.js";
import { flushed } from "./flush.js";

// Exit explicitly: every command has closed what it owns, and a stray handle must not keep the
// process past the promised 5 s. But only once what it printed has left (into a pipe, output is
// written asynchronously, and exiting at once cut a long one off): a reader is waited for.
const code = await main(process.argv.slice(2), process.env);
await flushed([process.stdout, process.stderr]);
process.exit(code);
