export { type MemoryBehavior, MemoryConnection, MemoryNetwork } from "./memory-connection.js";
