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

/**
 * Splits stdout into JSON-RPC lines in linear time, refusing any line longer than `maxLineBytes`
 * (the SDK's buffer copies the whole pending text on every chunk: quadratic on one huge line).
 */
class LineBuffer {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #lines: Buffer[] = [];

  constructor(private readonly maxLineBytes: number) {}

  append(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      this.#check(end - start);
      const piece = chunk.subarray(start, end);
      this.#lines.push(this.#pending.length ? Buffer.concat([...this.#pending, piece]) : piece);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = end + 1;
    }
    if (start < chunk.length) {
      this.#check(chunk.length - start);
      this.#pending.push(chunk.subarray(start));
      this.#pendingBytes += chunk.length - start;
    }
  }

  readMessage(): JSONRPCMessage | null {
    const line = this.#lines.shift();
    return line === undefined ? null : deserializeMessage(line.toString("utf8").replace(/\r$/, ""));
  }

  clear(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#lines = [];
  }

  #check(more: number): void {
    if (this.#pendingBytes + more <= this.maxLineBytes) return;
    this.clear();
    throw new LineTooLongError(`the service wrote a line longer than ${this.maxLineBytes} bytes to stdout`);
  }
}

export interface ServiceStdioParameters extends Omit<StdioServerParameters, "stderr"> {
  /** Longest stdout line accepted; a longer one ends the service. Default 8 MiB. */
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
