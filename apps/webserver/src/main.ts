#!/usr/bin/env -S node --max-semi-space-size=4
import "reflect-metadata";
import { main } from "./cli.js";

// Exit explicitly: every command has closed what it owns, and a stray handle must not keep the
// process past the promised 5 s.
process.exit(await main(process.argv.slice(2), process.env));
