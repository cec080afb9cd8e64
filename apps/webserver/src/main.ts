#!/usr/bin/env node
import "reflect-metadata";
import { run } from "./cli.js";

// Exit explicitly: shutdown has closed everything it owns, and a stray handle must not keep the
// process past the promised 5 s.
process.exit(await run(process.argv.slice(2), process.env));
