import type { ChildProcess } from "node:child_process";
import { StdioClientTransport, type StdioServerParameters } from "@modelcontextprotocol/sdk/client/stdio.js";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { redact, XiaozhiError } from "@xiaozhi-connect/core";
import { childProcessOf, replaceReadBuffer } from "@xiaozhi-connect/sdk-bridge";

/** The default bound on one line a stdio service writes: far above any real message. */
export const defaultMaxLineBytes = 8 * 1024 * 1024;

/** How much of a service's stderr is kept to explain why it went down. */
const stderrTailBytes = 2048;

/** Every stdio service of this process whose child may still run, so none can outlive it. */
const liveServices = new Set<ServiceStdioTransport>();

/**
 * Kills (SIGKILL) every stdio service process still running, synchronously. For exits that cannot
 * wait for a graceful stop (a second signal, a shutdown past its deadline): no child outlives the
 * process that started it.
 */
export function killServiceProcesses(): number {
  let killed = 0;
  for (const service of liveServices) if (service.kill()) killed++;
  liveServices.clear();
  return killed;
}

/** Why a line was refused: the service is ended with this as its reason. */
export class LineTooLongError extends Error {
  override readonly name = "LineTooLongError";
}

/** How many bytes of a skipped line's start and end are kept to find its id. */
const edgeBytes = 256;

/** How many times `maxLineBytes` a result line may run before it is taken for one that never ends. */
const skipFactor = 16;

/** The error code of the answer that stands in for a result too large to read. */
export const resultTooLargeCode = -32603;

const idValue = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
// A response's leading members before `result` (`{"jsonrpc":"2.0","id":7,"result":` or `{"result":`).
const resultHead = /^\s*\{((?:\s*"(?:jsonrpc|id)"\s*:\s*(?:-?\d+|"(?:[^"\\]|\\.)*")\s*,)*)\s*"result"\s*:/;
const headId = new RegExp(String.raw`"id"\s*:\s*${idValue}`);
// The SDK's servers write `…},"jsonrpc":"2.0","id":7}`: the id closes the line.
const tailId = new RegExp(String.raw`"id"\s*:\s*${idValue}\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$`);

/**
 * The id of a response whose line was too long to read, from its first and last bytes; undefined
 * when the line is not recognisably a result (a request or notification from the service).
 */
export function oversizedResultId(head: string, tail: string): string | number | undefined {
  const leading = resultHead.exec(head);
  if (!leading) return undefined;
  const found = headId.exec(leading[1] ?? "") ?? tailId.exec(tail);
  const raw = found?.[1];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as string | number;
  } catch {
    return undefined;
  }
}

/**
 * Splits stdout into JSON-RPC lines in linear time (the SDK's buffer copies the whole pending text
 * on every chunk: quadratic on one huge line). A line longer than `maxLineBytes` is skipped as it
 * streams, never held: when it is a result, its request is answered with an error that names its
 * size and the service keeps running; anything else past the bound ends the service.
 */
class LineBuffer {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #lines: (Buffer | JSONRPCMessage)[] = [];
  /** The line being skipped: its first and last bytes, and its size so far. */
  #skipping: { head: Buffer; tail: Buffer; bytes: number } | undefined;

  constructor(private readonly maxLineBytes: number) {}

  append(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, end);
      start = end + 1;
      if (this.#skipping || this.#pendingBytes + piece.length > this.maxLineBytes) {
        this.#skip(piece);
        this.#skipped();
        continue;
      }
      this.#lines.push(this.#pending.length ? Buffer.concat([...this.#pending, piece]) : piece);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.#skipping || this.#pendingBytes + rest.length > this.maxLineBytes) this.#skip(rest);
      else {
        this.#pending.push(rest);
        this.#pendingBytes += rest.length;
      }
    }
  }

  readMessage(): JSONRPCMessage | null {
    const line = this.#lines.shift();
    if (line === undefined) return null;
    if (!Buffer.isBuffer(line)) return line;
    return deserializeMessage(line.toString("utf8").replace(/\r$/, ""));
  }

  clear(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#lines = [];
    this.#skipping = undefined;
  }

  #skip(piece: Buffer): void {
    if (!this.#skipping) {
      const held = Buffer.concat(this.#pending);
      const head = Buffer.concat([held.subarray(0, edgeBytes), piece.subarray(0, edgeBytes)]).subarray(
        0,
        edgeBytes,
      );
      // Only a result can be answered in its place; anything else that long ends the service.
      if (!resultHead.test(head.toString("utf8"))) this.#refuse(`longer than ${this.maxLineBytes} bytes`);
      this.#skipping = {
        head: Buffer.from(head),
        tail: Buffer.from(held.subarray(-edgeBytes)),
        bytes: held.length,
      };
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    const skipping = this.#skipping;
    skipping.tail = Buffer.concat([skipping.tail, piece.subarray(-edgeBytes)]).subarray(-edgeBytes);
    skipping.bytes += piece.length;
    // A result that never ends is no result: past this the service is ended after all.
    if (skipping.bytes > this.maxLineBytes * skipFactor) {
      this.#refuse(`of more than ${this.maxLineBytes * skipFactor} bytes that did not end`);
    }
  }

  #refuse(what: string): never {
    this.clear();
    throw new LineTooLongError(`the service wrote a line ${what} to stdout`);
  }

  /** The skipped line ended: its request is answered with an error, or the service is ended. */
  #skipped(): void {
    const { head, tail, bytes } = this.#skipping as { head: Buffer; tail: Buffer; bytes: number };
    this.#skipping = undefined;
    const id = oversizedResultId(head.toString("utf8"), tail.toString("utf8"));
    const what = `${bytes} bytes, past the ${this.maxLineBytes}-byte bound on one line from the service (maxLineBytes)`;
    if (id === undefined) this.#refuse(`of ${what}`);
    this.#lines.push({
      jsonrpc: "2.0",
      id,
      error: {
        code: resultTooLargeCode,
        message: `result too large: ${what}; it was not read, and the service keeps running`,
      },
    });
  }
}

export interface ServiceStdioParameters extends Omit<StdioServerParameters, "stderr"> {
  /**
   * Longest stdout line accepted, default 8 MiB. A longer result answers its call with an error that
   * names its size; any other longer line ends the service.
   */
  readonly maxLineBytes?: number;
}

/**
 * The SDK's stdio transport, with three changes: `send` settles only when the bytes were handed to
 * the pipe and fails with `SEND_FAILED` when they could not be (the process is gone: EPIPE), so a
 * replicated service can run such a request on another replica; stdout lines are bounded and split
 * in linear time; and the tail of stderr is kept (tokens redacted) to say why the service died.
 * The first two reach into the SDK through `@xiaozhi-connect/sdk-bridge`; should a release of the
 * SDK move what they use, sends settle as the SDK's do and lines are bounded by the SDK's buffer.
 */
export class ServiceStdioTransport extends StdioClientTransport {
  #stderrTail = "";
  #exit = "";
  #child: ChildProcess | undefined;
  #pid: number | undefined;

  constructor(parameters: ServiceStdioParameters) {
    const { maxLineBytes, ...rest } = parameters;
    const bound = maxLineBytes ?? defaultMaxLineBytes;
    super({ ...rest, stderr: "pipe", maxBufferSize: bound });
    replaceReadBuffer(this, new LineBuffer(bound));
    // Read stderr always: a pipe nobody drains blocks a chatty service.
    this.stderr?.on("data", (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString("utf8")).slice(-stderrTailBytes);
    });
  }

  /** The last lines the service wrote to stderr (at most 2 KiB), tokens redacted; "" when none. */
  get stderrTail(): string {
    return redact(this.#stderrTail.trim());
  }

  /** How the process ended (`exited with code 1`, `killed by SIGKILL`); "" while it runs. */
  get exitDescription(): string {
    return this.#exit;
  }

  override async start(): Promise<void> {
    await super.start();
    liveServices.add(this);
    // Kept here: the SDK forgets its child as soon as `close()` begins, while a stubborn service
    // may still run for seconds, and a second signal must still be able to end it.
    const child = childProcessOf(this);
    this.#pid = child?.pid ?? this.pid ?? undefined;
    if (child) {
      this.#child = child;
      child.once("exit", (code, signal) => {
        liveServices.delete(this);
        this.#exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      });
    } else {
      // The child's stderr ends with it: the one sign of its end a transport shows in public.
      this.stderr?.once("end", () => liveServices.delete(this));
    }
  }

  /** Kills (SIGKILL) the service's process if it still runs; true when a signal was sent. */
  kill(): boolean {
    const child = this.#child;
    if (child) return child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
    if (this.#pid === undefined) return false;
    try {
      process.kill(this.#pid, "SIGKILL");
      return true;
    } catch {
      return false;
    }
  }

  override send(message: JSONRPCMessage): Promise<void> {
    const stdin = childProcessOf(this)?.stdin;
    if (!stdin) return super.send(message);
    if (!stdin.writable) {
      return Promise.reject(new XiaozhiError("SEND_FAILED", "the service's stdin is closed"));
    }
    return new Promise((resolve, reject) => {
      stdin.write(serializeMessage(message), (error) =>
        error
          ? reject(new XiaozhiError("SEND_FAILED", `could not write to the service: ${error.message}`))
          : resolve(),
      );
    });
  }
}
